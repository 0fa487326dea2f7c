import { createHash } from 'node:crypto'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'

import { nodeSha256, nodeSignatureSigner } from '../../../src/adapters/node.js'
import { sha256 } from '../../../src/http/random.js'
import { webCryptoSignatureSigner } from '../../../src/jwt/signer.js'
import { createMemoryStore } from '../../../src/storage/memory.js'
import { signAccessToken } from '../../../src/tokens/access-token.js'
import { SigningKeys } from '../../../src/tokens/keys.js'

const claims = {
  issuer: 'https://as.test',
  subject: 'user-1',
  audience: 'https://mcp.test/mcp',
  clientId: 'client-1',
  scopes: ['files:read'],
  grantId: 'grant-1',
  ttlSeconds: 600,
}

describe.each(['RS256', 'ES256', 'EdDSA'] as const)('access tokens signed with %s', (alg) => {
  it.each([
    ['node:crypto', nodeSignatureSigner],
    ['Web Crypto', webCryptoSignatureSigner],
  ])('through the %s signer verify against the published JWKS', async (_name, signer) => {
    const keys = await SigningKeys.load({
      store: createMemoryStore(),
      algorithm: alg,
      accessTokenTtlSeconds: 3600,
      signer,
    })
    const { token } = await signAccessToken(keys, claims)
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), {
      issuer: claims.issuer,
      audience: claims.audience,
      typ: 'at+jwt',
      algorithms: [alg],
    })
    expect(protectedHeader).toEqual({ alg, kid: keys.current().kid, typ: 'at+jwt' })
    expect(payload).toMatchObject({ sub: 'user-1', client_id: 'client-1', gid: 'grant-1' })
  })
})

describe('nodeSignatureSigner', () => {
  it('refuses a key of another type than the algorithm needs', async () => {
    const store = createMemoryStore()
    // An RSA private key offered for ES256: refused at import, never used to sign.
    const stored = await exportedPrivateJWK(store)
    await expect(nodeSignatureSigner.importKey(stored, 'ES256')).rejects.toThrow(TypeError)
  })
})

describe('nodeSha256', () => {
  it('answers what the core sha256 answers, base64url without padding', async () => {
    for (const text of ['', 'code', 'ünïcode ✓', 'x'.repeat(1000)]) {
      expect(nodeSha256(text)).toBe(await sha256(text))
      expect(nodeSha256(text)).toBe(createHash('sha256').update(text).digest('base64url'))
    }
  })
})

/** An RSA private JWK as the key set stores it (written by a fresh SigningKeys). */
async function exportedPrivateJWK(
  store: ReturnType<typeof createMemoryStore>,
): Promise<JsonWebKey> {
  await SigningKeys.load({ store, accessTokenTtlSeconds: 60 })
  const set = await store.get<{ keys: { privateJwk: JsonWebKey }[] }>('signing-keys')
  const jwk = set?.keys[0]?.privateJwk
  if (!jwk) throw new Error('no stored key')
  return jwk
}
