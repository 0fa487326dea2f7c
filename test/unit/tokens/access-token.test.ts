import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'

import { createMemoryStore } from '../../../src/storage/memory.js'
import { signAccessToken } from '../../../src/tokens/access-token.js'
import type { AccessTokenClaims } from '../../../src/tokens/access-token.js'
import { SigningKeys } from '../../../src/tokens/keys.js'

const NOW = Date.UTC(2026, 0, 1, 12)

let keys: SigningKeys
beforeAll(async () => {
  keys = await SigningKeys.load({ store: createMemoryStore(), accessTokenTtlSeconds: 3600 })
})

function claims(overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  return {
    issuer: 'https://as.test',
    subject: 'user-1',
    audience: 'https://mcp.test/mcp',
    clientId: 'client-1',
    scopes: ['files:read', 'files:write'],
    grantId: 'grant-1',
    ttlSeconds: 600,
    now: () => NOW,
    ...overrides,
  }
}

describe('signAccessToken', () => {
  it('sets the RFC 9068 header: alg, kid and typ at+jwt', async () => {
    const { token } = await signAccessToken(keys, claims())
    expect(decodeProtectedHeader(token)).toEqual({
      alg: 'RS256',
      kid: keys.current().kid,
      typ: 'at+jwt',
    })
  })

  it('sets the registered claims', async () => {
    const { token, jti, expiresAt } = await signAccessToken(keys, claims())
    const iat = NOW / 1000
    expect(decodeJwt(token)).toEqual({
      iss: 'https://as.test',
      sub: 'user-1',
      aud: 'https://mcp.test/mcp',
      client_id: 'client-1',
      scope: 'files:read files:write',
      jti,
      iat,
      exp: iat + 600,
      gid: 'grant-1',
    })
    expect(expiresAt).toBe(iat + 600)
  })

  it('uses a 128-bit base64url jti that differs per token', async () => {
    const a = await signAccessToken(keys, claims())
    const b = await signAccessToken(keys, claims())
    expect(a.jti).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(a.jti).not.toBe(b.jti)
  })

  it('omits scope when no scope was granted', async () => {
    const { token } = await signAccessToken(keys, claims({ scopes: [] }))
    expect(decodeJwt(token)).not.toHaveProperty('scope')
  })

  it('adds extra claims', async () => {
    const { token } = await signAccessToken(keys, claims({ extra: { roles: ['admin'] } }))
    expect(decodeJwt(token).roles).toEqual(['admin'])
  })

  it('never lets extra override a registered claim', async () => {
    const extra = {
      iss: 'https://evil.test',
      aud: 'https://other.test',
      sub: 'admin',
      exp: 9_999_999_999,
      iat: 1,
      nbf: 1,
      jti: 'fixed',
      client_id: 'other',
      scope: 'admin',
      gid: 'other',
    }
    const { token, jti } = await signAccessToken(keys, claims({ extra }))
    const payload = decodeJwt(token)
    expect(payload).toMatchObject({
      iss: 'https://as.test',
      aud: 'https://mcp.test/mcp',
      sub: 'user-1',
      exp: NOW / 1000 + 600,
      iat: NOW / 1000,
      jti,
      client_id: 'client-1',
      scope: 'files:read files:write',
      gid: 'grant-1',
    })
    expect(payload).not.toHaveProperty('nbf')
  })

  it('ignores a __proto__ key in extra', async () => {
    const extra = JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') as Record<
      string,
      unknown
    >
    const { token } = await signAccessToken(keys, claims({ extra }))
    const payload = decodeJwt(token)
    expect(payload.ok).toBe(1)
    expect(payload).not.toHaveProperty('polluted')
  })

  it('produces a token jose verifies against the published JWKS', async () => {
    const { token } = await signAccessToken(keys, claims({ now: Date.now }))
    const { payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), {
      issuer: 'https://as.test',
      audience: 'https://mcp.test/mcp',
      typ: 'at+jwt',
    })
    expect(payload.client_id).toBe('client-1')
  })

  it('throws TypeError for a non-positive ttl or a scope holding a space', async () => {
    await expect(signAccessToken(keys, claims({ ttlSeconds: 0 }))).rejects.toBeInstanceOf(TypeError)
    await expect(signAccessToken(keys, claims({ scopes: ['a b'] }))).rejects.toBeInstanceOf(
      TypeError,
    )
  })
})
