/**
 * Google's OAuth 2.0 / OpenID Connect endpoints as Google documents them:
 * - `/o/oauth2/v2/auth`: unknown client (`invalid_client`) and unregistered `redirect_uri`
 *   (`redirect_uri_mismatch`) are error pages; scopes must be known (`offline_access` is not:
 *   `invalid_scope`); `access_type` is `online` or `offline`; `hd` is only a hint (a user of
 *   another domain or none still signs in). The redirect back carries `code`, `state`, `scope`,
 *   `authuser`, `prompt` and (Workspace users) `hd`, and no `iss`.
 * - `/token`: client secret by form or Basic; codes single use, PKCE checked; a refresh token only
 *   with `access_type=offline`, and only on the user's first consent to the client unless
 *   `prompt=consent` asked again; refresh keeps the refresh token (no rotation) and returns a new
 *   ID token; errors are `invalid_grant` / `invalid_client` JSON. Access tokens are opaque.
 * - ID tokens: `iss` the issuer (or the scheme-less form, which Google also uses), `aud` and
 *   `azp` the client, `sub`, `email`, `email_verified`, `hd` for Workspace users, `nonce`.
 * - `/v1/userinfo`: the profile for a live access token.
 */
import { createHash } from 'node:crypto'
import type { KeyRing } from '../azure-stand-in/keys.js'
import {
  errorPage,
  loginPage,
  parseBasic,
  randomID,
  recordedHeaders,
  same,
  type RecordedRequest,
} from '../stand-in-kit.js'

export interface GoogleStandInClient {
  clientId: string
  clientSecret: string
  redirectUris: string[]
}

export interface GoogleStandInUser {
  email: string
  password: string
  sub: string
  name?: string
  /** Default true. */
  emailVerified?: boolean
  /** The Workspace domain (`hd`); unset for consumer accounts. */
  hd?: string
}

const USERINFO_EMAIL = 'https://www.googleapis.com/auth/userinfo.email'
const USERINFO_PROFILE = 'https://www.googleapis.com/auth/userinfo.profile'
const SHORT: Readonly<Record<string, string>> = {
  email: USERINFO_EMAIL,
  profile: USERINFO_PROFILE,
}
const PROMPTS = new Set(['none', 'consent', 'select_account'])

interface Pending {
  client: GoogleStandInClient
  params: Record<string, string>
  scopes: string[]
}

interface Grant {
  client: GoogleStandInClient
  user: GoogleStandInUser
  scopes: string[]
}

export class GoogleState {
  readonly requests: RecordedRequest[] = []
  readonly pending = new Map<string, Pending>()
  readonly codes = new Map<string, Grant & { params: Record<string, string>; expiresAt: number }>()
  readonly accessTokens = new Map<string, Grant & { expiresAt: number }>()
  readonly refreshTokens = new Map<string, Grant & { live: boolean }>()
  /** `sub client_id` of users who consented once (a later offline grant gets no refresh token). */
  readonly consented = new Set<string>()
  readonly issued = { authorization_code: 0, refresh_token: 0 }
  readonly clients: readonly GoogleStandInClient[]
  readonly users: readonly GoogleStandInUser[]
  readonly keys: KeyRing
  readonly base: string
  /** Put `accounts.google.com`-style scheme-less issuers in ID tokens. */
  schemelessIssuer: boolean
  now: () => number

  constructor(input: {
    clients: GoogleStandInClient[]
    users: GoogleStandInUser[]
    keys: KeyRing
    base: string
    schemelessIssuer: boolean
    now: () => number
  }) {
    this.clients = input.clients
    this.users = input.users
    this.keys = input.keys
    this.base = input.base
    this.schemelessIssuer = input.schemelessIssuer
    this.now = input.now
  }

  client(id: string | undefined): GoogleStandInClient | undefined {
    return this.clients.find((c) => c.clientId === id)
  }

  record(endpoint: string, request: Request, params: Record<string, string>, auth?: string) {
    this.requests.push({
      endpoint,
      method: request.method,
      path: new URL(request.url).pathname,
      params,
      headers: recordedHeaders(request),
      ...(auth !== undefined ? { clientAuth: auth } : {}),
    })
  }
}

export function handleDiscovery(state: GoogleState): Response {
  const b = state.base
  return Response.json({
    issuer: b,
    authorization_endpoint: `${b}/o/oauth2/v2/auth`,
    token_endpoint: `${b}/token`,
    userinfo_endpoint: `${b}/v1/userinfo`,
    revocation_endpoint: `${b}/revoke`,
    jwks_uri: `${b}/oauth2/v3/certs`,
    response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email', 'profile'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name'],
    code_challenge_methods_supported: ['plain', 'S256'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
  })
}

export function handleAuthorize(state: GoogleState, request: Request): Response {
  const params = Object.fromEntries(new URL(request.url).searchParams)
  state.record('authorize', request, params)
  const client = state.client(params.client_id)
  if (!client) return errorPage(401, 'Error 401: invalid_client. The OAuth client was not found.')
  const redirectUri = params.redirect_uri ?? ''
  if (!client.redirectUris.includes(redirectUri)) {
    return errorPage(400, 'Error 400: redirect_uri_mismatch')
  }
  const back = (error: string, description: string) => {
    const url = new URL(redirectUri)
    url.searchParams.set('error', error)
    url.searchParams.set('error_description', description)
    if (params.state !== undefined) url.searchParams.set('state', params.state)
    return new Response(null, { status: 302, headers: { location: url.href } })
  }
  if (params.response_type !== 'code') {
    return back('unsupported_response_type', 'Invalid response_type')
  }
  if (params.access_type !== undefined && !['online', 'offline'].includes(params.access_type)) {
    return errorPage(400, `Error 400: invalid_request. Invalid access_type: ${params.access_type}`)
  }
  const prompts = (params.prompt ?? '').split(' ').filter((p) => p !== '')
  if (prompts.some((p) => !PROMPTS.has(p)) || (prompts.includes('none') && prompts.length > 1)) {
    return errorPage(400, 'Error 400: invalid_request. Invalid prompt')
  }
  if (
    params.code_challenge !== undefined &&
    !['S256', 'plain', undefined].includes(params.code_challenge_method)
  ) {
    return errorPage(400, 'Error 400: invalid_request. Invalid code_challenge_method')
  }
  const requested = (params.scope ?? '').split(' ').filter((s) => s !== '')
  if (requested.length === 0) {
    return errorPage(400, 'Error 400: invalid_request. Missing required parameter: scope')
  }
  const invalid = requested.filter(
    (s) =>
      s !== 'openid' && SHORT[s] === undefined && !s.startsWith('https://www.googleapis.com/auth/'),
  )
  if (invalid.length > 0) {
    return back(
      'invalid_scope',
      `Some requested scopes were invalid. {invalid=[${invalid.join(', ')}]}`,
    )
  }
  const id = randomID()
  state.pending.set(id, { client, params, scopes: requested.map((s) => SHORT[s] ?? s) })
  return new Response(null, {
    status: 302,
    headers: { location: `${state.base}/signin/${id}` },
  })
}

export function handleLoginPage(state: GoogleState, id: string): Response {
  const pending = state.pending.get(id)
  if (!pending) return errorPage(400, 'This sign-in has expired.')
  return loginPage(
    `Sign in with Google to ${pending.client.clientId}`,
    `${state.base}/signin/${id}/login`,
  )
}

export async function handleLogin(
  state: GoogleState,
  id: string,
  request: Request,
): Promise<Response> {
  const pending = state.pending.get(id)
  if (!pending) return errorPage(400, 'This sign-in has expired.')
  const form = new URLSearchParams(await request.text())
  const name = (form.get('username') ?? '').toLowerCase()
  const user = state.users.find((u) => u.email.toLowerCase() === name)
  if (!user || !same(form.get('password') ?? '', user.password)) {
    return loginPage('Sign in with Google', `${state.base}/signin/${id}/login`, 'Wrong password.')
  }
  state.pending.delete(id)
  const code = `4/0${randomID(40)}`
  state.codes.set(code, {
    client: pending.client,
    user,
    scopes: pending.scopes,
    params: pending.params,
    expiresAt: state.now() + 10 * 60_000,
  })
  const url = new URL(pending.params.redirect_uri ?? '')
  if (pending.params.state !== undefined) url.searchParams.set('state', pending.params.state)
  url.searchParams.set('code', code)
  url.searchParams.set('scope', pending.scopes.join(' '))
  url.searchParams.set('authuser', '0')
  if (user.hd !== undefined) url.searchParams.set('hd', user.hd)
  url.searchParams.set('prompt', pending.params.prompt?.includes('consent') ? 'consent' : 'none')
  return new Response(null, { status: 302, headers: { location: url.href } })
}

export async function handleToken(state: GoogleState, request: Request): Promise<Response> {
  const params = Object.fromEntries(new URLSearchParams(await request.text()))
  const basic = parseBasic(request.headers.get('authorization'))
  state.record(
    'token',
    request,
    params,
    basic ? 'basic' : params.client_secret !== undefined ? 'post' : 'none',
  )
  const error = (status: number, code: string, description: string) =>
    Response.json({ error: code, error_description: description }, { status })
  const client = state.client(basic?.id ?? params.client_id)
  if (!client || !same(basic?.secret ?? params.client_secret, client.clientSecret)) {
    return error(401, 'invalid_client', 'Unauthorized')
  }
  if (params.grant_type === 'refresh_token') {
    const grant = state.refreshTokens.get(params.refresh_token ?? '')
    if (!grant?.live || grant.client !== client) {
      return error(400, 'invalid_grant', 'Token has been expired or revoked.')
    }
    state.issued.refresh_token++
    // Google keeps the refresh token: none in the answer.
    return Response.json(await tokens(state, grant, undefined), { headers: NO_STORE })
  }
  if (params.grant_type !== 'authorization_code') {
    return error(400, 'unsupported_grant_type', 'Invalid grant_type: ' + (params.grant_type ?? ''))
  }
  const code = state.codes.get(params.code ?? '')
  state.codes.delete(params.code ?? '')
  if (!code || code.client !== client || code.expiresAt <= state.now()) {
    return error(400, 'invalid_grant', 'Malformed auth code.')
  }
  if (params.redirect_uri !== code.params.redirect_uri) {
    return error(400, 'redirect_uri_mismatch', 'Bad Request')
  }
  const challenge = code.params.code_challenge
  if (challenge !== undefined) {
    const verifier = params.code_verifier ?? ''
    const computed =
      code.params.code_challenge_method === 'S256'
        ? createHash('sha256').update(verifier).digest('base64url')
        : verifier
    if (!same(computed, challenge)) return error(400, 'invalid_grant', 'Invalid code verifier.')
  }
  const key = `${code.user.sub} ${client.clientId}`
  const offline = code.params.access_type === 'offline'
  const firstConsent = !state.consented.has(key)
  state.consented.add(key)
  const prompt = code.params.prompt ?? ''
  let refreshToken: string | undefined
  if (offline && (firstConsent || prompt.includes('consent'))) {
    refreshToken = `1//0${randomID(48)}`
    state.refreshTokens.set(refreshToken, { ...code, live: true })
  }
  state.issued.authorization_code++
  return Response.json(await tokens(state, code, code.params.nonce, refreshToken), {
    headers: NO_STORE,
  })
}

const NO_STORE = { 'cache-control': 'no-cache, no-store, max-age=0, must-revalidate' }

async function tokens(
  state: GoogleState,
  grant: Grant,
  nonce: string | undefined,
  refreshToken?: string,
): Promise<Record<string, unknown>> {
  const accessToken = `ya29.${randomID(60)}`
  const now = state.now()
  state.accessTokens.set(accessToken, { ...grant, expiresAt: now + 3599_000 })
  const body: Record<string, unknown> = {
    access_token: accessToken,
    expires_in: 3599,
    scope: grant.scopes.join(' '),
    token_type: 'Bearer',
  }
  if (grant.scopes.includes('openid')) {
    const u = grant.user
    const iat = Math.floor(now / 1000)
    const email = grant.scopes.includes(USERINFO_EMAIL)
    const profile = grant.scopes.includes(USERINFO_PROFILE)
    body.id_token = await state.keys.sign({
      iss: state.schemelessIssuer ? state.base.replace(/^https?:\/\//, '') : state.base,
      azp: grant.client.clientId,
      aud: grant.client.clientId,
      sub: u.sub,
      ...(u.hd !== undefined ? { hd: u.hd } : {}),
      ...(email ? { email: u.email, email_verified: u.emailVerified ?? true } : {}),
      at_hash: createHash('sha256')
        .update(accessToken)
        .digest()
        .subarray(0, 16)
        .toString('base64url'),
      ...(profile && u.name !== undefined ? { name: u.name } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
      iat,
      exp: iat + 3600,
    })
  }
  if (refreshToken !== undefined) body.refresh_token = refreshToken
  return body
}

export function handleUserinfo(state: GoogleState, request: Request): Response {
  state.record('userinfo', request, {})
  const auth = /^bearer (\S+)$/i.exec(request.headers.get('authorization') ?? '')
  const grant = auth ? state.accessTokens.get(auth[1] ?? '') : undefined
  if (!grant || grant.expiresAt <= state.now()) {
    return Response.json(
      { error: 'invalid_request', error_description: 'Invalid Credentials' },
      { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } },
    )
  }
  const u = grant.user
  return Response.json({
    sub: u.sub,
    email: u.email,
    email_verified: u.emailVerified ?? true,
    ...(u.name !== undefined ? { name: u.name } : {}),
    ...(u.hd !== undefined ? { hd: u.hd } : {}),
  })
}
