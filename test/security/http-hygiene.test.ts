import { beforeEach, describe, expect, it } from 'vitest'
import {
  bearer,
  createTestGatehouse,
  form,
  getTokens,
  register,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

describe('A.2.15 HTTP hygiene', () => {
  let t: TestGatehouse
  beforeEach(async () => {
    t = await createTestGatehouse()
  })

  it('HT-01 answers GET on POST-only endpoints with 405 and Allow', async () => {
    for (const path of ['/token', '/revoke', '/introspect', '/register']) {
      const res = await t.call(path)
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBe('POST')
      expect((await res.json()).error).toBe('invalid_request')
    }
  })

  it('HT-02 allows CORS at the token endpoint without credentials, never at authorize', async () => {
    const pre = await t.call('/token', {
      method: 'OPTIONS',
      headers: { origin: 'https://web.client', 'access-control-request-method': 'POST' },
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST')
    expect(pre.headers.get('access-control-allow-credentials')).toBeNull()
    const az = await t.call('/authorize', {
      method: 'OPTIONS',
      headers: { origin: 'https://web.client' },
    })
    expect(az.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('HT-03 exposes WWW-Authenticate on guard responses', async () => {
    const res = await t.mcp({ headers: { origin: 'https://as.test' } })
    expect(res.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate')
  })

  it('HT-04 answers 413 for 2 MB bodies at /token and /register', async () => {
    const big = 'x'.repeat(2 * 1024 * 1024)
    expect(
      (await t.call('/token', form({ grant_type: 'authorization_code', code: big }))).status,
    ).toBe(413)
    const reg = await t.call('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: big }),
    })
    expect(reg.status).toBe(413)
  })

  it('HT-05 refuses a 100 KB Authorization header at the guard', async () => {
    const res = await t.mcp({ headers: { authorization: `Bearer ${'a'.repeat(100_000)}` } })
    expect(res.status).toBe(401)
  })

  it('HT-07 every endpoint error is OAuth JSON without stack traces', async () => {
    for (const [path, init] of [
      ['/token', form({})],
      ['/revoke', form({})],
      ['/introspect', form({})],
      [
        '/register',
        { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } },
      ],
    ] as const) {
      const res = await t.call(path, init)
      expect(res.headers.get('content-type')).toContain('application/json')
      const body = await res.json()
      expect(body.error).toMatch(/^[a-z_]+$/)
      expect(JSON.stringify(body)).not.toMatch(/\n\s+at /)
    }
  })

  it('HT-08 token, registration, introspection and revocation responses are no-store', async () => {
    const { tokens, client } = await getTokens(t)
    expect(tokens).toBeDefined()
    const reg = await t.call('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['https://a.test/cb'] }),
    })
    expect(reg.headers.get('cache-control')).toBe('no-store')
    const rev = await t.call('/revoke', form({ token: 'x', client_id: client.client_id }))
    expect(rev.headers.get('cache-control')).toBe('no-store')
  })

  it('HT-10 survives NUL bytes and invalid UTF-8 in form bodies', async () => {
    const nul = await t.call('/token', form({ grant_type: 'authorization_code', code: 'a\0b' }))
    expect(nul.status).toBe(400)
    const bad = await t.call('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new Uint8Array([0x63, 0x3d, 0xc0, 0xaf]),
    })
    expect(bad.status).toBe(400)
  })

  it('HT-11 odd spellings of endpoint paths are not endpoints, and never bypass the guard', async () => {
    const c = await register(t)
    for (const path of ['/TOKEN', '/token/', '//token', '/token%2F', '/./token']) {
      const res = await t.call(
        path,
        form({ grant_type: 'refresh_token', client_id: c.client_id, refresh_token: 'x' }),
      )
      expect([400, 404]).toContain(res.status)
      expect(res.status === 400 ? (await res.json()).error : 'not_found').not.toBe(undefined)
    }
    const { tokens } = await getTokens(t, c)
    expect((await t.mcp({}, '/mcp/')).status).toBe(401)
    expect((await t.mcp(bearer(tokens.access_token), '/mcp')).status).toBe(200)
  })

  it('HT-12 ignores X-Forwarded-* for the issuer', async () => {
    const res = await t.gh.fetch(
      new Request('https://as.test/.well-known/oauth-authorization-server', {
        headers: { 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'http' },
      }),
    )
    expect((await res.json()).issuer).toBe('https://as.test')
  })

  it('HT-14 refuses text/plain at the token endpoint', async () => {
    const res = await t.call('/token', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'grant_type=authorization_code',
    })
    expect(res.status).toBe(400)
    expect((await res.json()).error).toBe('invalid_request')
  })

  it('unknown paths are left to the host application', async () => {
    const res = await t.call('/not-ours')
    expect(res.status).toBe(404)
    expect(res.headers.get('x-gatehouse-unhandled')).toBe('1')
  })
})
