import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { OAuthError, UpstreamError } from '../../../src/errors.js'
import { IntrospectionTokenVerifier } from '../../../src/jwt/introspection.js'
import type { IntrospectionTokenVerifierOptions } from '../../../src/jwt/introspection.js'
import { createClock, startServer } from '../../helpers/jwt-fixtures.js'
import type { TestServer } from '../../helpers/jwt-fixtures.js'

// A small RFC 7662 endpoint: client rs/s3cr:et (basic or post), a table of tokens.
const CLIENT_ID = 'rs'
const CLIENT_SECRET = 's3cr:et'
let server: TestServer
let answers: Record<string, Record<string, unknown>>
let lastBody: URLSearchParams
let status = 200
const clock = createClock()
const inAnHour = () => Math.floor(clock.now() / 1000) + 3600

beforeAll(async () => {
  server = await startServer((request, response, body) => {
    lastBody = new URLSearchParams(body)
    const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`
    const authenticated =
      request.headers.authorization === basic ||
      (lastBody.get('client_id') === CLIENT_ID && lastBody.get('client_secret') === CLIENT_SECRET)
    if (status !== 200 || !authenticated) {
      response.writeHead(authenticated ? status : 401, { 'content-type': 'application/json' })
      response.end('{"error":"invalid_client","error_description":"secret-detail"}')
      return
    }
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    response.end(JSON.stringify(answers[lastBody.get('token') ?? ''] ?? { active: false }))
  })
})

afterAll(() => server.close())

beforeEach(() => {
  server.resetCount()
  status = 200
  answers = {
    good: {
      active: true,
      scope: 'mcp:read mcp:write',
      client_id: 'c1',
      sub: 'u1',
      iss: 'https://as.test',
      aud: ['https://mcp.test/mcp'],
      exp: inAnHour(),
      gid: 'g1',
    },
    expired: { active: true, exp: Math.floor(clock.now() / 1000) - 1 },
    weird: { active: 'true' },
    noexp: { active: true, scope: 'mcp:read' },
  }
})

function make(options: Partial<IntrospectionTokenVerifierOptions> = {}) {
  return new IntrospectionTokenVerifier({
    introspectionUrl: `${server.url}/introspect`,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    allowHttpLoopback: true,
    now: clock.now,
    ...options,
  })
}

describe('IntrospectionTokenVerifier', () => {
  it('returns the AccessToken of an active token (client_secret_basic)', async () => {
    const result = await make().verifyToken('good')
    expect(result).toMatchObject({
      token: 'good',
      clientId: 'c1',
      scopes: ['mcp:read', 'mcp:write'],
      subject: 'u1',
      issuer: 'https://as.test',
      resource: 'https://mcp.test/mcp',
      grantId: 'g1',
    })
    expect(lastBody.get('token_type_hint')).toBe('access_token')
    expect(lastBody.get('client_secret')).toBeNull()
  })

  it('authenticates with client_secret_post', async () => {
    expect(await make({ clientAuthMethod: 'client_secret_post' }).verifyToken('good')).toBeDefined()
    expect(lastBody.get('client_id')).toBe(CLIENT_ID)
  })

  it('answers undefined for inactive, unknown, expired or oddly typed answers', async () => {
    const v = make()
    for (const token of ['missing', 'expired', 'weird']) {
      expect(await v.verifyToken(token)).toBeUndefined()
    }
    const error = await v.verify('missing').catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'invalid_token', reason: 'inactive' })
  })

  it('checks audience, issuer and required scopes when configured', async () => {
    expect(await make({ audience: 'https://other.test' }).verifyToken('good')).toBeUndefined()
    expect(await make({ issuer: 'https://evil.test' }).verifyToken('good')).toBeUndefined()
    const needsAdmin = make({ requiredScopes: ['admin'] })
    expect(await needsAdmin.verifyToken('good')).toBeUndefined()
    const error = await needsAdmin.verify('good').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OAuthError)
    expect((error as OAuthError).code).toBe('insufficient_scope')
  })

  it('caches an active answer at most maxTtlSeconds and never past exp', async () => {
    const v = make({ cache: { maxTtlSeconds: 60 } })
    await v.verifyToken('good')
    await v.verifyToken('good')
    expect(server.requests).toBe(1)
    clock.advance(60_000)
    await v.verifyToken('good')
    expect(server.requests).toBe(2)

    answers.soon = { active: true, exp: Math.floor(clock.now() / 1000) + 5 }
    await v.verifyToken('soon')
    clock.advance(5_000)
    expect(await v.verifyToken('soon')).toBeUndefined() // the AS said exp has passed
    expect(server.requests).toBe(4)
  })

  it('does not cache inactive answers and coalesces concurrent checks', async () => {
    const v = make()
    await Promise.all([v.verifyToken('nope'), v.verifyToken('nope'), v.verifyToken('nope')])
    expect(server.requests).toBe(1)
    await v.verifyToken('nope')
    expect(server.requests).toBe(2)
  })

  it('throws UpstreamError, without the remote body, when the server cannot answer', async () => {
    status = 503
    const error = await make()
      .verifyToken('good')
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UpstreamError)
    expect((error as Error).message).not.toContain('secret-detail')
    const wrongSecret = make({ clientSecret: 'wrong' })
    await expect(wrongSecret.verifyToken('good')).rejects.toBeInstanceOf(UpstreamError)
  })

  it('refuses an empty or oversized token without a request', async () => {
    const v = make()
    expect(await v.verifyToken('')).toBeUndefined()
    expect(await v.verifyToken('x'.repeat(20_000))).toBeUndefined()
    expect(server.requests).toBe(0)
  })

  it('goes through the guarded fetch (no plain http to non-loopback, no private hosts)', async () => {
    const v = new IntrospectionTokenVerifier({
      introspectionUrl: 'https://10.0.0.1/introspect',
      clientId: 'a',
      clientSecret: 'b',
    })
    const error = await v.verifyToken('good').catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_FETCH_BLOCKED' })
  })
})
