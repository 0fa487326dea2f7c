/**
 * The operator page at `{basePath}/admin` (config `admin`, off by default): live grants, clients,
 * signing keys and this instance's recent audit events, with revoke / delete / rotate buttons.
 *
 * - Sign-in through Gatehouse itself (`admin.subjects`, `admin.roles`): the page is a first-party
 *   client of its own authorization server (src/presets/admin-sign-in.ts); an unauthenticated visit
 *   starts an authorization-code + PKCE flow (state and verifier in a signed, HttpOnly login
 *   cookie for 10 minutes), `/admin/callback` checks state and `iss`, redeems the code and admits
 *   the subject only when it, or one of its roles, is on the list; anyone else gets a 403 page
 *   and the grant the sign-in created is revoked. The session is bound to the subject and to that
 *   grant: it ends when the grant is revoked, at sign-out (which revokes it), or after
 *   `admin.sessionMinutes`.
 * - Or, for headless use, the operator token (`admin.token`, compared in constant time, 10
 *   failures a minute per address; the limit is consulted before the compare, so after it even
 *   the right token is refused with 429 until the window ends), then a signed session cookie for
 *   `admin.sessionMinutes`, whose session the store holds until then or until sign-out.
 * - Every POST (sign-in included) needs the CSRF token of the session cookie in the form and a
 *   same-origin `Sec-Fetch-Site` (or `Origin`), as the consent page does.
 * - Plain HTML: no scripts, a style allowed by its hash only, `frame-ancestors 'none'`,
 *   `form-action 'self'`; every value escaped; nothing secret is ever rendered.
 * - Every change goes through the administration API, so it emits one `admin_action` audit event.
 */
import { OAuthError } from '../errors.js'
import type { ResolvedConfig } from '../config/schema.js'
import type { Route } from '../http/app.js'
import { readCookie, serializeCookie, type CookieSigner } from '../http/cookies.js'
import { readBodyText } from '../http/params.js'
import { randomToken, sha256, timingSafeEqual } from '../http/random.js'
import { RateLimiter } from '../http/rate-limit.js'
import { escapeHTML } from '../http/responses.js'
import { AdminError, type Admin } from './admin.js'
import type { AuditEvent, AuditSink } from '../audit-event.js'
import { secretsEqual } from '../ops/metrics-access.js'
import { storageKey } from '../storage/keys.js'
import type { Store } from '../storage/store.js'

/** The largest form the page's buttons send (a CSRF token, an action and an id or two). */
const FORM_BYTES = 16 * 1024

/** Gatehouse's own sign-in, as the page drives it (src/presets/admin-sign-in.ts implements it). */
export interface AdminSignInPort {
  /** A new sign-in: the `/authorize` URL, and the state and PKCE verifier the callback needs. */
  start(): Promise<{ location: string; state: string; verifier: string }>
  /** Redeems the code at Gatehouse's token endpoint: who signed in, or `undefined` on failure. */
  finish(
    code: string,
    verifier: string,
  ): Promise<{ subject: string; roles: readonly string[]; grantId: string } | undefined>
  /** Whether a session's grant is still live (read from the store). */
  active(grantId: string): Promise<boolean>
  /** Revokes a session's grant (sign-out, a refused subject). */
  end(grantId: string): Promise<void>
}

export interface AdminPageDeps {
  config: ResolvedConfig
  /** The administration API over the running Gatehouse's store and audit sink, as `actor`. */
  adminFor: (actor: string) => Admin
  /** Sign-in through Gatehouse (`admin.subjects`, `admin.roles`); unset: the operator token only. */
  signIn?: AdminSignInPort
  cookies: CookieSigner
  audit: AuditSink
  recentAudit: () => readonly AuditEvent[]
  addressOf: (request: Request) => string | undefined
  /**
   * Where operator-token sessions are kept while they last (`admin-session:`), so that signing out
   * ends one on the server, not only in the browser that signed out.
   */
  sessions: Pick<Store, 'get' | 'set' | 'delete'>
  now: () => number
}

/**
 * The session cookie: a CSRF token, an expiry, and who signed in: the operator token
 * (`operator`), or a subject through Gatehouse with the grant its sign-in created and the listed
 * roles that admitted it.
 */
interface Session {
  csrf: string
  /** An operator-token session's id: it lasts while the store holds it. */
  sid?: string
  /** Milliseconds since the epoch. */
  exp: number
  operator: boolean
  subject?: string
  grantId?: string
  roles?: string[]
}

/** The login cookie between `/admin` and `/admin/callback`. */
interface PendingSignIn {
  state: string
  verifier: string
  /** Milliseconds since the epoch. */
  exp: number
}

const COOKIE = 'gh-admin'
const LOGIN_COOKIE = 'gh-admin-login'
/** How long a sign-in form stays usable. */
const FORM_MINUTES = 10
/** Who the audit events name for actions taken on the page. */
export const ADMIN_PAGE_ACTOR = 'admin-page'

const STYLE =
  'body{font:15px system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem}table{border-collapse:collapse;width:100%;margin-bottom:1.5rem}th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}code{font-size:.85rem}form.inline{display:inline}.notice{background:#eef6ee;border:1px solid #7a7;padding:.5rem}.error{background:#fff0f0;border:1px solid #c77;padding:.5rem}'

/** Fixed notices after an action (the query names one; nothing from it is echoed). */
const NOTICES: Readonly<Record<string, [string, string]>> = {
  revoked: ['notice', 'Grant revoked.'],
  deleted: ['notice', 'Client deleted; its grants were revoked.'],
  rotated: ['notice', 'Signing key rotated.'],
  not_found: ['error', 'Not found (already revoked, deleted or expired).'],
  read_only: ['error', 'That client comes from the configuration or a metadata document.'],
  invalid_input: ['error', 'The request was incomplete.'],
  failed: ['error', 'The action failed; see the server log.'],
}

/** The `/admin` routes. */
export async function adminPageRoutes(deps: AdminPageDeps): Promise<Route[]> {
  const { config, cookies, now } = deps
  const path = `${config.basePath}/admin`
  const secure = new URL(config.issuer).protocol === 'https:'
  const origin = new URL(config.issuer).origin
  const styleHash = await sha256Base64(STYLE)
  const headers = {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'sha256-${styleHash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
  }
  const failures = new RateLimiter({ windowSeconds: 60, limit: 10, now })
  const signIn = deps.signIn
  const tokenMode = config.admin.token !== undefined
  const clearLogin = serializeCookie(LOGIN_COOKIE, '', { secure, maxAgeSeconds: 0 })

  /** Who a Gatehouse sign-in admits: the listed roles it holds, or `undefined` when refused. */
  function admittedBy(subject: string, roles: readonly string[]): string[] | undefined {
    const matched = roles.filter((r) => config.admin.roles.includes(r))
    if (config.admin.subjects.includes(subject) || matched.length > 0) return matched
    return undefined
  }

  /** The actor of a signed-in session (audit events name it), or `undefined`. */
  async function actorOf(current: Session | undefined): Promise<string | undefined> {
    if (current === undefined) return undefined
    if (current.operator) {
      const live = tokenMode && current.sid !== undefined && (await operatorSession(current.sid))
      return live ? ADMIN_PAGE_ACTOR : undefined
    }
    const { subject, grantId } = current
    if (signIn === undefined || subject === undefined || grantId === undefined) return undefined
    if (admittedBy(subject, current.roles ?? []) === undefined) return undefined
    if (!(await signIn.active(grantId))) return undefined
    return `${ADMIN_PAGE_ACTOR}:${subject}`
  }

  /** The store key of an operator session (its id hashed: the store never holds the cookie's). */
  const operatorKey = async (sid: string) => storageKey.adminSession(await sha256(sid))

  /** Whether an operator session is still held (signing out deletes it). */
  const operatorSession = async (sid: string) =>
    (await deps.sessions.get(await operatorKey(sid))) !== undefined

  async function session(request: Request): Promise<Session | undefined> {
    const value = await cookies.verify<Session>(COOKIE, readCookie(request, COOKIE, secure))
    if (value === undefined || typeof value.csrf !== 'string' || !(value.exp > now())) {
      return undefined
    }
    return value
  }

  async function newSession(
    operator: boolean,
    who?: { subject: string; grantId: string; roles: string[] },
  ): Promise<{ session: Session; cookie: string }> {
    const minutes = operator || who !== undefined ? config.admin.sessionMinutes : FORM_MINUTES
    const fresh: Session = {
      csrf: randomToken(32),
      exp: now() + minutes * 60_000,
      operator,
      ...(who ?? {}),
    }
    if (operator) {
      fresh.sid = randomToken(32)
      await deps.sessions.set(
        await operatorKey(fresh.sid),
        { exp: fresh.exp },
        {
          ttlSeconds: minutes * 60,
        },
      )
    }
    const cookie = serializeCookie(COOKIE, await cookies.sign(COOKIE, fresh), {
      secure,
      maxAgeSeconds: minutes * 60,
    })
    return { session: fresh, cookie }
  }

  const page = (status: number, title: string, body: string, cookie?: string): Response => {
    const response = new Response(
      `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHTML(title)}</title><style>${STYLE}</style></head><body>
${body}
</body></html>`,
      { status, headers },
    )
    if (cookie !== undefined) response.headers.append('set-cookie', cookie)
    return response
  }

  const signInPage = (csrf: string, status = 200, message?: string, cookie?: string) =>
    page(
      status,
      'Gatehouse administration: sign in',
      `<h1>Gatehouse administration</h1>
${message !== undefined ? `<p class="error" id="message">${escapeHTML(message)}</p>` : ''}
${signIn !== undefined ? `<p><a id="sign-in-gatehouse" href="${escapeHTML(path)}/login">Sign in with Gatehouse</a></p>` : ''}
<form method="post" action="${escapeHTML(path)}">
<input type="hidden" name="csrf" value="${escapeHTML(csrf)}">
<input type="hidden" name="action" value="sign-in">
<label>Operator token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit" id="sign-in">Sign in</button>
</form>`,
      cookie,
    )

  const redirect = (query: string, cookie?: string): Response => {
    const response = new Response(null, {
      status: 303,
      headers: {
        location: `${path}${query}`,
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      },
    })
    if (cookie !== undefined) response.headers.append('set-cookie', cookie)
    return response
  }

  /** A 303 to another place (the authorization endpoint), setting `cookies`. */
  const seeOther = (location: string, ...cookies: string[]): Response => {
    const response = new Response(null, {
      status: 303,
      headers: { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
    })
    for (const cookie of cookies) response.headers.append('set-cookie', cookie)
    return response
  }

  /** Starts a sign-in through Gatehouse: the login cookie, and off to `/authorize`. */
  async function startSignIn(port: AdminSignInPort): Promise<Response> {
    const { location, state, verifier } = await port.start()
    const pending: PendingSignIn = { state, verifier, exp: now() + FORM_MINUTES * 60_000 }
    const cookie = serializeCookie(LOGIN_COOKIE, await cookies.sign(LOGIN_COOKIE, pending), {
      secure,
      maxAgeSeconds: FORM_MINUTES * 60,
    })
    return seeOther(location, cookie)
  }

  const failedSignIn = (status: number, title: string, body: string) =>
    page(
      status,
      title,
      `<h1>${escapeHTML(title)}</h1>${body}<p><a id="start-again" href="${escapeHTML(path)}">Start again</a></p>`,
      clearLogin,
    )

  /** `GET /admin/callback`: the end of a sign-in through Gatehouse. */
  async function callback(request: Request, port: AdminSignInPort): Promise<Response> {
    const params = new URL(request.url).searchParams
    const pending = await cookies.verify<PendingSignIn>(
      LOGIN_COOKIE,
      readCookie(request, LOGIN_COOKIE, secure),
    )
    const state = params.get('state')
    if (
      pending === undefined ||
      typeof pending.state !== 'string' ||
      typeof pending.verifier !== 'string' ||
      !(pending.exp > now()) ||
      state === null ||
      !timingSafeEqual(pending.state, state)
    ) {
      return failedSignIn(
        400,
        'Sign-in expired',
        '<p>This sign-in was not started here, or it took too long.</p>',
      )
    }
    const fail = (reason: string, who?: { subject: string; grantId: string }) => {
      deps.audit.emit({
        event: 'admin_action',
        outcome: 'failure',
        action: 'admin.sign_in',
        reason,
        ...(who !== undefined ? { subject: who.subject, grantId: who.grantId } : {}),
      })
    }
    // RFC 9207: the response must come from this authorization server.
    const code = params.get('code')
    if (params.get('iss') !== config.issuer || params.get('error') !== null || code === null) {
      fail('sign_in_not_completed')
      return failedSignIn(
        400,
        'Sign-in not completed',
        '<p>The sign-in was cancelled or refused.</p>',
      )
    }
    const who = await port.finish(code, pending.verifier)
    if (who === undefined) {
      fail('code_exchange_failed')
      return failedSignIn(
        400,
        'Sign-in not completed',
        '<p>The sign-in could not be completed.</p>',
      )
    }
    const matched = admittedBy(who.subject, who.roles)
    if (matched === undefined) {
      await port.end(who.grantId)
      fail('not_admitted', who)
      return failedSignIn(
        403,
        'Not an administrator',
        `<p class="error" id="refused">You signed in as <code id="subject">${escapeHTML(who.subject)}</code>, who is not an administrator of this Gatehouse (its <code>admin.subjects</code> and <code>admin.roles</code>). Ask an operator to add you.</p>`,
      )
    }
    deps.audit.emit({
      event: 'admin_action',
      outcome: 'success',
      action: 'admin.sign_in',
      actor: `${ADMIN_PAGE_ACTOR}:${who.subject}`,
      subject: who.subject,
      grantId: who.grantId,
    })
    const fresh = await newSession(false, {
      subject: who.subject,
      grantId: who.grantId,
      roles: matched,
    })
    return seeOther(path, fresh.cookie, clearLogin)
  }

  async function dashboard(request: Request, current: Session, actor: string): Promise<Response> {
    const admin = deps.adminFor(actor)
    const [grants, clients, keys] = await Promise.all([
      admin.listGrants(),
      admin.listClients(),
      admin.listKeys(),
    ])
    const csrf = escapeHTML(current.csrf)
    const button = (action: string, id: string, label: string, name: string) =>
      `<form class="inline" method="post" action="${escapeHTML(path)}"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="action" value="${action}"><input type="hidden" name="id" value="${escapeHTML(id)}"><button type="submit" name="${name}">${label}</button></form>`
    const result = new URL(request.url).searchParams.get('result') ?? ''
    const notice = Object.hasOwn(NOTICES, result) ? NOTICES[result] : undefined
    const grantRows = grants
      .map(
        (g) =>
          `<tr data-grant="${escapeHTML(g.grantId)}"><td><code>${escapeHTML(g.grantId)}</code></td><td>${escapeHTML(g.subject)}</td><td><code>${escapeHTML(g.clientId)}</code></td><td>${escapeHTML(g.scopes.join(' '))}</td><td>${escapeHTML(g.resource)}</td><td>${iso(g.createdAt)}</td><td>${button('grant.revoke', g.grantId, 'Revoke', 'revoke')}</td></tr>`,
      )
      .join('\n')
    const clientRows = clients
      .map(
        (c) =>
          `<tr data-client="${escapeHTML(c.clientId)}"><td><code>${escapeHTML(c.clientId)}</code></td><td>${escapeHTML(c.kind)}</td><td>${escapeHTML(c.name ?? '')}</td><td>${escapeHTML(c.redirectUris.join(' '))}</td><td>${c.readOnly ? '' : button('client.delete', c.clientId, 'Delete', 'delete')}</td></tr>`,
      )
      .join('\n')
    const keyRows = keys
      .map(
        (k) =>
          `<tr data-kid="${escapeHTML(k.kid)}"><td><code>${escapeHTML(k.kid)}</code></td><td>${escapeHTML(k.alg)}</td><td>${k.current ? 'current' : ''}</td><td>${iso(k.createdAt)}</td><td>${k.retiredAt !== undefined ? iso(k.retiredAt) : ''}</td></tr>`,
      )
      .join('\n')
    const auditRows = deps
      .recentAudit()
      .map(
        (e) =>
          `<tr><td>${escapeHTML(e.time)}</td><td>${escapeHTML(e.event)}</td><td>${escapeHTML(e.outcome)}</td><td>${escapeHTML(e.action ?? '')}</td><td><code>${escapeHTML(e.clientId ?? '')}</code></td><td>${escapeHTML(e.subject ?? '')}</td><td><code>${escapeHTML(e.grantId ?? e.kid ?? '')}</code></td><td>${escapeHTML(e.reason ?? '')}</td></tr>`,
      )
      .join('\n')
    const table = (id: string, columns: string[], rows: string) =>
      rows === ''
        ? `<p id="${id}">None.</p>`
        : `<table id="${id}"><thead><tr>${columns.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>\n${rows}\n</tbody></table>`
    return page(
      200,
      'Gatehouse administration',
      `<h1>Gatehouse administration</h1>
<p id="signed-in-as">${current.subject !== undefined ? `Signed in as <code>${escapeHTML(current.subject)}</code>` : 'Signed in with the operator token'}</p>
<form method="post" action="${escapeHTML(path)}"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="action" value="sign-out"><button type="submit" id="sign-out">Sign out</button></form>
${notice ? `<p class="${notice[0]}" id="message">${escapeHTML(notice[1])}</p>` : ''}
<h2>Active grants (${String(grants.length)})</h2>
${table('grants', ['Grant', 'Subject', 'Client', 'Scopes', 'Resource', 'Created', ''], grantRows)}
<h2>Clients (${String(clients.length)})</h2>
${table('clients', ['Client', 'Kind', 'Name', 'Redirect URIs', ''], clientRows)}
<h2>Signing keys</h2>
${table('keys', ['kid', 'alg', '', 'Created', 'Retired'], keyRows)}
<form method="post" action="${escapeHTML(path)}"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="action" value="keys.rotate"><button type="submit" id="rotate">Rotate signing key</button></form>
<h2>Recent audit events (this instance)</h2>
${table('audit', ['Time', 'Event', 'Outcome', 'Action', 'Client', 'Subject', 'Grant / key', 'Reason'], auditRows)}`,
    )
  }

  async function get(request: Request): Promise<Response> {
    const current = await session(request)
    const actor = await actorOf(current)
    if (current !== undefined && actor !== undefined) return dashboard(request, current, actor)
    // Without an operator token, an unauthenticated visit goes straight to Gatehouse's sign-in.
    if (signIn !== undefined && !tokenMode) return startSignIn(signIn)
    if (current !== undefined && !current.operator && current.subject === undefined) {
      return signInPage(current.csrf)
    }
    const fresh = await newSession(false)
    return signInPage(fresh.session.csrf, 200, undefined, fresh.cookie)
  }

  async function post(request: Request): Promise<Response> {
    const current = await session(request)
    // Nothing of a cross-site POST is read, and at most 16 KiB of any (a larger form is refused).
    const fromPage = sameOriginPost(request, origin)
    const text = fromPage ? await readBodyText(request, FORM_BYTES).catch(() => '') : ''
    const form = new URLSearchParams(text)
    const csrf = form.get('csrf')
    if (
      !fromPage ||
      current === undefined ||
      csrf === null ||
      !timingSafeEqual(current.csrf, csrf)
    ) {
      return page(
        403,
        'Refused',
        `<h1>Refused</h1><p>This form expired or did not come from this page. <a href="${escapeHTML(path)}">Start again</a>.</p>`,
      )
    }
    const action = form.get('action') ?? ''
    if (action === 'sign-in' && tokenMode) {
      const address = deps.addressOf(request) ?? 'unknown'
      // Before the compare: once the failures of this window are spent, the right token is
      // refused too, so the limit bounds guesses instead of only slowing the wrong ones.
      try {
        failures.check(address)
      } catch (error) {
        if (!(error instanceof OAuthError)) throw error
        deps.audit.emit({
          event: 'admin_action',
          outcome: 'failure',
          action: 'admin.sign_in',
          reason: 'rate_limited',
        })
        const refused = signInPage(
          current.csrf,
          429,
          'Too many failed sign-ins from this address; try again later.',
        )
        for (const [name, value] of Object.entries(error.headers)) refused.headers.set(name, value)
        return refused
      }
      const token = config.admin.token
      const ok = token !== undefined && (await secretsEqual(form.get('token') ?? '', token))
      if (!ok) {
        failures.hit(address)
        deps.audit.emit({
          event: 'admin_action',
          outcome: 'failure',
          action: 'admin.sign_in',
          reason: 'bad_operator_token',
        })
        return signInPage(current.csrf, 401, 'That is not the operator token.')
      }
      // The session first: a store that cannot hold it fails the sign-in, which is then not
      // audited as a success.
      const fresh = await newSession(true)
      deps.audit.emit({
        event: 'admin_action',
        outcome: 'success',
        action: 'admin.sign_in',
        actor: ADMIN_PAGE_ACTOR,
      })
      return redirect('', fresh.cookie)
    }
    const actor = await actorOf(current)
    if (actor === undefined) return redirect('')
    if (action === 'sign-out') {
      // A Gatehouse sign-in's grant goes with its session; an operator session's record too. The
      // browser forgets the session whatever the store says; a record the store could not delete
      // is audited, since the session then lasts until `sessionMinutes` for a copy of the cookie.
      const cleared = serializeCookie(COOKIE, '', { secure, maxAgeSeconds: 0 })
      try {
        if (current.grantId !== undefined) await signIn?.end(current.grantId)
        if (current.sid !== undefined) await deps.sessions.delete(await operatorKey(current.sid))
      } catch {
        deps.audit.emit({
          event: 'admin_action',
          outcome: 'failure',
          action: 'admin.sign_out',
          actor,
          reason: 'store_unavailable',
        })
      }
      return redirect('', cleared)
    }
    const admin = deps.adminFor(actor)
    const id = form.get('id') ?? ''
    try {
      switch (action) {
        case 'grant.revoke':
          if (id === '') throw new AdminError('invalid_input', 'no grant')
          await admin.revokeGrant(id)
          return redirect('?result=revoked')
        case 'client.delete':
          if (id === '') throw new AdminError('invalid_input', 'no client')
          await admin.deleteClient(id)
          return redirect('?result=deleted')
        case 'keys.rotate':
          await admin.rotateKeys()
          return redirect('?result=rotated')
        default:
          return redirect('?result=invalid_input')
      }
    } catch (error) {
      if (error instanceof AdminError) return redirect(`?result=${error.code}`)
      if (error instanceof OAuthError) throw error
      return redirect('?result=failed')
    }
  }

  const routes: Route[] = [{ path, cors: false, methods: { GET: get, POST: post } }]
  if (signIn !== undefined) {
    routes.push(
      { path: `${path}/login`, cors: false, methods: { GET: () => startSignIn(signIn) } },
      { path: `${path}/callback`, cors: false, methods: { GET: (r) => callback(r, signIn) } },
    )
  }
  return routes
}

/**
 * As the consent page: a browser's `Sec-Fetch-Site` must say `same-origin`; without it, `Origin`
 * must be absent or the issuer's origin.
 */
function sameOriginPost(request: Request, issuerOrigin: string): boolean {
  const site = request.headers.get('sec-fetch-site')
  if (site !== null) return site === 'same-origin'
  const origin = request.headers.get('origin')
  return origin === null || origin === issuerOrigin
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

async function sha256Base64(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)),
  )
  let binary = ''
  for (const byte of digest) binary += String.fromCharCode(byte)
  return btoa(binary)
}
