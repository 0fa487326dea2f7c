// Security catalogue A.2.10 (JWT-01..JWT-23) against the resource-server verifier, once per
// signature implementation. Every refusal is checked on both faces: verifyToken → undefined and
// verify → OAuthError invalid_token with the expected reason.

import { createPrivateKey, createPublicKey, sign as nodeSign, constants } from 'node:crypto'
import type { JsonWebKey as NodeJwk, KeyObject } from 'node:crypto'
import { exportJWK } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { JWKSCache } from '../../src/jwt/jwks-cache.js'
import { encodeBase64URL } from '../../src/jwt/base64url.js'
import type { JWK } from '../../src/jwt/jwk.js'
import { webCryptoSignatureVerifier } from '../../src/jwt/signature.js'
import type { SignatureVerifierFactory } from '../../src/jwt/signature.js'
import { JWTVerifier } from '../../src/jwt/verifier.js'
import type { JWTVerifierOptions } from '../../src/jwt/verifier.js'
import {
  AUDIENCE,
  ISSUER,
  b64url,
  baseClaims,
  craftToken,
  createClock,
  createTestKey,
  expectRejected,
  joinToken,
  nowSeconds,
  signToken,
  startJWKSServer,
  startServer,
} from '../helpers/jwt-fixtures.js'
import type { JWKSServer, TestKey, TestServer } from '../helpers/jwt-fixtures.js'

const factories: [string, SignatureVerifierFactory][] = [
  ['Web Crypto', webCryptoSignatureVerifier],
  ['node:crypto', nodeSignatureVerifier],
]

describe.each(factories)('JWT pitfalls (%s)', (_name, signatureVerifier) => {
  let rsa: TestKey
  let ec: TestKey
  let attacker: TestKey
  let rsaPrivate: KeyObject
  let jwks: JWKSServer
  let listener: TestServer
  let verifier: JWTVerifier

  function make(options: Partial<JWTVerifierOptions> = {}): JWTVerifier {
    return new JWTVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: jwks.jwksUri,
      allowHttpLoopback: true,
      cache: false,
      signatureVerifier,
      ...options,
    })
  }

  // RSA signatures for algorithms the CryptoKey was not generated for (RS512, PS256).
  function rsaToken(alg: string, claims = baseClaims(), header: object = {}): string {
    const input = `${b64url(JSON.stringify({ alg, kid: rsa.kid, ...header }))}.${b64url(JSON.stringify(claims))}`
    const hash = `sha${alg.slice(2)}`
    const key = alg.startsWith('PS')
      ? { key: rsaPrivate, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }
      : rsaPrivate
    return `${input}.${b64url(nodeSign(hash, Buffer.from(input), key))}`
  }

  beforeAll(async () => {
    ;[rsa, ec, attacker] = await Promise.all([
      createTestKey('RS256'),
      createTestKey('ES256'),
      createTestKey('ES256'),
    ])
    rsaPrivate = createPrivateKey({
      key: (await exportJWK(rsa.privateKey)) as NodeJwk,
      format: 'jwk',
    })
    jwks = await startJWKSServer([rsa.publicJwk, ec.publicJwk])
    listener = await startServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ keys: [attacker.publicJwk] }))
    })
    verifier = make()
    expect(await verifier.verifyToken(await signToken(ec))).toBeDefined() // keys loaded
  })

  afterAll(async () => {
    await jwks.close()
    await listener.close()
  })

  it('JWT-01 rejects alg none in any letter case', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = `${b64url(JSON.stringify({ alg }))}.${b64url(JSON.stringify(baseClaims()))}.`
      await expectRejected(verifier, unsigned, 'alg_not_allowed')
      const withSignature = joinToken({ alg, kid: ec.kid }, baseClaims(), new Uint8Array(64))
      await expectRejected(verifier, withSignature, 'alg_not_allowed')
    }
    expect(() => make({ algorithms: ['none'] })).toThrow(TypeError)
  })

  it('JWT-02 rejects HS256 keyed with the RSA public key (PEM and JWK n bytes)', async () => {
    const pem = createPublicKey({ key: rsa.publicJwk as NodeJwk, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    }) as string
    const secrets = [new TextEncoder().encode(pem), Buffer.from(rsa.publicJwk.n ?? '', 'base64url')]
    for (const secret of secrets) {
      const token = await craftToken({ alg: 'HS256', kid: rsa.kid }, baseClaims(), {
        secret: new Uint8Array(secret),
        alg: 'HS256',
      })
      await expectRejected(verifier, token, 'alg_not_allowed')
    }
    expect(() => make({ algorithms: ['RS256', 'HS256'] })).toThrow(TypeError)
  })

  it('JWT-03 rejects a valid alg the key is not for, or that is not allow-listed', async () => {
    await expectRejected(verifier, rsaToken('RS512'), 'unknown_kid') // key says RS256
    await expectRejected(verifier, rsaToken('PS256'), 'unknown_kid')
    await expectRejected(make({ algorithms: ['RS256'] }), rsaToken('RS512'), 'alg_not_allowed')
    const es256k = joinToken({ alg: 'ES256K', kid: ec.kid }, baseClaims(), new Uint8Array(64))
    await expectRejected(verifier, es256k, 'alg_not_allowed')
    expect(await verifier.verifyToken(rsaToken('RS256'))).toBeDefined()
  })

  it('JWT-04 treats hostile kids as unknown, without lookups by raw kid or crashes', async () => {
    const before = jwks.requests
    const kids = ['../../../../dev/null', "' OR '1'='1", `x\u0000${'A'.repeat(10_000)}`]
    for (const kid of kids) {
      await expectRejected(verifier, await signToken(ec, {}, { kid }), 'unknown_kid')
    }
    expect(jwks.requests - before).toBeLessThanOrEqual(1)
  })

  it('JWT-05 never fetches jku or x5u, even with a matching attacker key there', async () => {
    const header = { jku: `${listener.url}/jwks`, x5u: 'http://169.254.169.254/latest/meta-data/' }
    await expectRejected(verifier, await signToken(attacker, {}, header), 'unknown_kid')
    const sameKid = { ...header, kid: ec.kid }
    await expectRejected(verifier, await signToken(attacker, {}, sameKid), 'bad_signature')
    // Without a kid the one configured ES256 key is tried, and the attacker's signature fails.
    await expectRejected(
      verifier,
      await signToken(attacker, {}, { ...header, kid: undefined }),
      'bad_signature',
    )
    expect(listener.requests).toBe(0)
  })

  it('JWT-06 ignores an embedded jwk or x5c and trusts only configured keys', async () => {
    const jwk = attacker.publicJwk
    const x5c = [encodeBase64URL(new Uint8Array(64).fill(48))]
    const cases: [Record<string, unknown>, string][] = [
      [{ jwk }, 'unknown_kid'], // the attacker's own kid
      [{ x5c }, 'unknown_kid'],
      [{ jwk, kid: undefined }, 'bad_signature'], // checked against the configured key only
      [{ jwk, kid: ec.kid }, 'bad_signature'],
    ]
    for (const [header, reason] of cases) {
      const token = await signToken(attacker, {}, { ...header, jku: `${listener.url}/jwks` })
      await expectRejected(verifier, token, reason)
    }
    expect(listener.requests).toBe(0)
  })

  it('JWT-07 rejects any crit: unknown extension, empty list, or a standard header', async () => {
    for (const crit of [['exp-ext'], [], ['kid']]) {
      const token = await craftToken(
        { alg: 'ES256', kid: ec.kid, crit, 'exp-ext': 1 },
        baseClaims(),
        ec,
      )
      await expectRejected(verifier, token, 'crit_unsupported')
    }
  })

  it('JWT-08 rejects exp past the skew, a missing exp, and exp as a string', async () => {
    const now = nowSeconds()
    await expectRejected(verifier, await signToken(ec, { exp: now - 31 }), 'expired')
    await expectRejected(verifier, await signToken(ec, { exp: undefined }), 'missing_exp')
    await expectRejected(verifier, await signToken(ec, { exp: '9999999999' }), 'invalid_claim')
  })

  it('JWT-09 rejects nbf beyond the skew', async () => {
    await expectRejected(verifier, await signToken(ec, { nbf: nowSeconds() + 90 }), 'not_yet_valid')
  })

  it('JWT-10 rejects iat in the future beyond the skew', async () => {
    await expectRejected(
      verifier,
      await signToken(ec, { iat: nowSeconds() + 90 }),
      'issued_in_future',
    )
  })

  it("JWT-11 scopes keys by issuer: IdP-A's key does not sign for IdP-B", async () => {
    const idpA = 'https://idp-a.test'
    const idpB = 'https://idp-b.test'
    const keyA = await createTestKey('ES256')
    const keyB = await createTestKey('ES256')
    const serverA = await startJWKSServer([keyA.publicJwk])
    const serverB = await startJWKSServer([keyB.publicJwk])
    try {
      const cache = new JWKSCache({ allowHttpLoopback: true })
      const options = {
        audience: AUDIENCE,
        jwksCache: cache,
        signatureVerifier,
        cache: false as const,
      }
      const forA = new JWTVerifier({ ...options, issuer: idpA, jwksUri: serverA.jwksUri })
      const forB = new JWTVerifier({ ...options, issuer: idpB, jwksUri: serverB.jwksUri })
      expect(await forA.verifyToken(await signToken(keyA, { iss: idpA }))).toBeDefined()
      const forged = await signToken(keyA, { iss: idpB })
      await expectRejected(forB, forged, 'unknown_kid')
      await expectRejected(forA, forged, 'wrong_issuer')
      expect(serverA.requests).toBe(1)
    } finally {
      await serverA.close()
      await serverB.close()
    }
  })

  it('JWT-12 compares iss exactly', async () => {
    const variants = [
      `${ISSUER}/`,
      'https://IDP.test',
      'http://idp.test',
      'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0',
    ]
    for (const iss of variants)
      await expectRejected(verifier, await signToken(ec, { iss }), 'wrong_issuer')
    await expectRejected(verifier, await signToken(ec, { iss: undefined }), 'wrong_issuer')
  })

  it('JWT-13 rejects a missing or foreign aud and, by default, extra audiences', async () => {
    await expectRejected(verifier, await signToken(ec, { aud: undefined }), 'wrong_audience')
    await expectRejected(
      verifier,
      await signToken(ec, { aud: 'https://other.test/mcp' }),
      'wrong_audience',
    )
    const two = await signToken(ec, { aud: [AUDIENCE, 'https://evil.test'] })
    await expectRejected(verifier, two, 'wrong_audience')
  })

  it('JWT-14 enforces explicit typing and refuses other JWT types as access tokens', async () => {
    const typed = make({ typ: 'at+jwt' })
    await expectRejected(typed, await signToken(ec, {}, { typ: 'JWT' }), 'wrong_typ')
    await expectRejected(typed, await signToken(ec), 'wrong_typ')
    expect(await typed.verifyToken(await signToken(ec, {}, { typ: 'at+jwt' }))).toBeDefined()
    const idJag = await signToken(ec, {}, { typ: 'oauth-id-jag+jwt' })
    await expectRejected(verifier, idJag, 'wrong_typ')
  })

  it('JWT-15 rejects nested JWTs and JWEs where a JWS is expected', async () => {
    const nested = await craftToken({ alg: 'ES256', kid: ec.kid, cty: 'JWT' }, baseClaims(), ec)
    await expectRejected(verifier, nested, 'nested_jwt_unsupported')
    const jwe = `${b64url(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A256GCM', cty: 'JWT' }))}.a.b.c.d`
    await expectRejected(verifier, jwe, 'jwe_unsupported')
  })

  it('JWT-16 rejects JWE with zip DEF or alg RSA1_5', async () => {
    const zipped = `${b64url(JSON.stringify({ alg: 'RSA-OAEP', enc: 'A128GCM', zip: 'DEF' }))}.a.b.c.d`
    await expectRejected(verifier, zipped, 'jwe_unsupported')
    const rsa15 = joinToken({ alg: 'RSA1_5', enc: 'A128GCM' }, baseClaims(), new Uint8Array(8))
    await expectRejected(verifier, rsa15, 'alg_not_allowed')
    const zipOnJws = await craftToken({ alg: 'ES256', kid: ec.kid, zip: 'DEF' }, baseClaims(), ec)
    await expectRejected(verifier, zipOnJws, 'jwe_unsupported')
  })

  it('JWT-17 rejects duplicate member names instead of picking one', async () => {
    const claims = JSON.stringify(baseClaims({ aud: undefined })).slice(0, -1)
    const payload = `${claims},"aud":"https://evil.test","aud":"${AUDIENCE}"}`
    await expectRejected(
      verifier,
      await craftToken({ alg: 'ES256', kid: ec.kid }, payload, ec),
      'duplicate_member',
    )
    const escaped = `${claims},"aud":"https://evil.test","\\u0061ud":"${AUDIENCE}"}`
    await expectRejected(
      verifier,
      await craftToken({ alg: 'ES256', kid: ec.kid }, escaped, ec),
      'duplicate_member',
    )
    const header = `{"alg":"ES256","kid":"${ec.kid}","kid":"other"}`
    await expectRejected(verifier, await craftToken(header, baseClaims(), ec), 'duplicate_member')
  })

  it('JWT-18 rejects JSON serialization, extra segments and non-base64url characters', async () => {
    const good = await signToken(ec)
    const [h, p, s] = good.split('.') as [string, string, string]
    const general = JSON.stringify({
      payload: p,
      signatures: [
        { protected: h, signature: s },
        { protected: h, signature: s },
      ],
    })
    await expectRejected(verifier, general, 'malformed')
    await expectRejected(verifier, `${good}.`, 'malformed')
    await expectRejected(verifier, `${h}.${p}.${s}.x`, 'malformed')
    await expectRejected(verifier, `${h}=.${p}.${s}`, 'malformed')
    await expectRejected(verifier, `${h}.${p}.${s}==`, 'malformed')
    await expectRejected(
      verifier,
      `${h}.${p.replace(/-/g, '+').replace(/_/g, '/')}+.${s}`,
      'malformed',
    )
    await expectRejected(verifier, `${h}.${p} .${s}`, 'malformed')
    expect(await verifier.verifyToken(good)).toBeDefined()
  })

  it('JWT-19 refuses a 200 KB token fast and rate-limits JWKS refetches under 1000 kids', async () => {
    const huge = `${'a'.repeat(100_000)}.${'b'.repeat(100_000)}.c`
    const started = performance.now()
    await expectRejected(verifier, huge, 'token_too_large')
    expect(performance.now() - started).toBeLessThan(50)
    const before = jwks.requests
    const kids = Array.from({ length: 1000 }, (_, i) =>
      joinToken({ alg: 'ES256', kid: `r${i}` }, baseClaims(), new Uint8Array(64)),
    )
    const results = await Promise.all(kids.map((t) => verifier.verifyToken(t)))
    expect(results.every((r) => r === undefined)).toBe(true)
    expect(jwks.requests - before).toBeLessThanOrEqual(1)
  })

  it('JWT-20 rejects ES256 with r = s = 0 and never uses an off-curve key', async () => {
    const header = { alg: 'ES256', kid: ec.kid }
    await expectRejected(
      verifier,
      joinToken(header, baseClaims(), new Uint8Array(64)),
      'bad_signature',
    )
    const offCurve = {
      ...ec.publicJwk,
      kid: 'off-curve',
      x: encodeBase64URL(new Uint8Array(32).fill(1)),
      y: encodeBase64URL(new Uint8Array(32).fill(1)),
    }
    const local = make({ jwksUri: undefined, jwks: { keys: [offCurve] } })
    await expectRejected(local, await signToken(attacker, {}, { kid: 'off-curve' }), 'unusable_key')
    const embedded = await signToken(attacker, {}, { jwk: offCurve })
    await expectRejected(verifier, embedded, 'unknown_kid')
  })

  it('JWT-21 accepts a rotated-in kid after one refetch and replaces a reused kid', async () => {
    const clock = createClock()
    const k1 = await createTestKey('ES256')
    const server = await startJWKSServer([k1.publicJwk])
    try {
      const v = make({ jwksUri: server.jwksUri, now: clock.now })
      expect(await v.verifyToken(await signToken(k1))).toBeDefined()
      const k2 = await createTestKey('ES256')
      const reused = await createTestKey('ES256', k1.kid)
      server.setKeys([reused.publicJwk, k2.publicJwk])
      clock.advance(5 * 60_000)
      expect(await v.verifyToken(await signToken(k2))).toBeDefined()
      expect(server.requests).toBe(2)
      expect(await v.verifyToken(await signToken(reused))).toBeDefined()
      await expectRejected(v, await signToken(k1), 'bad_signature')
      expect(server.requests).toBe(2)
    } finally {
      await server.close()
    }
  })

  it('JWT-22 never verifies with an encryption key or a key for another alg', async () => {
    const bare: JWK = { ...ec.publicJwk, alg: undefined, use: undefined }
    for (const jwk of [
      { ...bare, use: 'enc' },
      { ...bare, key_ops: ['encrypt'] },
      { ...bare, key_ops: ['sign'] },
      { ...bare, alg: 'ES384' },
    ]) {
      const v = make({ jwksUri: undefined, jwks: { keys: [jwk] } })
      await expectRejected(v, await signToken(ec), 'unknown_kid')
    }
    const plain = make({ jwksUri: undefined, jwks: { keys: [{ ...bare, key_ops: ['verify'] }] } })
    expect(await plain.verifyToken(await signToken(ec))).toBeDefined()
  })

  it('JWT-23 maps scp explicitly and refuses scope given as an array', async () => {
    const entra = await verifier.verify(await signToken(ec, { scope: undefined, scp: 'User.Read' }))
    expect(entra.scopes).toEqual(['User.Read'])
    await expectRejected(verifier, await signToken(ec, { scope: ['mcp:read'] }), 'invalid_claim')
    const needsRead = make({ requiredScopes: ['mcp:read'] })
    await expectRejected(
      needsRead,
      await signToken(ec, { scope: undefined, scp: 'User.Read' }),
      'insufficient_scope',
    )
  })
})
