/**
 * The `/admin` page over HTTP (the browser flows are in test/e2e/admin-*-browser.test.ts):
 * - the operator-token sign-in's failure limit is consulted before the token is compared, so once
 *   ten wrong tokens were tried from an address, even the right one is refused with 429 and
 *   `Retry-After` until the window ends;
 * - the sign-in through Gatehouse (`admin.subjects`, `admin.roles`) on an https issuer: cookie
 *   attributes, state and `iss` checks, a replayed callback, a revoked session grant, and the
 *   start-up checks of the configuration.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import type { AuditEvent } from '../../src/audit-event.js'
import type { Store } from '../../src/storage/store.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  storeOnClock,
  createTestGatehouse,
  ISSUER,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

const OPERATOR_TOKEN = 'operator-token-'.padEnd(48, 'o')

describe('the /admin operator-token sign-in', () => {
  let t: TestGatehouse | undefined
  afterEach(async () => {
    await t?.gh.close()
    t = undefined
  })

  /** A fresh sign-in form: its cookie and CSRF token, as a browser would hold them. */
  async function signInForm(gh: TestGatehouse) {
    const res = await gh.call('/admin')
    expect(res.status).toBe(200)
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!
    const csrf = /name="csrf" value="([^"]+)"/.exec(await res.text())?.[1]
    expect(csrf).toBeDefined()
    return { cookie, csrf: csrf! }
  }

  /** A same-origin form POST to the page, as its buttons send it. */
  const pagePost = (gh: TestGatehouse, cookie: string, fields: Record<string, string>) =>
    gh.call('/admin', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie,
        'sec-fetch-site': 'same-origin',
        origin: ISSUER,
      },
      body: new URLSearchParams(fields).toString(),
    })

  const signIn = (gh: TestGatehouse, session: { cookie: string; csrf: string }, token: string) =>
    pagePost(gh, session.cookie, { csrf: session.csrf, action: 'sign-in', token })

  it('refuses even the right token with 429 after ten failures, until the window passes', async () => {
    const audit: AuditEvent[] = []
    t = await createTestGatehouse({
      config: { admin: { enabled: true, token: OPERATOR_TOKEN } },
      options: { audit: (e) => audit.push(e) },
    })
    const session = await signInForm(t)
    for (let i = 0; i < 10; i++) {
      const wrong = await signIn(t, session, `${OPERATOR_TOKEN}${String(i)}`)
      expect(wrong.status).toBe(401)
    }
    const right = await signIn(t, session, OPERATOR_TOKEN)
    expect(right.status).toBe(429)
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(right.headers.get('set-cookie')).toBeNull()
    expect(right.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await right.text()).toContain('Too many failed sign-ins')
    expect(audit.filter((e) => e.reason === 'rate_limited')).toHaveLength(1)
    expect(audit.some((e) => e.action === 'admin.sign_in' && e.outcome === 'success')).toBe(false)

    // Still refused just before the minute is over, accepted once it is.
    t.clock.advance(59)
    expect((await signIn(t, session, OPERATOR_TOKEN)).status).toBe(429)
    t.clock.advance(1)
    const later = await signIn(t, await signInForm(t), OPERATOR_TOKEN)
    expect(later.status).toBe(303)
    expect(later.headers.get('set-cookie')).toMatch(/^__Host-gh-admin=/)
  })

  it('reads nothing of a cross-site POST and at most 16 KiB of any other', async () => {
    t = await createTestGatehouse({ config: { admin: { enabled: true, token: OPERATOR_TOKEN } } })
    const session = await signInForm(t)
    /** A 64 MiB body that counts how much of it was read. */
    const counting = () => {
      let pulled = 0
      const chunk = new Uint8Array(64 * 1024).fill(0x61)
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= 64 * 1024 * 1024) {
            controller.close()
            return
          }
          pulled += chunk.length
          controller.enqueue(chunk)
        },
      })
      return { stream, pulled: () => pulled }
    }
    for (const site of ['cross-site', 'same-origin']) {
      const body = counting()
      const res = await t.call('/admin', {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: session.cookie,
          'sec-fetch-site': site,
        },
        body: body.stream,
        duplex: 'half',
      } as RequestInit)
      expect(res.status, site).toBe(403)
      // The stream is asked ahead of the reader by at most a chunk or two.
      expect(body.pulled(), site).toBeLessThanOrEqual(
        site === 'cross-site' ? 128 * 1024 : 256 * 1024,
      )
    }
    // A form of the page's size still signs in.
    expect((await signIn(t, session, OPERATOR_TOKEN)).status).toBe(303)
  })

  it('ends an operator session on the server at sign-out: a copy of its cookie opens nothing', async () => {
    t = await createTestGatehouse({ config: { admin: { enabled: true, token: OPERATOR_TOKEN } } })
    const signedIn = await signIn(t, await signInForm(t), OPERATOR_TOKEN)
    expect(signedIn.status).toBe(303)
    const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0]!
    const copy = cookie
    const page = await t.call('/admin', { headers: { cookie } })
    expect(await page.text()).toContain('id="sign-out"')
    const csrf = /name="csrf" value="([^"]+)"/.exec(
      await (await t.call('/admin', { headers: { cookie } })).text(),
    )?.[1]
    const out = await pagePost(t, cookie, { csrf: csrf!, action: 'sign-out' })
    expect(out.status).toBe(303)
    // The copy still carries a valid signature and expiry; the server no longer holds its session.
    const after = await t.call('/admin', { headers: { cookie: copy } })
    const html = await after.text()
    expect(html).not.toContain('id="sign-out"')
    expect(html).toContain('name="token"')
    const revoke = await pagePost(t, copy, { csrf: csrf!, action: 'keys.rotate' })
    expect(revoke.status).toBe(303)
    expect(revoke.headers.get('location')).not.toContain('result=rotated')
  })

  it('signs the browser out even when the store cannot delete the session, and audits that it could not', async () => {
    const audit: AuditEvent[] = []
    const backend = createMemoryStore()
    let failDeletes = false
    const store: Store = {
      ...backend,
      delete: (key) =>
        failDeletes && key.startsWith('admin-session:')
          ? Promise.reject(new Error('store down'))
          : backend.delete(key),
    }
    t = await createTestGatehouse({
      config: { admin: { enabled: true, token: OPERATOR_TOKEN } },
      store,
      options: { audit: (e) => audit.push(e) },
    })
    const signedIn = await signIn(t, await signInForm(t), OPERATOR_TOKEN)
    expect(signedIn.status).toBe(303)
    expect(audit).toContainEqual(
      expect.objectContaining({ action: 'admin.sign_in', outcome: 'success' }),
    )
    const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0]!
    const html = await (await t.call('/admin', { headers: { cookie } })).text()
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1]
    failDeletes = true
    const out = await pagePost(t, cookie, { csrf: csrf!, action: 'sign-out' })
    expect(out.status).toBe(303)
    expect(out.headers.get('set-cookie')).toMatch(/^__Host-gh-admin=;.*Max-Age=0/)
    expect(audit).toContainEqual(
      expect.objectContaining({
        action: 'admin.sign_out',
        outcome: 'failure',
        reason: 'store_unavailable',
      }),
    )
  })

  it('a right token within the limit signs in (nine failures do not lock it)', async () => {
    t = await createTestGatehouse({ config: { admin: { enabled: true, token: OPERATOR_TOKEN } } })
    const session = await signInForm(t)
    for (let i = 0; i < 9; i++) expect((await signIn(t, session, 'nope')).status).toBe(401)
    expect((await signIn(t, session, OPERATOR_TOKEN)).status).toBe(303)
  })
})

/** The `name=value` part of the Set-Cookie headers of a response, by cookie name. */
function cookiesOf(response: Response): Map<string, string> {
  const found = new Map<string, string>()
  for (const header of response.headers.getSetCookie()) {
    const pair = header.split(';')[0]!
    found.set(pair.slice(0, pair.indexOf('=')), header)
  }
  return found
}

const pairOf = (header: string | undefined) => (header ?? '').split(';')[0]!

describe('the /admin sign-in through Gatehouse', () => {
  let t: TestGatehouse | undefined
  afterEach(async () => {
    await t?.gh.close()
    t = undefined
  })

  /** Gatehouse whose `authenticate` hook signs in whoever `who` names, with their roles. */
  async function start(
    who: { subject: string; roles?: string[] },
    admin: object = {},
    own: { store?: Store; now?: () => number } = {},
  ) {
    const audit: AuditEvent[] = []
    t = await createTestGatehouse({
      ...(own.store ? { store: own.store } : {}),
      config: { admin: { enabled: true, subjects: ['root'], roles: ['ops'], ...admin } },
      options: {
        ...(own.now ? { now: own.now } : {}),
        audit: (e) => audit.push(e),
        authenticate: () =>
          Promise.resolve({
            subject: who.subject,
            ...(who.roles ? { claims: { roles: who.roles } } : {}),
          }),
      },
    })
    return { t, audit }
  }

  /** Visits /admin and follows Gatehouse's sign-in up to the callback's answer. */
  async function signIn(gh: TestGatehouse) {
    const visit = await gh.call('/admin')
    expect(visit.status).toBe(303)
    const authorize = new URL(visit.headers.get('location') ?? '')
    expect(authorize.origin + authorize.pathname).toBe(`${ISSUER}/authorize`)
    expect(authorize.searchParams.get('client_id')).toBe('gatehouse-admin')
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    const login = cookiesOf(visit).get('__Host-gh-admin-login')
    const issued = await gh.call(authorize.pathname + authorize.search)
    const callback = new URL(issued.headers.get('location') ?? '')
    expect(callback.pathname).toBe('/admin/callback')
    const answer = await gh.call(callback.pathname + callback.search, {
      headers: { cookie: pairOf(login) },
    })
    return { login, callback, answer }
  }

  it('admits a listed subject: __Host- cookies, HttpOnly, SameSite=Lax, short-lived, bound to the subject', async () => {
    const { t, audit } = await start({ subject: 'root' })
    const { login, answer } = await signIn(t)
    expect(login).toMatch(
      /^__Host-gh-admin-login=.+; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/,
    )
    expect(answer.status).toBe(303)
    expect(answer.headers.get('location')).toBe('/admin')
    const cookies = cookiesOf(answer)
    expect(cookies.get('__Host-gh-admin')).toMatch(
      /; Path=\/; Max-Age=1800; HttpOnly; SameSite=Lax; Secure$/,
    )
    expect(cookies.get('__Host-gh-admin-login')).toMatch(/Max-Age=0/)
    const page = await t.call('/admin', {
      headers: { cookie: pairOf(cookies.get('__Host-gh-admin')) },
    })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Signed in as <code>root</code>')
    expect(audit.find((e) => e.action === 'admin.sign_in')).toMatchObject({
      outcome: 'success',
      subject: 'root',
      actor: 'admin-page:root',
    })
  })

  it('admits by role and refuses a subject on neither list with a 403 page', async () => {
    const ops = await start({ subject: 'someone', roles: ['viewer', 'ops'] })
    expect((await signIn(ops.t)).answer.status).toBe(303)
    await ops.t.gh.close()
    const other = await start({ subject: 'someone', roles: ['viewer'] })
    const { answer } = await signIn(other.t)
    expect(answer.status).toBe(403)
    expect(cookiesOf(answer).has('__Host-gh-admin')).toBe(false)
    expect(await answer.text()).toContain('not an administrator')
  })

  it('refuses a callback without the login cookie, with another state, or from another issuer', async () => {
    const { t } = await start({ subject: 'root' })
    const visit = await t.call('/admin')
    const login = pairOf(cookiesOf(visit).get('__Host-gh-admin-login'))
    const authorize = new URL(visit.headers.get('location') ?? '')
    const callback = new URL(
      (await t.call(authorize.pathname + authorize.search)).headers.get('location') ?? '',
    )
    const at = (params: URLSearchParams, cookie?: string) =>
      t.call(`/admin/callback?${params.toString()}`, cookie ? { headers: { cookie } } : {})
    const noCookie = await at(callback.searchParams)
    expect(noCookie.status).toBe(400)
    const otherState = new URLSearchParams(callback.searchParams)
    otherState.set('state', 'another-state')
    expect((await at(otherState, login)).status).toBe(400)
    const otherIssuer = new URLSearchParams(callback.searchParams)
    otherIssuer.set('iss', 'https://evil.test')
    expect((await at(otherIssuer, login)).status).toBe(400)
    expect(cookiesOf(noCookie).has('__Host-gh-admin')).toBe(false)
    // The untouched callback still works: the refusals consumed nothing.
    expect((await at(callback.searchParams, login)).status).toBe(303)
  })

  it('a replayed callback is refused and ends the session its code opened (the grant is revoked)', async () => {
    const { t } = await start({ subject: 'root' })
    const { login, callback, answer } = await signIn(t)
    const session = pairOf(cookiesOf(answer).get('__Host-gh-admin'))
    const replay = await t.call(callback.pathname + callback.search, {
      headers: { cookie: pairOf(login) },
    })
    expect(replay.status).toBe(400)
    const after = await t.call('/admin', { headers: { cookie: session } })
    expect(after.status).toBe(303)
    expect(after.headers.get('location')).toMatch(/\/authorize\?/)
  })

  it('the grant a sign-in created ends with its session, not when grants usually do', async () => {
    // The store follows the test clock, so lifetimes in the store pass as the clock advances.
    const { clock, store, admin } = await storeOnClock()
    const { t: gh } = await start(
      { subject: 'root' },
      { sessionMinutes: 90 },
      { store, now: clock.now },
    )
    const { answer } = await signIn(gh)
    const session = pairOf(cookiesOf(answer).get('__Host-gh-admin'))
    const adminGrants = async () =>
      (await admin.listGrants()).filter((g) => g.clientId === 'gatehouse-admin')
    expect(await adminGrants()).toHaveLength(1)
    // Past the access token's lifetime (an hour) the session and its grant go on.
    clock.advance(89 * 60)
    expect((await gh.call('/admin', { headers: { cookie: session } })).status).toBe(200)
    expect(await adminGrants()).toHaveLength(1)
    clock.advance(2 * 60)
    expect(await adminGrants()).toEqual([])
    const after = await gh.call('/admin', { headers: { cookie: session } })
    expect(after.status).toBe(303)
    expect(after.headers.get('location')).toMatch(/\/authorize\?/)
    await admin.close()
  })

  it('with an operator token too, offers both: the token form and a link that starts the sign-in', async () => {
    const { t } = await start({ subject: 'root' }, { token: OPERATOR_TOKEN })
    const visit = await t.call('/admin')
    expect(visit.status).toBe(200)
    const html = await visit.text()
    expect(html).toContain('name="token"')
    expect(html).toContain('href="/admin/login"')
    const login = await t.call('/admin/login')
    expect(login.status).toBe(303)
    expect(login.headers.get('location')).toMatch(/^https:\/\/as\.test\/authorize\?/)
    expect(cookiesOf(login).has('__Host-gh-admin-login')).toBe(true)
  })

  it('fails at start-up without a way to sign in, without a list or token, or with the reserved client id', async () => {
    const { createGatehouse } = await import('../../src/gatehouse.js')
    const { createMemoryStore } = await import('../../src/storage/memory.js')
    const base = {
      issuer: ISSUER,
      secret: 'x'.repeat(32),
      resources: [{ url: `${ISSUER}/mcp` }],
    }
    const attempt = (config: object) =>
      createGatehouse({
        config: { ...base, ...config },
        store: createMemoryStore(),
        onWarning: () => undefined,
      })
    await expect(attempt({ admin: { enabled: true, subjects: ['root'] } })).rejects.toThrow(
      /needs an upstream identity provider/,
    )
    await expect(attempt({ admin: { enabled: true } })).rejects.toThrow(
      /admin\.subjects: name who may sign in/,
    )
    const reserved = attempt({
      admin: { enabled: true, subjects: ['root'] },
      clients: [
        {
          clientId: 'gatehouse-admin',
          tokenEndpointAuthMethod: 'none',
          redirectUris: ['https://app.test/cb'],
        },
      ],
    })
    await expect(reserved).rejects.toBeInstanceOf(ConfigError)
    await expect(reserved).rejects.toThrow(/reserved/)
  })
})
