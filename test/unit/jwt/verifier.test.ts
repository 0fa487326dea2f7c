import { beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../../src/adapters/node-crypto.js'
import { OAuthError } from '../../../src/errors.js'
import { webCryptoSignatureVerifier } from '../../../src/jwt/signature.js'
import { JWTVerifier } from '../../../src/jwt/verifier.js'
import type { JWTVerifierOptions } from '../../../src/jwt/verifier.js'
import {
  AUDIENCE,
  ISSUER,
  baseClaims,
  craftToken,
  createTestKey,
  expectRejected,
  signToken,
} from '../../helpers/jwt-fixtures.js'
import type { TestKey } from '../../helpers/jwt-fixtures.js'

let rsa: TestKey
let ec: TestKey
let ed: TestKey

beforeAll(async () => {
  ;[rsa, ec, ed] = await Promise.all([
    createTestKey('RS256'),
    createTestKey('ES256'),
    createTestKey('EdDSA'),
  ])
})

const factories = [
  ['Web Crypto', webCryptoSignatureVerifier],
  ['node:crypto', nodeSignatureVerifier],
] as const

function make(options: Partial<JWTVerifierOptions> = {}): JWTVerifier {
  return new JWTVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [rsa.publicJwk, ec.publicJwk, ed.publicJwk] },
    cache: false,
    ...options,
  })
}

describe.each(factories)('JWTVerifier with %s', (_name, signatureVerifier) => {
  it.each(['RS256', 'ES256', 'EdDSA'])(
    'returns the AccessToken of a valid %s token',
    async (alg) => {
      const key = alg === 'RS256' ? rsa : alg === 'ES256' ? ec : ed
      const token = await signToken(key, { roles: ['admin'], gid: 'grant-7' })
      const result = await make({ signatureVerifier }).verify(token)
      expect(result).toMatchObject({
        token,
        clientId: 'client-1',
        scopes: ['mcp:read', 'mcp:write'],
        resource: AUDIENCE,
        subject: 'user-1',
        issuer: ISSUER,
        roles: ['admin'],
        grantId: 'grant-7',
      })
      expect(result.expiresAt).toBe(result.claims.exp)
      expect(result.claims.jti).toBeTypeOf('string')
    },
  )

  it('rejects a token signed by another key with the same kid', async () => {
    const impostor = await createTestKey('ES256', ec.kid)
    await expectRejected(make({ signatureVerifier }), await signToken(impostor), 'bad_signature')
  })
})

describe('JWTVerifier claims', () => {
  it('matches one of several configured issuers and audiences exactly', async () => {
    const verifier = make({
      issuer: ['https://other.test', ISSUER],
      audience: ['https://a.test', AUDIENCE],
    })
    const result = await verifier.verify(await signToken(ec, { aud: ['https://a.test'] }))
    expect(result.resource).toBe('https://a.test')
    await expectRejected(
      verifier,
      await signToken(ec, { iss: 'https://third.test' }),
      'wrong_issuer',
    )
  })

  it('accepts extra audiences only when allowed, reporting the configured one', async () => {
    const token = await signToken(ec, { aud: ['https://evil.test', AUDIENCE] })
    await expectRejected(make(), token, 'wrong_audience')
    const result = await make({ allowExtraAudiences: true }).verify(token)
    expect(result.resource).toBe(AUDIENCE)
    await expectRejected(make(), await signToken(ec, { aud: [] }), 'wrong_audience')
    await expectRejected(make(), await signToken(ec, { aud: [AUDIENCE, 7] }), 'wrong_audience')
  })

  it('checks client_id instead of aud with audienceClaim client_id (Cognito)', async () => {
    const v = make({ audience: 'app-client', audienceClaim: 'client_id' })
    const result = await v.verify(await signToken(ec, { aud: undefined, client_id: 'app-client' }))
    expect(result.resource).toBe('app-client')
    // aud naming the audience does not count: only client_id does.
    await expectRejected(v, await signToken(ec, { aud: 'app-client' }), 'wrong_audience')
    await expectRejected(v, await signToken(ec, { client_id: 'other' }), 'wrong_audience')
    expect(() => make({ audienceClaim: 'azp' as 'aud' })).toThrow(TypeError)
  })

  it('requires requiredClaims with exactly their values', async () => {
    const v = make({ requiredClaims: { token_use: 'access' } })
    await v.verify(await signToken(ec, { token_use: 'access' }))
    await expectRejected(v, await signToken(ec, { token_use: 'id' }), 'invalid_claim')
    await expectRejected(v, await signToken(ec), 'invalid_claim')
    await expectRejected(v, await signToken(ec, { token_use: ['access'] }), 'invalid_claim')
  })

  it('reports the configured resource for a token that passed', async () => {
    const v = make({ audience: 'api://default', resource: 'https://mcp.test/mcp' })
    const result = await v.verify(await signToken(ec, { aud: 'api://default' }))
    expect(result.resource).toBe('https://mcp.test/mcp')
    await expectRejected(v, await signToken(ec, { aud: 'https://mcp.test/mcp' }), 'wrong_audience')
  })

  it('reads scopes from scope, else scp (string or array), and refuses other shapes', async () => {
    const v = make()
    expect((await v.verify(await signToken(ec, { scope: ' a  b ' }))).scopes).toEqual(['a', 'b'])
    const scp = { scope: undefined, scp: 'User.Read Mail.Send' }
    expect((await v.verify(await signToken(ec, scp))).scopes).toEqual(['User.Read', 'Mail.Send'])
    const arr = { scope: undefined, scp: ['a', 'b'] }
    expect((await v.verify(await signToken(ec, arr))).scopes).toEqual(['a', 'b'])
    expect((await v.verify(await signToken(ec, { scope: undefined }))).scopes).toEqual([])
    await expectRejected(v, await signToken(ec, { scope: ['a'] }), 'invalid_claim')
    await expectRejected(v, await signToken(ec, { scp: [1] }), 'invalid_claim')
    await expectRejected(v, await signToken(ec, { roles: 'admin' }), 'invalid_claim')
  })

  it('requires every required scope, as insufficient_scope', async () => {
    const v = make({ requiredScopes: ['mcp:read', 'mcp:admin'] })
    await expectRejected(v, await signToken(ec), 'insufficient_scope')
    const ok = await v.verify(await signToken(ec, { scope: 'mcp:admin mcp:read' }))
    expect(ok.scopes).toContain('mcp:admin')
  })

  it('takes the client from client_id, then azp, then appid, else empty', async () => {
    const v = make()
    const pick = async (claims: Record<string, unknown>) =>
      (await v.verify(await signToken(ec, { client_id: undefined, ...claims }))).clientId
    expect(await pick({ azp: 'from-azp', appid: 'from-appid' })).toBe('from-azp')
    expect(await pick({ appid: 'from-appid' })).toBe('from-appid')
    expect(await pick({})).toBe('')
    await expectRejected(v, await signToken(ec, { client_id: 5 }), 'invalid_claim')
    await expectRejected(v, await signToken(ec, { sub: 5 }), 'invalid_claim')
  })

  it('uses claim mappers when given', async () => {
    const v = make({
      claimsToScopes: (claims) => (claims.perms as string[] | undefined) ?? [],
      claimsToRoles: (claims) => [String(claims.grp)],
    })
    const result = await v.verify(await signToken(ec, { perms: ['x'], grp: 'g' }))
    expect(result.scopes).toEqual(['x'])
    expect(result.roles).toEqual(['g'])
  })

  it('applies the clock tolerance to exp, nbf and iat', async () => {
    const now = Math.floor(Date.now() / 1000)
    const v = make({ clockToleranceSeconds: 10 })
    expect(await v.verifyToken(await signToken(ec, { exp: now - 5 }))).toBeDefined()
    await expectRejected(v, await signToken(ec, { exp: now - 11 }), 'expired')
    expect(await v.verifyToken(await signToken(ec, { nbf: now + 5 }))).toBeDefined()
    await expectRejected(v, await signToken(ec, { nbf: now + 15 }), 'not_yet_valid')
    await expectRejected(v, await signToken(ec, { iat: now + 15 }), 'issued_in_future')
    await expectRejected(v, await signToken(ec, { nbf: 'soon' }), 'invalid_claim')
  })

  it('compares typ case-insensitively, with or without application/', async () => {
    const v = make({ typ: 'at+jwt' })
    expect(await v.verifyToken(await signToken(ec, {}, { typ: 'AT+JWT' }))).toBeDefined()
    expect(
      await v.verifyToken(await signToken(ec, {}, { typ: 'application/at+jwt' })),
    ).toBeDefined()
    await expectRejected(v, await signToken(ec, {}, { typ: 'JWT' }), 'wrong_typ')
  })

  it('verifies HMAC tokens with an explicit shared secret', async () => {
    const secret = new Uint8Array(32).fill(7)
    const v = new JWTVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      sharedSecret: secret,
      algorithms: ['HS256'],
    })
    const token = await craftToken({ alg: 'HS256' }, baseClaims(), { secret, alg: 'HS256' })
    expect((await v.verify(token)).subject).toBe('user-1')
    const other = await craftToken({ alg: 'HS256' }, baseClaims(), {
      secret: new Uint8Array(32).fill(8),
      alg: 'HS256',
    })
    await expectRejected(v, other, 'bad_signature')
  })

  it('never puts the token into the error it throws', async () => {
    const token = await signToken(ec, { aud: 'https://elsewhere.test' })
    const error = await make()
      .verify(token)
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OAuthError)
    expect(JSON.stringify(error)).not.toContain(token.split('.')[1])
    expect((error as OAuthError).message).toBe('the access token is invalid')
  })
})

describe('JWTVerifier configuration', () => {
  const base = { issuer: ISSUER, audience: AUDIENCE }
  const keys = { keys: [] }

  it.each([
    ['no key source', { ...base }],
    ['two key sources', { ...base, jwks: keys, jwksUri: 'https://idp.test/jwks' }],
    ['HS algorithms with a JWKS', { ...base, jwks: keys, algorithms: ['RS256', 'HS256'] }],
    ['a secret without algorithms', { ...base, sharedSecret: 'x'.repeat(64) }],
    ['a secret with RS256', { ...base, sharedSecret: 'x'.repeat(64), algorithms: ['RS256'] }],
    ['a short secret', { ...base, sharedSecret: 'short', algorithms: ['HS256'] }],
    ['alg none', { ...base, jwks: keys, algorithms: ['none'] }],
    ['an unknown alg', { ...base, jwks: keys, algorithms: ['ES256K'] }],
    ['no issuer', { ...base, issuer: [], jwks: keys }],
    ['an empty audience', { ...base, audience: '', jwks: keys }],
    ['skew over 60 s', { ...base, jwks: keys, clockToleranceSeconds: 61 }],
    [
      'discovery with two issuers',
      { ...base, issuer: [ISSUER, 'https://b.test'], discoveryUrl: 'https://idp.test' },
    ],
    ['a bad JWKS URL', { ...base, jwksUri: 'not a url' }],
  ])('refuses %s', (_label, options) => {
    expect(() => new JWTVerifier(options as JWTVerifierOptions)).toThrow(TypeError)
  })
})
