import { beforeEach, describe, expect, it } from 'vitest'
import {
  authorizeURL,
  createTestGatehouse,
  form,
  getCode,
  getTokens,
  ISSUER,
  pkcePair,
  register,
  RESOURCE,
  type RegisteredClient,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

describe('A.2.4 authorization endpoint', () => {
  let t: TestGatehouse
  let c1: RegisteredClient
  const { challenge } = pkcePair()

  beforeEach(async () => {
    t = await createTestGatehouse()
    c1 = await register(t)
  })

  const good = (extra: Record<string, string | undefined> = {}) =>
    authorizeURL({
      response_type: 'code',
      client_id: c1.client_id,
      redirect_uri: 'https://app.test/cb',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'st-1',
      ...extra,
    })

  function expectPage(res: Response) {
    expect(res.status).toBe(400)
    expect(res.headers.get('location')).toBeNull()
    expect(res.headers.get('content-type')).toContain('text/html')
    expect(res.headers.get('x-frame-options')).toBe('DENY')
  }

  function expectRedirectError(res: Response, error: string, state: string | null = 'st-1') {
    expect(res.status).toBe(302)
    const loc = new URL(res.headers.get('location') ?? '')
    expect(`${loc.origin}${loc.pathname}`).toBe('https://app.test/cb')
    expect(loc.searchParams.get('error')).toBe(error)
    expect(loc.searchParams.get('code')).toBeNull()
    expect(loc.searchParams.get('iss')).toBe(ISSUER)
    expect(loc.searchParams.get('state')).toBe(state)
    return loc
  }

  it('AZ-01 shows an error page for an unknown client, never a redirect', async () => {
    expectPage(await t.call(good({ client_id: 'unknown' })))
  })

  it('AZ-02 shows an error page for an unregistered redirect URI', async () => {
    expectPage(await t.call(good({ redirect_uri: 'https://evil.test/cb' })))
  })

  it('AZ-03 compares redirect URIs as exact strings', async () => {
    for (const uri of [
      'https://app.test/cb/',
      'https://APP.test/cb',
      'https://app.test/cb?x=1',
      'https://app.test/cb#x',
      'https://app.test/cb/../evil',
      'https://app.test@evil.test/cb',
      'https://app.test.evil.test/cb',
      'https://app.test:443/cb',
      'https://app.test/%63b',
    ]) {
      expectPage(await t.call(good({ redirect_uri: uri })))
    }
  })

  it('AZ-04 lets only the port vary for a registered loopback IP', async () => {
    const ok = await t.call(good({ redirect_uri: 'http://127.0.0.1:51234/callback' }))
    expect(ok.status).toBe(302)
    expect(ok.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:51234\/callback\?code=/)
    expectPage(await t.call(good({ redirect_uri: 'http://127.0.0.1:51234/other' })))
    expectPage(await t.call(good({ redirect_uri: 'http://localhost:51234/callback' })))
  })

  it('AZ-05 requires redirect_uri when several are registered', async () => {
    expectPage(await t.call(good({ redirect_uri: undefined })))
  })

  it('AZ-05 uses the only registered redirect URI when it is omitted, then requires it absent at /token', async () => {
    const single = await register(t, { redirect_uris: ['https://single.test/cb'] })
    const { code, verifier } = await getCode(t, single, { redirect_uri: undefined })
    const res = await t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        client_id: single.client_id,
      }),
    )
    expect(res.status).toBe(200)
  })

  it('AZ-06 redirects invalid_request when code_challenge is missing', async () => {
    expectRedirectError(
      await t.call(good({ code_challenge: undefined, code_challenge_method: undefined })),
      'invalid_request',
    )
  })

  it('AZ-07 refuses the plain PKCE method', async () => {
    expectRedirectError(await t.call(good({ code_challenge_method: 'plain' })), 'invalid_request')
    expectRedirectError(await t.call(good({ code_challenge_method: undefined })), 'invalid_request')
  })

  it('AZ-08 refuses malformed challenges', async () => {
    expectRedirectError(await t.call(good({ code_challenge: 'a'.repeat(42) })), 'invalid_request')
    expectRedirectError(
      await t.call(good({ code_challenge: `${'a'.repeat(40)}+/=` })),
      'invalid_request',
    )
  })

  it('AZ-09 refuses response types other than code', async () => {
    expectRedirectError(await t.call(good({ response_type: 'token' })), 'unsupported_response_type')
    expectRedirectError(
      await t.call(good({ response_type: 'code id_token' })),
      'unsupported_response_type',
    )
    expectRedirectError(await t.call(good({ response_type: undefined })), 'invalid_request')
  })

  it('AZ-10 refuses repeated parameters, without redirect when redirect_uri repeats', async () => {
    expectPage(await t.call(`${good()}&redirect_uri=${encodeURIComponent('https://app.test/cb')}`))
    expectRedirectError(await t.call(`${good()}&state=again`), 'invalid_request', null)
    expectRedirectError(await t.call(`${good()}&code_challenge=${challenge}`), 'invalid_request')
  })

  it('AZ-11 treats empty scope and state as omitted', async () => {
    const res = await t.call(good({ scope: '', state: '' }))
    expect(res.status).toBe(302)
    const loc = new URL(res.headers.get('location') ?? '')
    expect(loc.searchParams.has('state')).toBe(false)
    expect(loc.searchParams.get('code')).toBeTruthy()
  })

  it('AZ-12 ignores unknown parameters', async () => {
    const res = await t.call(`${good()}&foo=bar`)
    expect(res.status).toBe(302)
    expect(new URL(res.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy()
  })

  it('AZ-13 grants the default scope when none is requested', async () => {
    const { tokens } = await getTokens(t, c1, { scope: undefined })
    expect(tokens.scope).toBe('mcp:read')
  })

  it('AZ-14 shows a page, not a redirect, when only unknown scopes are requested', async () => {
    const attacker = await register(t, { redirect_uris: ['https://attacker.test/cb'] })
    const res = await t.call(
      good({
        client_id: attacker.client_id,
        redirect_uri: 'https://attacker.test/cb',
        scope: 'nonexistent',
      }),
    )
    expectPage(res)
  })

  it('AZ-15 refuses a resource that is relative, has a fragment or is not served', async () => {
    for (const resource of ['mcp.test', `${RESOURCE}#f`, 'https://other.test/mcp']) {
      expectRedirectError(await t.call(good({ resource })), 'invalid_target')
    }
  })

  it('AZ-15 refuses a resource with dot segments or backslashes, even one that resolves to a served resource', async () => {
    for (const resource of [
      'https://as.test/x/../mcp',
      'https://as.test/x/%2E%2e/mcp',
      'https://as.test/mcp/.',
      'https://as.test/mcp/%2e',
      'https://as.test/x/.%2e\\mcp',
      'https://as.test\\mcp',
      'https://as.test/x/.\n./mcp',
    ]) {
      expectRedirectError(await t.call(good({ resource })), 'invalid_target')
    }
  })

  it('AZ-16 accepts an upper-case resource and normalises it', async () => {
    const res = await t.call(good({ resource: 'HTTPS://AS.TEST/mcp' }))
    expect(res.status).toBe(302)
    expect(new URL(res.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy()
  })

  it('AZ-17 defaults to the configured resource when none is sent', async () => {
    const { tokens } = await getTokens(t, c1, { resource: undefined })
    const payload = JSON.parse(
      Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString(),
    )
    expect(payload.aud).toBe(RESOURCE)
  })

  it('AZ-18 returns state byte-identical and iss once on success and on error', async () => {
    const state = 'a b+c%2F/é&x=1'
    const ok = await t.call(good({ state }))
    const okLoc = new URL(ok.headers.get('location') ?? '')
    expect(okLoc.searchParams.getAll('state')).toEqual([state])
    expect(okLoc.searchParams.getAll('iss')).toEqual([ISSUER])
    const err = await t.call(good({ state, response_type: 'token' }))
    const errLoc = new URL(err.headers.get('location') ?? '')
    expect(errLoc.searchParams.getAll('state')).toEqual([state])
    expect(errLoc.searchParams.getAll('iss')).toEqual([ISSUER])
  })

  it('AZ-19 sends no CORS headers from the authorization endpoint', async () => {
    const res = await t.call(good(), { headers: { origin: 'https://x.test' } })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    const pre = await t.call('/authorize', {
      method: 'OPTIONS',
      headers: { origin: 'https://x.test' },
    })
    expect(pre.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('AZ-20 error pages send no referrer and load nothing from elsewhere', async () => {
    const res = await t.call(good({ client_id: 'nope' }))
    expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(await res.text()).not.toMatch(/<(script|img|link)/i)
  })

  it('AZ-21 accepts POST like GET and refuses PUT', async () => {
    const params = new URL(good(), ISSUER).searchParams
    const res = await t.call('/authorize', form(Object.fromEntries(params)))
    expect(res.status).toBe(302)
    expect(new URL(res.headers.get('location') ?? '').searchParams.get('code')).toBeTruthy()
    expect((await t.call('/authorize', { method: 'PUT' })).status).toBe(405)
  })

  it('AZ-21b refuses HEAD with 405, issuing no code (a link checker must not start a flow)', async () => {
    const head = await t.call(good(), { method: 'HEAD' })
    expect(head.status).toBe(405)
    expect(head.headers.get('location')).toBeNull()
    expect(head.headers.get('allow')).toContain('GET')
    expect(head.headers.get('allow')).not.toContain('HEAD')
    // Metadata, whose GET changes nothing, still answers HEAD.
    expect(
      (await t.call('/.well-known/oauth-authorization-server', { method: 'HEAD' })).status,
    ).toBe(200)
  })

  it('AZ-23 binds each code separately even when a challenge is reused', async () => {
    const a = await t.call(good())
    const b = await t.call(good())
    const codeA = new URL(a.headers.get('location') ?? '').searchParams.get('code')
    const codeB = new URL(b.headers.get('location') ?? '').searchParams.get('code')
    expect(codeA).not.toBe(codeB)
  })

  it('AZ-24 issues opaque codes of 256 bits that do not reveal the challenge', async () => {
    const { code } = await getCode(t, c1)
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(code).not.toContain(challenge)
  })

  it('HT-10 refuses NUL bytes and overlong state without crashing', async () => {
    const long = await t.call(good({ state: 's'.repeat(10_000) }))
    const loc = expectRedirectError(long, 'invalid_request', null)
    expect(loc.href.length).toBeLessThan(2000)
    const nul = await t.call(
      '/authorize',
      form({ client_id: c1.client_id, redirect_uri: 'https://app.test/cb', state: 'a\0b' }),
    )
    expect(nul.status).toBe(400)
  })
})
