/**
 * GitHub's web application flow as GitHub documents it:
 * - `GET /login/oauth/authorize`: unknown `client_id` is an error page; a `redirect_uri` that is
 *   not the app's callback URL (same host and port, path at or below it) goes back to the
 *   callback URL with `error=redirect_uri_mismatch`; PKCE optional, S256 only; scopes separated by
 *   spaces or commas (OAuth apps; GitHub Apps ignore them). Success returns `code` and `state`
 *   only (no `iss`: GitHub is not an OpenID provider).
 * - `POST /login/oauth/access_token`: answers in the format the `Accept` header asks for, form
 *   encoding by default; its errors come with status 200 and `error` in the body
 *   (`incorrect_client_credentials`, `redirect_uri_mismatch`, `bad_verification_code`,
 *   `bad_refresh_token`, `unsupported_grant_type`). OAuth apps get tokens that do not expire and
 *   no refresh token; GitHub Apps with expiring tokens get `expires_in` 28800 and a refresh token
 *   (`refresh_token_expires_in` 15897600) that is spent on use, with the old access token.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import {
  errorPage,
  loginPage,
  parseBasic,
  randomID,
  recordedHeaders,
  same,
} from '../stand-in-kit.js'
import { isGitHubApp, type GitHubStandInApp, type GitHubState, type IssuedToken } from './state.js'

const CODE_TTL_MS = 10 * 60_000
const APP_TOKEN_TTL_S = 28_800
const REFRESH_TTL_S = 15_897_600

export function handleAuthorize(state: GitHubState, request: Request): Response {
  const url = new URL(request.url)
  const params = Object.fromEntries(url.searchParams)
  state.requests.push({
    endpoint: 'authorize',
    method: 'GET',
    path: url.pathname,
    params,
    headers: recordedHeaders(request),
  })
  const app = state.app(params.client_id)
  if (!app) return errorPage(404, 'The OAuth app was not found (client_id).')
  const given = params.redirect_uri
  if (given !== undefined && !underCallback(given, app.callbackUrl)) {
    const back = new URL(app.callbackUrl)
    back.searchParams.set('error', 'redirect_uri_mismatch')
    back.searchParams.set(
      'error_description',
      'The redirect_uri MUST match the registered callback URL for this application.',
    )
    if (params.state !== undefined) back.searchParams.set('state', params.state)
    return redirect(back.href)
  }
  if (params.code_challenge !== undefined && params.code_challenge_method !== 'S256') {
    return errorPage(400, 'Only the S256 code challenge method is accepted.')
  }
  const scopes = isGitHubApp(app)
    ? []
    : (params.scope ?? '').split(/[\s,]+/).filter((s) => s !== '')
  const id = randomID()
  state.pending.set(id, {
    app,
    scopes,
    redirectUri: given ?? app.callbackUrl,
    givenRedirectUri: given,
    state: params.state,
    codeChallenge: params.code_challenge,
  })
  return redirect(`${state.base}/login/session/${id}`)
}

export function handleLoginPage(state: GitHubState, id: string): Response {
  const pending = state.pending.get(id)
  if (!pending) return errorPage(404, 'This sign-in has expired.')
  return loginPage(
    `Sign in to GitHub to continue to ${pending.app.clientId}`,
    `${state.base}/login/session/${id}/login`,
  )
}

export async function handleLogin(
  state: GitHubState,
  id: string,
  request: Request,
): Promise<Response> {
  const pending = state.pending.get(id)
  if (!pending) return errorPage(404, 'This sign-in has expired.')
  const form = new URLSearchParams(await request.text())
  const user = state.user(form.get('username') ?? '')
  if (!user || !same(form.get('password') ?? '', user.password)) {
    return loginPage(
      'Sign in to GitHub',
      `${state.base}/login/session/${id}/login`,
      'Incorrect username or password.',
    )
  }
  state.pending.delete(id)
  const code = randomID(10).replace(/[-_]/g, '0')
  state.codes.set(code, {
    app: pending.app,
    user,
    scopes: pending.scopes,
    redirectUri: pending.givenRedirectUri,
    codeChallenge: pending.codeChallenge,
    expiresAt: state.now() + CODE_TTL_MS,
  })
  const back = new URL(pending.redirectUri)
  back.searchParams.set('code', code)
  if (pending.state !== undefined) back.searchParams.set('state', pending.state)
  return redirect(back.href)
}

export async function handleAccessToken(state: GitHubState, request: Request): Promise<Response> {
  const url = new URL(request.url)
  const form = new URLSearchParams(await request.text())
  // GitHub also reads the parameters from the query string.
  const params = { ...Object.fromEntries(url.searchParams), ...Object.fromEntries(form) }
  const basic = parseBasic(request.headers.get('authorization'))
  state.requests.push({
    endpoint: 'token',
    method: 'POST',
    path: url.pathname,
    params,
    headers: recordedHeaders(request),
    clientAuth: basic ? 'basic' : params.client_secret !== undefined ? 'post' : 'none',
  })
  const answer = (body: Record<string, string | number>) => respond(request, body)
  const fail = (error: string, description: string) =>
    answer({
      error,
      error_description: description,
      error_uri: `https://docs.github.com/apps/troubleshooting#${error}`,
    })
  const app = state.app(basic?.id ?? params.client_id)
  const secret = basic?.secret ?? params.client_secret
  if (!app || !same(secret, app.clientSecret)) {
    return fail(
      'incorrect_client_credentials',
      'The client_id and/or client_secret passed are incorrect.',
    )
  }
  if (params.grant_type === 'refresh_token') return refresh(state, app, params, answer, fail)
  if (params.grant_type !== undefined && params.grant_type !== 'authorization_code') {
    return fail('unsupported_grant_type', 'The grant type is not supported.')
  }
  const code = params.code === undefined ? undefined : state.codes.get(params.code)
  const badCode = () => fail('bad_verification_code', 'The code passed is incorrect or expired.')
  if (!code || code.app !== app) return badCode()
  state.codes.delete(params.code ?? '')
  if (code.expiresAt <= state.now()) return badCode()
  if (code.redirectUri !== undefined && params.redirect_uri !== code.redirectUri) {
    return fail(
      'redirect_uri_mismatch',
      'The redirect_uri MUST match the registered callback URL for this application.',
    )
  }
  if (code.codeChallenge !== undefined && !pkceOk(params.code_verifier, code.codeChallenge)) {
    return badCode()
  }
  state.issued.authorization_code++
  return answer(issue(state, app, code.user, code.scopes))
}

function refresh(
  state: GitHubState,
  app: GitHubStandInApp,
  params: Record<string, string>,
  answer: (body: Record<string, string | number>) => Response,
  fail: (error: string, description: string) => Response,
): Response {
  const old =
    params.refresh_token === undefined ? undefined : state.refreshTokens.get(params.refresh_token)
  if (!old?.live || old.app !== app || (old.expiresAt ?? Infinity) <= state.now()) {
    return fail('bad_refresh_token', 'The refresh token passed is incorrect or expired.')
  }
  // A refresh token is spent on use, and the access token it came with stops working.
  old.live = false
  const access = state.tokens.get(old.accessToken)
  if (access) access.live = false
  state.issued.refresh_token++
  return answer(issue(state, app, old.user, old.scopes))
}

function issue(
  state: GitHubState,
  app: GitHubStandInApp,
  user: IssuedToken['user'],
  scopes: string[],
): Record<string, string | number> {
  const expiring = isGitHubApp(app) && app.expiringTokens !== false
  const accessToken = `${isGitHubApp(app) ? 'ghu' : 'gho'}_${randomID(27)}`
  const now = state.now()
  state.tokens.set(accessToken, {
    app,
    user,
    scopes,
    expiresAt: expiring ? now + APP_TOKEN_TTL_S * 1000 : undefined,
    live: true,
  })
  const body: Record<string, string | number> = {
    access_token: accessToken,
    scope: scopes.join(','),
    token_type: 'bearer',
  }
  if (expiring) {
    const refreshToken = `ghr_${randomID(56)}`
    state.refreshTokens.set(refreshToken, {
      app,
      user,
      scopes,
      expiresAt: now + REFRESH_TTL_S * 1000,
      live: true,
      accessToken,
    })
    Object.assign(body, {
      expires_in: APP_TOKEN_TTL_S,
      refresh_token: refreshToken,
      refresh_token_expires_in: REFRESH_TTL_S,
    })
  }
  return body
}

/** GitHub's answer format follows `Accept`: JSON, XML, else form encoding; always status 200. */
function respond(request: Request, body: Record<string, string | number>): Response {
  const accept = request.headers.get('accept') ?? ''
  if (/application\/json/i.test(accept)) return Response.json(body)
  if (/application\/xml/i.test(accept)) {
    const xml = Object.entries(body)
      .map(([k, v]) => `<${k}>${String(v).replace(/[<&]/g, '')}</${k}>`)
      .join('')
    return new Response(`<OAuth>${xml}</OAuth>`, {
      headers: { 'content-type': 'application/xml; charset=utf-8' },
    })
  }
  const form = new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)]))
  return new Response(form.toString(), {
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
  })
}

function underCallback(given: string, callback: string): boolean {
  if (!URL.canParse(given)) return false
  const g = new URL(given)
  const c = new URL(callback)
  if (g.protocol !== c.protocol || g.host !== c.host) return false
  const base = c.pathname.replace(/\/+$/, '')
  return g.pathname === c.pathname || g.pathname.startsWith(`${base}/`)
}

function pkceOk(verifier: string | undefined, challenge: string): boolean {
  if (verifier === undefined) return false
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'))
  const expected = Buffer.from(challenge)
  return computed.length === expected.length && timingSafeEqual(computed, expected)
}

function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location } })
}
