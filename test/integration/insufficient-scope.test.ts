/**
 * Issue 11 item 1: a valid token that lacks a scope its verifier requires is answered with
 * 403 `insufficient_scope` and a challenge naming the scopes (RFC 6750 §3.1, MCP step-up), for
 * every verifier, through the HTTP guard of `createRemoteAuthProvider`; invalid tokens stay 401.
 * Real signed tokens, a real JWKS and a real introspection endpoint on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChainTokenVerifier } from '../../src/jwt/chain.js'
import { IntrospectionTokenVerifier } from '../../src/jwt/introspection.js'
import { StaticTokenVerifier } from '../../src/jwt/static.js'
import { JWTVerifier } from '../../src/jwt/verifier.js'
import {
  checkAccessToken,
  type AccessToken,
  type TokenVerifier,
} from '../../src/jwt/access-token.js'
import { createRemoteAuthProvider } from '../../src/resource/remote-auth.js'
import {
  AUDIENCE,
  ISSUER,
  createTestKey,
  signToken,
  startJWKSServer,
  startServer,
  type JWKSServer,
  type TestKey,
  type TestServer,
} from '../helpers/jwt-fixtures.js'

const PRM = 'https://mcp.test/.well-known/oauth-protected-resource/mcp'

/** A resource server for AUDIENCE guarded by `verifier`, answering 200 with the token's scopes. */
function guarded(verifier: TokenVerifier, resource: Record<string, unknown> = {}) {
  const errors: { code: string; reason: string | undefined }[] = []
  const rs = createRemoteAuthProvider({
    config: {
      resources: [{ url: AUDIENCE, scopes: ['mcp:read', 'mcp:write'], ...resource }],
      authorizationServers: [ISSUER],
    },
    verifier,
    onError: (e) => errors.push({ code: e.code, reason: e.reason }),
  })
  const handler = rs.protect((_request, token) => Response.json({ scopes: token.scopes }))
  const call = (token: string) =>
    handler(new Request(AUDIENCE, { headers: { authorization: `Bearer ${token}` } }))
  return { call, errors }
}

async function expectInsufficient(response: Response, scope: string): Promise<void> {
  expect(response.status).toBe(403)
  const challenge = response.headers.get('www-authenticate') ?? ''
  expect(challenge).toMatch(/^Bearer /)
  expect(challenge).toContain('error="insufficient_scope"')
  expect(challenge).toContain(`scope="${scope}"`)
  expect(challenge).toContain(`resource_metadata="${PRM}"`)
  expect(((await response.json()) as { error: string }).error).toBe('insufficient_scope')
}

async function expectInvalid(response: Response): Promise<void> {
  expect(response.status).toBe(401)
  expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"')
  await response.body?.cancel()
}

describe('valid but insufficient tokens get 403 insufficient_scope at the guard', () => {
  let key: TestKey
  let other: TestKey
  let jwks: JWKSServer
  let introspection: TestServer
  /** What the introspection endpoint answers, by token. */
  const answers = new Map<string, Record<string, unknown>>()

  beforeAll(async () => {
    key = await createTestKey('ES256')
    other = await createTestKey('ES256')
    jwks = await startJWKSServer([key.publicJwk])
    introspection = await startServer((_request, response, body) => {
      const token = new URLSearchParams(body).get('token') ?? ''
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(answers.get(token) ?? { active: false }))
    })
  })
  afterAll(async () => {
    await jwks.close()
    await introspection.close()
  })

  const jwtVerifier = (requiredScopes = ['mcp:read']) =>
    new JWTVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUri: jwks.jwksUri,
      allowHttpLoopback: true,
      requiredScopes,
    })
  const introspectionVerifier = () =>
    new IntrospectionTokenVerifier({
      introspectionUrl: `${introspection.url}/introspect`,
      clientId: 'rs',
      clientSecret: 'rs-secret',
      audience: AUDIENCE,
      requiredScopes: ['mcp:read'],
      allowHttpLoopback: true,
    })

  it('JWTVerifier: 403 naming its required scopes; a bad signature stays 401', async () => {
    const { call, errors } = guarded(jwtVerifier())
    expect((await call(await signToken(key, { scope: 'mcp:read' }))).status).toBe(200)
    await expectInsufficient(await call(await signToken(key, { scope: 'mcp:write' })), 'mcp:read')
    expect(errors.at(-1)).toEqual({ code: 'insufficient_scope', reason: 'insufficient_scope' })
    await expectInvalid(
      await call(await signToken(other, { scope: 'mcp:write' }, { kid: key.kid })),
    )
    await expectInvalid(await call(await signToken(key, { scope: 'mcp:read', exp: 1 })))
    // A token for another resource is invalid here, whatever its scopes.
    await expectInvalid(
      await call(await signToken(key, { scope: 'mcp:write', aud: 'https://other.test/mcp' })),
    )
  })

  it('names the resource’s required scopes and the route’s beside the verifier’s', async () => {
    const { call } = guarded(jwtVerifier(), { requiredScopes: ['mcp:write'] })
    await expectInsufficient(
      await call(await signToken(key, { scope: 'mcp:write' })),
      'mcp:read mcp:write',
    )
  })

  it('keeps verifyToken as it was: undefined for an insufficient token', async () => {
    const v = jwtVerifier()
    const token = await signToken(key, { scope: 'mcp:write' })
    expect(await v.verifyToken(token)).toBeUndefined()
    expect(await checkAccessToken(v, token)).toMatchObject({
      status: 'insufficient_scope',
      scopes: ['mcp:read'],
      token: { subject: 'user-1', scopes: ['mcp:write'] },
    })
    // A verifier that only has verifyToken: undefined is invalid.
    const legacy: TokenVerifier = { verifyToken: () => Promise.resolve(undefined) }
    expect(await checkAccessToken(legacy, token)).toMatchObject({ status: 'invalid' })
  })

  it('checkAccessToken always answers a promise: a verifier that throws rejects it', async () => {
    const failure = new Error('the verifier broke')
    const throwing: TokenVerifier = {
      verifyToken: () => {
        throw failure
      },
    }
    const checkThrowing: TokenVerifier = {
      verifyToken: () => Promise.resolve(undefined),
      checkToken: () => {
        throw failure
      },
    }
    for (const verifier of [throwing, checkThrowing]) {
      const answer = checkAccessToken(verifier, 'any')
      expect(answer).toBeInstanceOf(Promise)
      await expect(answer).rejects.toBe(failure)
    }
    // A plain JavaScript verifier answering without a promise is still read.
    const granted = { token: 't', clientId: 'c', scopes: [], claims: {} }
    const plain = { verifyToken: () => granted } as unknown as TokenVerifier
    expect(await checkAccessToken(plain, 't')).toEqual({ status: 'valid', token: granted })
    const plainCheck = {
      verifyToken: () => undefined,
      checkToken: () => ({ status: 'invalid', reason: 'r' }),
    } as unknown as TokenVerifier
    const checked = checkAccessToken(plainCheck, 't')
    expect(checked).toBeInstanceOf(Promise)
    expect(await checked).toEqual({ status: 'invalid', reason: 'r' })
  })

  it('IntrospectionTokenVerifier: 403 for an active token without the scope', async () => {
    const { call } = guarded(introspectionVerifier())
    const base = { active: true, aud: AUDIENCE, sub: 'u', client_id: 'c', iss: ISSUER }
    answers.set('opaque-read', { ...base, scope: 'mcp:read' })
    answers.set('opaque-write', { ...base, scope: 'mcp:write' })
    expect((await call('opaque-read')).status).toBe(200)
    await expectInsufficient(await call('opaque-write'), 'mcp:read')
    await expectInvalid(await call('opaque-unknown'))
  })

  it('StaticTokenVerifier: requiredScopes gives 403 for a known token without them', async () => {
    const grant = (scopes: string[]): Omit<AccessToken, 'token'> => ({
      clientId: 'dev',
      scopes,
      resource: AUDIENCE,
      claims: {},
    })
    const v = new StaticTokenVerifier({
      issuer: 'http://127.0.0.1:3000',
      tokens: { 'dev-read': grant(['mcp:read']), 'dev-write': grant(['mcp:write']) },
      requiredScopes: ['mcp:read'],
    })
    const { call } = guarded(v)
    expect((await call('dev-read')).status).toBe(200)
    await expectInsufficient(await call('dev-write'), 'mcp:read')
    await expectInvalid(await call('dev-unknown'))
    expect(await v.verifyToken('dev-write')).toBeUndefined()
  })

  it('ChainTokenVerifier: an insufficient answer is not hidden by a later invalid one', async () => {
    answers.clear()
    const token = await signToken(key, { scope: 'mcp:write' })
    for (const chain of [
      new ChainTokenVerifier([jwtVerifier(), introspectionVerifier()]),
      new ChainTokenVerifier([introspectionVerifier(), jwtVerifier()]),
    ]) {
      await expectInsufficient(await guarded(chain).call(token), 'mcp:read')
      expect(await chain.verifyToken(token)).toBeUndefined()
    }
  })

  it('ChainTokenVerifier: an insufficient answer ends the chain (a laxer later verifier cannot pass it)', async () => {
    introspection.resetCount()
    const token = await signToken(key, { scope: 'mcp:write' })
    answers.set(token, { active: true, aud: AUDIENCE, scope: 'mcp:read mcp:write', sub: 'u' })
    const chain = new ChainTokenVerifier([jwtVerifier(), jwtVerifier([]), introspectionVerifier()])
    await expectInsufficient(await guarded(chain).call(token), 'mcp:read')
    expect(introspection.requests).toBe(0)
    expect(await chain.verifyToken(token)).toBeUndefined()
    // A token the first verifier does not know still reaches the next ones.
    answers.set('opaque-read', { active: true, aud: AUDIENCE, scope: 'mcp:read', sub: 'u' })
    expect((await guarded(chain).call('opaque-read')).status).toBe(200)
  })

  it('ChainTokenVerifier: an outage is still reported when no verifier recognised the token', async () => {
    const down = new IntrospectionTokenVerifier({
      introspectionUrl: 'http://127.0.0.1:9/introspect',
      clientId: 'rs',
      clientSecret: 'rs-secret',
      allowHttpLoopback: true,
      timeoutMs: 2000,
    })
    const chain = new ChainTokenVerifier([down, jwtVerifier()])
    // The JWT verifier recognised the token: its answer stands despite the outage before it.
    await expectInsufficient(
      await guarded(chain).call(await signToken(key, { scope: 'mcp:write' })),
      'mcp:read',
    )
    const unknown = await guarded(chain).call(await signToken(other, {}, { kid: 'nope' }))
    expect(unknown.status).toBe(503)
  })
})
