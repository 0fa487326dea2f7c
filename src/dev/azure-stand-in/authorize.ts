/**
 * `/{tenant}/oauth2/v2.0/authorize` and the sign-in page. Entra's rules kept here: a known client
 * and an exactly registered redirect URI (else an error page, never a redirect); `response_type=code`;
 * no `resource` parameter on v2 (AADSTS9010010); PKCE S256 required; `scope` required, every scope
 * OIDC or a scope some resource exposes (AADSTS650053). The page posts username and password;
 * success redirects with `code`, `state` and `session_state` (no `iss`, as Entra).
 */
import { timingSafeEqual } from 'node:crypto'
import { OIDC } from './directory.js'
import { errorPage, escape, PAGE_HEADERS, redirectError } from './errors.js'
import { randomID, type StandInState } from './state.js'

export function handleAuthorize(state: StandInState, tenantSegment: string, url: URL): Response {
  const params = Object.fromEntries(url.searchParams)
  state.record({ endpoint: 'authorize', tenant: tenantSegment, params })
  const app = state.directory.app(params.client_id)
  if (!app)
    return errorPage(
      700016,
      `Application with identifier '${params.client_id ?? ''}' was not found in the directory.`,
    )
  const redirectUri = params.redirect_uri
  if (redirectUri === undefined || !app.redirectUris.includes(redirectUri)) {
    return errorPage(
      50011,
      'The redirect URI specified in the request does not match the redirect URIs configured for the application.',
    )
  }
  const fail = (error: string, code: number, text: string) =>
    redirectError(redirectUri, params.state, error, code, text)
  const tenant = state.directory.tenantFor(tenantSegment)
  if (!tenant) return errorPage(90002, `Tenant '${tenantSegment}' not found.`)
  if (params.response_type !== 'code') {
    return fail('unsupported_response_type', 700054, "response_type 'code' is required.")
  }
  if (params.resource !== undefined) {
    return fail(
      'invalid_target',
      9010010,
      "The resource parameter provided in the request doesn't match with the requested scopes.",
    )
  }
  if (params.code_challenge === undefined || params.code_challenge_method !== 'S256') {
    return fail('invalid_request', 9002325, 'Proof Key for Code Exchange is required (S256).')
  }
  const scopes = (params.scope ?? '').split(' ').filter((s) => s !== '')
  if (scopes.length === 0) {
    return fail(
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'scope'.",
    )
  }
  for (const s of scopes) {
    if (!OIDC.has(s) && state.directory.resolveScope(s) === undefined) {
      return fail(
        'invalid_client',
        650053,
        `The application asked for scope '${s}' that doesn't exist on the resource.`,
      )
    }
  }
  const id = randomID()
  state.pending.set(id, {
    tenantSegment,
    tenantId: tenant.id,
    b2c: tenant.b2c,
    app,
    params,
    scopes,
  })
  return new Response(null, {
    status: 302,
    headers: { location: `${state.base}/${tenantSegment}/login/${id}` },
  })
}

export function handleLoginPage(state: StandInState, id: string, message = ''): Response {
  const pending = state.pending.get(id)
  if (!pending) return errorPage(50058, 'The sign-in session is unknown or has expired.')
  return new Response(
    `<!doctype html><html><head><title>Sign in to your account</title></head><body>
<h1>Sign in</h1><p>to ${escape(pending.app.clientId)} (Entra stand-in)</p>
${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="${escape(`${state.base}/${pending.tenantSegment}/login/${id}/login`)}">
<label>Email or phone <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>`,
    {
      status: message ? 401 : 200,
      headers: PAGE_HEADERS,
    },
  )
}

export async function handleLogin(
  state: StandInState,
  id: string,
  request: Request,
): Promise<Response> {
  const pending = state.pending.get(id)
  if (!pending) return errorPage(50058, 'The sign-in session is unknown or has expired.')
  const form = new URLSearchParams(await request.text())
  const user = state.directory.user(form.get('username') ?? '')
  const password = Buffer.from(form.get('password') ?? '')
  const expected = Buffer.from(user?.password ?? '\0')
  const ok =
    user !== undefined && password.length === expected.length && timingSafeEqual(password, expected)
  if (!ok) return handleLoginPage(state, id, 'Your account or password is incorrect.')
  state.pending.delete(id)
  const redirect = new URL(pending.params.redirect_uri ?? '')
  if (!state.userFits(user, pending.tenantId, pending.app)) {
    return redirectError(
      redirect.href,
      pending.params.state,
      'access_denied',
      50020,
      'User account from identity provider does not exist in tenant and cannot access the application.',
    )
  }
  state.consent(user, pending.app, pending.scopes)
  const code = randomID() + randomID()
  state.codes.set(code, {
    pending,
    user,
    expiresAt: state.now() + 10 * 60_000,
    redeemed: false,
  })
  redirect.searchParams.set('code', code)
  if (pending.params.state !== undefined) redirect.searchParams.set('state', pending.params.state)
  redirect.searchParams.set('session_state', randomID())
  return new Response(null, { status: 302, headers: { location: redirect.href } })
}
