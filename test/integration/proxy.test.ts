/**
 * The OIDC proxy against a real OpenID provider (oidc-provider on loopback): the whole sign-in with
 * consent, the catalogue's A.2.5 (consent, CSRF, cookies) and A.2.6 (upstream leg).
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { hiddenInput, UserAgent } from '../helpers/user-agent.js'

const GH = 'http://127.0.0.1:7777'
const CLIENT_REDIRECT = 'http://127.0.0.1:5555/cb'

describe('OIDC proxy with a real identity provider', () => {
  let idp: DevIdP
  let gh: Gatehouse
  let errors: { code: string; reason: string | undefined }[]
  let logs: string

  beforeAll(async () => {
    idp = await startDevIdentityProvider({
      users: [
        {
          username: 'alice',
          password: 'wonderland',
          sub: 'alice-sub',
          email: 'alice@example.test',
          name: 'Alice',
        },
      ],
      clients: [
        {
          clientId: 'gatehouse',
          clientSecret: 'upstream-secret-value',
          redirectUris: [`${GH}/auth/callback`],
        },
      ],
    })
  })
  afterAll(async () => {
    await idp.close()
  })
  beforeEach(async () => {
    errors = []
    logs = ''
    gh = await createGatehouse({
      config: {
        issuer: GH,
        secret: 'p'.repeat(32),
        resources: [{ url: `${GH}/mcp`, scopes: ['mcp:read'] }],
        upstream: {
          kind: 'oidc',
          configUrl: `${idp.issuer}/.well-known/openid-configuration`,
          clientId: 'gatehouse',
          clientSecret: 'upstream-secret-value',
        },
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
      onError: (e) => {
        errors.push({ code: e.code, reason: e.reason })
        logs += `${e.code} ${e.reason ?? ''} ${e.message}\n`
      },
    })
  })

  async function registerClient(name = 'Claude <Desktop>') {
    const res = await gh.fetch(
      new Request(`${GH}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [CLIENT_REDIRECT],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          client_name: name,
        }),
      }),
    )
    return (await res.json()) as { client_id: string }
  }

  function authorizeURL(clientId: string, verifier: string, state = 'client-state') {
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: CLIENT_REDIRECT,
      state,
      scope: 'mcp:read',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      resource: `${GH}/mcp`,
    })
    return `${GH}/authorize?${q}`
  }

  /** Drives the browser to the consent page and returns it with its form values. */
  async function toConsent(ua: UserAgent, clientId: string, verifier: string) {
    const { url, response } = await ua.follow(authorizeURL(clientId, verifier))
    expect(url.startsWith(`${GH}/consent?txn=`)).toBe(true)
    const html = await response!.text()
    return {
      html,
      response: response!,
      txn: hiddenInput(html, 'txn'),
      csrf: hiddenInput(html, 'csrf'),
    }
  }

  async function approve(
    ua: UserAgent,
    txn: string,
    csrf: string,
    headers: Record<string, string> = { 'sec-fetch-site': 'same-origin' },
  ) {
    return ua.request(`${GH}/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ txn, csrf, action: 'approve' }).toString(),
    })
  }

  /** Signs in at the IdP and returns the URL of the callback to Gatehouse (not yet visited). */
  async function signInAtIdP(
    ua: UserAgent,
    upstreamUrl: string,
    password = 'wonderland',
  ): Promise<string> {
    const { url, response } = await ua.follow(upstreamUrl, (u) =>
      u.startsWith(`${GH}/auth/callback`),
    )
    if (url.startsWith(`${GH}/auth/callback`)) return url
    const login = await ua.request(`${url.replace(/\/$/, '')}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: idp.issuer },
      body: new URLSearchParams({ username: 'alice', password }).toString(),
    })
    expect(response!.status).toBe(200)
    const next = login.headers.get('location')
    if (!next) return ''
    const done = await ua.follow(new URL(next, url).href, (u) =>
      u.startsWith(`${GH}/auth/callback`),
    )
    return done.url
  }

  async function fullFlow(ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })) {
    const client = await registerClient()
    const verifier = randomBytes(32).toString('base64url')
    const consent = await toConsent(ua, client.client_id, verifier)
    const approved = await approve(ua, consent.txn, consent.csrf)
    const callback = await signInAtIdP(ua, approved.headers.get('location')!)
    const back = await ua.request(callback)
    return { ua, client, verifier, consent, approved, callback, back }
  }

  it("signs a user in through consent and the IdP, and the tokens are Gatehouse's own", async () => {
    const { client, verifier, back } = await fullFlow()
    expect(back.status).toBe(302)
    const location = new URL(back.headers.get('location')!)
    expect(`${location.origin}${location.pathname}`).toBe(CLIENT_REDIRECT)
    expect(location.searchParams.get('state')).toBe('client-state')
    expect(location.searchParams.get('iss')).toBe(GH)
    const res = await gh.fetch(
      new Request(`${GH}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: location.searchParams.get('code')!,
          code_verifier: verifier,
          redirect_uri: CLIENT_REDIRECT,
          client_id: client.client_id,
        }),
      }),
    )
    expect(res.status).toBe(200)
    const tokens = (await res.json()) as Record<string, string>
    // UP-06: only Gatehouse's tokens, never the IdP's.
    expect(Object.keys(tokens).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ])
    const claims = JSON.parse(
      Buffer.from(tokens.access_token!.split('.')[1]!, 'base64url').toString(),
    )
    expect(claims.iss).toBe(GH)
    expect(claims.sub).toBe('alice-sub')
    const mcp = gh.protect((_r, t) => Response.json({ sub: t.subject }))
    const call = await mcp(
      new Request(`${GH}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.access_token}` },
      }),
    )
    expect(await call.json()).toEqual({ sub: 'alice-sub' })
    // The IdP's token is there for tools that need it, refreshed upstream when needed.
    const verified = await gh.verifier.verifyToken(tokens.access_token!)
    const proxy = gh.base
    if (!(proxy instanceof OAuthProxy)) throw new Error('expected the OIDC proxy')
    const upstreamToken = await proxy.getUpstreamToken(verified!)
    expect(typeof upstreamToken).toBe('string')
    expect(upstreamToken).not.toBe(tokens.access_token)
  })

  it("CS-01 shows Gatehouse's consent page before any redirect to the IdP", async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const before = idp.requests.length
    const { response } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    expect(response.status).toBe(200)
    expect(idp.requests.length).toBe(before)
  })

  it('CS-02 a second client gets its own consent page even after the IdP session exists', async () => {
    const { ua } = await fullFlow()
    const attacker = await registerClient('Evil')
    const { html } = await toConsent(ua, attacker.client_id, 'w'.repeat(43))
    expect(html).toContain('Evil')
  })

  it('CS-03 the page names the client (escaped), the redirect host and URI, the scopes and the resource', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient('<img src=x onerror=alert(1)>')
    const { html } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    expect(html).not.toContain('<img src=x')
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;')
    expect(html).toContain('127.0.0.1:5555')
    expect(html).toContain(CLIENT_REDIRECT)
    expect(html).toContain('mcp:read')
    expect(html).toContain(`${GH}/mcp`)
  })

  it('CS-04 and CS-12 consent and error pages cannot be framed, are not cached and run no script', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const { response, html } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(html).not.toMatch(/<script/i)
  })

  it("CS-05 refuses a consent POST without the CSRF token, with another session's token, and a replay", async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const { txn, csrf } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    expect((await approve(ua, txn, '')).status).toBe(403)
    const other = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const otherConsent = await toConsent(other, client.client_id, 'u'.repeat(43))
    expect((await approve(ua, txn, otherConsent.csrf)).status).toBe(403)
    expect((await approve(new UserAgent({ [GH]: (r) => gh.fetch(r) }), txn, csrf)).status).toBe(403)
    expect((await approve(ua, txn, csrf)).status).toBe(303)
    expect((await approve(ua, txn, csrf)).status).toBe(403)
    expect(errors.map((e) => e.reason)).toContain('consent_csrf')
  })

  it('CS-06 refuses a consent POST from another origin or a cross-site context', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const { txn, csrf } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    expect((await approve(ua, txn, csrf, { origin: 'https://evil.test' })).status).toBe(403)
    expect((await approve(ua, txn, csrf, { 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect((await approve(ua, txn, csrf, { 'sec-fetch-site': 'same-site' })).status).toBe(403)
    const ok = await approve(ua, txn, csrf, { 'sec-fetch-site': 'same-origin', origin: 'null' })
    expect(ok.status).toBe(303)
  })

  it('CS-07 cookies are HttpOnly, SameSite=Lax, Path=/, without Domain, and tampering voids them', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const { response, txn, csrf } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    const set = response.headers.getSetCookie()[0]!
    expect(set).toMatch(/^__gh-csrf=/)
    expect(set).toContain('HttpOnly')
    expect(set).toContain('SameSite=Lax')
    expect(set).toContain('Path=/')
    expect(set).not.toMatch(/domain=/i)
    const jar = ua.jars.get(GH)!
    jar.set('__gh-csrf', `${jar.get('__gh-csrf')!.slice(0, -2)}xx`)
    expect((await approve(ua, txn, csrf)).status).toBe(403)
  })

  it('CS-07 cookies use the __Host- prefix and Secure on an https issuer', async () => {
    const https = await createGatehouse({
      config: {
        issuer: 'https://gw.test',
        secret: 'p'.repeat(32),
        resources: [{ url: 'https://gw.test/mcp' }],
        upstream: {
          kind: 'oidc',
          configUrl: `${idp.issuer}/.well-known/openid-configuration`,
          clientId: 'gatehouse',
          clientSecret: 'upstream-secret-value',
        },
      },
      store: createMemoryStore(),
    })
    const reg = await https.fetch(
      new Request('https://gw.test/register', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [CLIENT_REDIRECT],
          token_endpoint_auth_method: 'none',
        }),
      }),
    )
    const { client_id } = (await reg.json()) as { client_id: string }
    const q = new URLSearchParams({
      response_type: 'code',
      client_id,
      redirect_uri: CLIENT_REDIRECT,
      code_challenge: 'a'.repeat(43),
      code_challenge_method: 'S256',
    })
    const az = await https.fetch(new Request(`https://gw.test/authorize?${q}`))
    const page = await https.fetch(new Request(az.headers.get('location')!))
    const set = page.headers.getSetCookie()[0]!
    expect(set).toMatch(/^__Host-gh-csrf=/)
    expect(set).toContain('Secure')
  })

  it('CS-08 sets no binding cookie until the user approves', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const { response, txn, csrf } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    expect(response.headers.getSetCookie().join()).not.toContain('gh-binding')
    const approved = await approve(ua, txn, csrf)
    expect(approved.headers.getSetCookie().join()).toContain('__gh-binding=')
  })

  it('CS-09 and CS-10 consent is per client and redirect URI: every authorization shows the page', async () => {
    const { ua } = await fullFlow()
    const client = await registerClient()
    const { response } = await toConsent(ua, client.client_id, 'x'.repeat(43))
    expect(response.status).toBe(200)
  })

  it('CS-11 denial returns access_denied with state and iss to the client, and never reaches the IdP', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const { txn, csrf } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    const before = idp.requests.length
    const denied = await ua.request(`${GH}/consent`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'same-origin',
      },
      body: new URLSearchParams({ txn, csrf, action: 'deny' }).toString(),
    })
    expect(denied.status).toBe(303)
    const loc = new URL(denied.headers.get('location')!)
    expect(loc.searchParams.get('error')).toBe('access_denied')
    expect(loc.searchParams.get('state')).toBe('client-state')
    expect(loc.searchParams.get('iss')).toBe(GH)
    expect(idp.requests.length).toBe(before)
  })

  it('CS-13 warns when the redirect goes to a loopback address', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const { html } = await toConsent(ua, client.client_id, 'v'.repeat(43))
    expect(html).toContain('class="warn"')
  })

  it('AZ-22 consent answers 303, never 307 or 308', async () => {
    const { approved } = await fullFlow()
    expect(approved.status).toBe(303)
  })

  it('UP-01 refuses callbacks without state, with an unknown state, or replayed, with a page', async () => {
    const { ua, callback } = await fullFlow()
    for (const url of [
      `${GH}/auth/callback?code=x`,
      `${GH}/auth/callback?code=x&state=unknown`,
      callback,
    ]) {
      const res = await ua.request(url)
      expect(res.status).toBe(400)
      expect(res.headers.get('location')).toBeNull()
    }
  })

  it('UP-01 refuses a callback after the transaction expired', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const consent = await toConsent(ua, client.client_id, 'v'.repeat(43))
    const approved = await approve(ua, consent.txn, consent.csrf)
    const callback = await signInAtIdP(ua, approved.headers.get('location')!)
    // Expire the transaction (10 minutes) by deleting it as the store's TTL would.
    await (
      gh.base as unknown as { options: { store: { delete(k: string): Promise<void> } } }
    ).options.store.delete(`txn:${consent.txn}`)
    const res = await ua.request(callback)
    expect(res.status).toBe(400)
  })

  it('UP-02 refuses a valid state from another browser (no binding cookie)', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const consent = await toConsent(ua, client.client_id, 'v'.repeat(43))
    const approved = await approve(ua, consent.txn, consent.csrf)
    const callback = await signInAtIdP(ua, approved.headers.get('location')!)
    const stranger = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const res = await stranger.request(callback)
    expect(res.status).toBe(400)
    expect(errors.map((e) => e.reason)).toContain('callback_browser_mismatch')
    // The real browser can still finish.
    expect((await ua.request(callback)).status).toBe(302)
  })

  it('UP-03 an injected upstream code fails the exchange and no code reaches the client', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const consent = await toConsent(ua, client.client_id, 'v'.repeat(43))
    await approve(ua, consent.txn, consent.csrf)
    const res = await ua.request(
      `${GH}/auth/callback?code=attacker-code&state=${consent.txn}&iss=${encodeURIComponent(idp.issuer)}`,
    )
    const loc = new URL(res.headers.get('location')!)
    expect(loc.searchParams.get('code')).toBeNull()
    expect(loc.searchParams.get('error')).toBe('temporarily_unavailable')
  })

  it('UP-05 refuses a callback whose iss names another identity provider', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const consent = await toConsent(ua, client.client_id, 'v'.repeat(43))
    await approve(ua, consent.txn, consent.csrf)
    const res = await ua.request(
      `${GH}/auth/callback?code=x&state=${consent.txn}&iss=${encodeURIComponent('https://other-idp.test')}`,
    )
    const loc = new URL(res.headers.get('location')!)
    expect(loc.searchParams.get('code')).toBeNull()
    expect(errors.map((e) => e.reason)).toContain('callback_iss_mismatch')
    // Also on an error response: a foreign iss never gets its error relayed.
    const c2 = await toConsent(ua, client.client_id, 'w'.repeat(43))
    await approve(ua, c2.txn, c2.csrf)
    const err = await ua.request(
      `${GH}/auth/callback?error=access_denied&state=${c2.txn}&iss=${encodeURIComponent('https://other-idp.test')}`,
    )
    expect(new URL(err.headers.get('location')!).searchParams.get('error')).toBe(
      'temporarily_unavailable',
    )
  })

  it("UP-07 the IdP's access_denied goes to the originally validated redirect URI", async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const consent = await toConsent(ua, client.client_id, 'v'.repeat(43))
    await approve(ua, consent.txn, consent.csrf)
    const res = await ua.request(
      `${GH}/auth/callback?error=access_denied&state=${consent.txn}&iss=${encodeURIComponent(idp.issuer)}&redirect_uri=https://evil.test/cb`,
    )
    const loc = new URL(res.headers.get('location')!)
    expect(`${loc.origin}${loc.pathname}`).toBe(CLIENT_REDIRECT)
    expect(loc.searchParams.get('error')).toBe('access_denied')
    expect(loc.searchParams.get('state')).toBe('client-state')
    expect(loc.searchParams.get('iss')).toBe(GH)
  })

  it('UP-04 a wrong password at the IdP issues no code to anyone', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const client = await registerClient()
    const consent = await toConsent(ua, client.client_id, 'v'.repeat(43))
    const approved = await approve(ua, consent.txn, consent.csrf)
    const callback = await signInAtIdP(ua, approved.headers.get('location')!, 'wrong')
    expect(callback).toBe('')
  })

  it('UP-08 no token, code or secret reaches the error hook during a full flow', async () => {
    const { callback } = await fullFlow()
    const code = new URL(callback).searchParams.get('code')!
    expect(logs).not.toContain(code)
    expect(logs).not.toContain('upstream-secret-value')
  })
})
