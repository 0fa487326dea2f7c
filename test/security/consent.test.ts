/**
 * Issue 11 item 9: with the `authenticate` hook (no IdP proxied), `/authorize` shows Gatehouse's
 * consent page first, as the proxy does; the hook runs and a code is issued only after "Allow".
 * `dangerouslySkipConsent` is the explicit opt-out and is reported at start-up.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { createGatehouse } from '../../src/gatehouse.js'
import { ConfigError, OAuthError } from '../../src/errors.js'
import type { AuditEvent } from '../../src/audit-event.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  authorizeURL,
  createTestGatehouse,
  form,
  ISSUER,
  pkcePair,
  register,
  RESOURCE,
  SECRET,
  type RegisteredClient,
  type TestGatehouse,
} from '../helpers/gatehouse.js'
import { hiddenInput, UserAgent } from '../helpers/user-agent.js'

const REDIRECT = 'https://app.test/cb'

describe('consent page in front of the authenticate hook', () => {
  let t: TestGatehouse
  let client: RegisteredClient
  let ua: UserAgent
  let signIns: number
  let identity: () => Promise<{ subject: string }>
  let events: AuditEvent[]
  const pkce = pkcePair()
  const consentEvents = () => events.filter((e) => e.event.startsWith('consent_'))

  beforeEach(async () => {
    signIns = 0
    events = []
    identity = () => Promise.resolve({ subject: 'alice' })
    t = await createTestGatehouse({
      options: {
        dangerouslySkipConsent: false,
        audit: (e) => {
          events.push(e)
        },
        authenticate: () => {
          signIns++
          return identity()
        },
      },
    })
    client = await register(t, { client_name: 'Mallory <Tools>' })
    ua = new UserAgent({ [ISSUER]: (r) => t.gh.fetch(r) })
  })

  const start = () =>
    ua.request(
      new URL(
        authorizeURL({
          response_type: 'code',
          client_id: client.client_id,
          redirect_uri: REDIRECT,
          code_challenge: pkce.challenge,
          code_challenge_method: 'S256',
          state: 'st-1',
          scope: 'mcp:read',
          resource: RESOURCE,
        }),
        ISSUER,
      ).href,
    )

  async function toConsent() {
    const res = await start()
    expect(res.status).toBe(302)
    const location = res.headers.get('location') ?? ''
    expect(location.startsWith(`${ISSUER}/consent?txn=`)).toBe(true)
    const page = await ua.request(location)
    const html = await page.text()
    return { page, html, txn: hiddenInput(html, 'txn'), csrf: hiddenInput(html, 'csrf') }
  }

  const post = (txn: string, csrf: string, action: string, headers = {}) =>
    ua.request(`${ISSUER}/consent`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'same-origin',
        ...headers,
      },
      body: new URLSearchParams({ txn, csrf, action }).toString(),
    })

  it('sends /authorize to the consent page, not the client, and asks the hook nothing yet', async () => {
    const res = await start()
    const location = new URL(res.headers.get('location') ?? '')
    expect(`${location.origin}${location.pathname}`).toBe(`${ISSUER}/consent`)
    expect(location.searchParams.get('code')).toBeNull()
    expect(signIns).toBe(0)
    expect(t.warnings).toEqual([])
  })

  it('shows the page: the client, where the code goes, the scopes; unframeable, CSRF cookie set', async () => {
    const { page, html } = await toConsent()
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    expect(page.headers.get('cache-control')).toBe('no-store')
    expect(page.headers.getSetCookie().join('\n')).toMatch(/__Host-gh-csrf=.*HttpOnly.*Secure/)
    expect(html).toContain('Mallory &#60;Tools&#62;')
    expect(html).toContain('app.test')
    expect(html).toContain('mcp:read')
    expect(html).toContain('<button type="submit" name="action" value="deny"')
    expect(signIns).toBe(0)
  })

  it('issues a code only after approval, once, and the code works at /token', async () => {
    const { txn, csrf } = await toConsent()
    const approved = await post(txn, csrf, 'approve')
    expect(approved.status).toBe(303)
    const back = new URL(approved.headers.get('location') ?? '')
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT)
    expect(back.searchParams.get('state')).toBe('st-1')
    expect(back.searchParams.get('iss')).toBe(ISSUER)
    const code = back.searchParams.get('code')
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(signIns).toBe(1)

    // The same consent posted again (replay, double click) issues nothing more.
    expect((await post(txn, csrf, 'approve')).status).toBe(403)
    expect(signIns).toBe(1)
    // One audit event for the one approval that took effect, none for the replay.
    expect(consentEvents()).toEqual([
      expect.objectContaining({
        event: 'consent_given',
        outcome: 'success',
        clientId: client.client_id,
      }),
    ])

    const token = await t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code: code!,
        code_verifier: pkce.verifier,
        redirect_uri: REDIRECT,
        client_id: client.client_id,
      }),
    )
    expect(token.status).toBe(200)
    const { access_token } = (await token.json()) as { access_token: string }
    const me = await t.mcp({ headers: { authorization: `Bearer ${access_token}` } })
    expect(await me.json()).toMatchObject({ sub: 'alice', client: client.client_id })
  })

  it('deny sends access_denied with state and iss, and no code; the hook is never called', async () => {
    const { txn, csrf } = await toConsent()
    const denied = await post(txn, csrf, 'deny')
    expect(denied.status).toBe(303)
    const back = new URL(denied.headers.get('location') ?? '')
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT)
    expect(back.searchParams.get('error')).toBe('access_denied')
    expect(back.searchParams.get('state')).toBe('st-1')
    expect(back.searchParams.get('iss')).toBe(ISSUER)
    expect(back.searchParams.get('code')).toBeNull()
    // Approving after a denial finds nothing.
    expect((await post(txn, csrf, 'approve')).status).toBe(403)
    expect(signIns).toBe(0)
    expect(consentEvents()).toEqual([
      expect.objectContaining({
        event: 'consent_denied',
        outcome: 'denied',
        clientId: client.client_id,
      }),
    ])
  })

  it('refuses a post without the CSRF cookie, with a wrong token, or from another site', async () => {
    const { txn, csrf } = await toConsent()
    const stranger = new UserAgent({ [ISSUER]: (r) => t.gh.fetch(r) })
    const noCookie = await stranger.request(`${ISSUER}/consent`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'same-origin',
      },
      body: new URLSearchParams({ txn, csrf, action: 'approve' }).toString(),
    })
    expect(noCookie.status).toBe(403)
    expect((await post(txn, 'x'.repeat(43), 'approve')).status).toBe(403)
    expect((await post(txn, csrf, 'approve', { 'sec-fetch-site': 'cross-site' })).status).toBe(403)
    expect(signIns).toBe(0)
    expect(t.errors.map((e) => e.reason)).toEqual([
      'consent_csrf',
      'consent_csrf',
      'consent_cross_origin',
    ])
    // The real page still works afterwards.
    expect((await post(txn, csrf, 'approve')).status).toBe(303)
  })

  it("the hook's refusal reaches the client as its OAuth error, with state and iss", async () => {
    identity = () => Promise.reject(new OAuthError('access_denied', 'not allowed here'))
    const { txn, csrf } = await toConsent()
    const res = await post(txn, csrf, 'approve')
    expect(res.status).toBe(303)
    const back = new URL(res.headers.get('location') ?? '')
    expect(back.searchParams.get('error')).toBe('access_denied')
    expect(back.searchParams.get('state')).toBe('st-1')
    expect(back.searchParams.get('iss')).toBe(ISSUER)
    expect(back.searchParams.get('code')).toBeNull()
  })
})

describe('dangerouslySkipConsent', () => {
  it('issues the code straight from /authorize and warns once at start-up', async () => {
    const t = await createTestGatehouse({ options: { dangerouslySkipConsent: true } })
    expect(t.warnings).toHaveLength(1)
    expect(t.warnings[0]).toMatch(/^dangerouslySkipConsent: .*no consent page/)
    const client = await register(t)
    const { challenge } = pkcePair()
    const res = await t.call(
      authorizeURL({
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: REDIRECT,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 's',
        resource: RESOURCE,
      }),
    )
    expect(new URL(res.headers.get('location') ?? '').searchParams.get('code')).toBeTypeOf('string')
    expect((await t.call('/consent')).status).toBe(404)
  })

  it('is refused with an upstream identity provider: the proxy always asks', async () => {
    const start = createGatehouse({
      config: {
        issuer: ISSUER,
        secret: SECRET,
        resources: [{ url: RESOURCE, scopes: ['mcp:read'] }],
        upstream: {
          kind: 'oauth',
          authorizationEndpoint: 'https://idp.test/authorize',
          tokenEndpoint: 'https://idp.test/token',
          issuer: 'https://idp.test',
          jwksUri: 'https://idp.test/jwks',
          clientId: 'gatehouse',
          clientSecret: 'upstream-secret-value',
        },
      },
      store: createMemoryStore(),
      dangerouslySkipConsent: true,
    })
    await expect(start).rejects.toBeInstanceOf(ConfigError)
    await expect(start).rejects.toThrow(/dangerouslySkipConsent/)
  })
})
