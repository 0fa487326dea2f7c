/**
 * `startDiscordStandIn`: a local Discord for tests and `gatehouse dev --provider discord`, on a
 * loopback port, with Discord's documented OAuth2 behaviour (discord.com/developers/docs/topics/oauth2):
 * - `GET /oauth2/authorize`: an unknown `client_id`, a `redirect_uri` that is not exactly one of
 *   the app's redirects, or an unknown scope is an error page (never a redirect); success returns
 *   `code` and `state` only (Discord is not an OpenID provider: no `iss`, no ID token);
 * - `POST /api/oauth2/token` (also under `/api/v10`): form body, client credentials by HTTP Basic
 *   or in the body; `redirect_uri` must be the one of the authorization request; answers
 *   `{ access_token, token_type: "Bearer", expires_in: 604800, refresh_token, scope }`; a refresh
 *   gives a new refresh token and the old one stops working; errors are `invalid_client` (401),
 *   `invalid_grant` (400) JSON;
 * - `POST /api/oauth2/token/revoke`;
 * - `GET /api/v10/users/@me` (scope `identify`; `email` and `verified` only with `email`) and
 *   `GET /api/v10/users/@me/guilds` (scope `guilds`, else 403; `limit` ≤ 200 and `after`);
 *   a bad token is 401 `{ message: "401: Unauthorized", code: 0 }`.
 * It does not implement PKCE (Discord's documentation does not describe it): the parameters are
 * recorded and ignored. Every request is recorded. Development only.
 */
import {
  errorPage,
  loginPage,
  parseBasic,
  randomID,
  recordedHeaders,
  same,
  serveLoopback,
  type RecordedRequest,
} from '../stand-in-kit.js'

export interface DiscordStandInApp {
  clientId: string
  clientSecret: string
  redirects: string[]
}

export interface DiscordStandInUser {
  username: string
  password: string
  /** Snowflake. */
  id: string
  globalName?: string
  email?: string
  /** Whether Discord has verified the email (default true). */
  verified?: boolean
  /** Guilds the user is in: id → name. */
  guilds?: Record<string, string>
}

export interface DiscordStandInOptions {
  apps: DiscordStandInApp[]
  users: DiscordStandInUser[]
  port?: number
  /** Clock in ms (default `Date.now`). */
  now?: () => number
}

export interface DiscordStandIn {
  /** `http://127.0.0.1:{port}`: Gatehouse's `upstream.serverUrl`. */
  readonly url: string
  readonly requests: readonly RecordedRequest[]
  /** `authorize`, `token`, `revoke`, `user`, `guilds`. */
  requestsTo(endpoint: string): RecordedRequest[]
  clearRequests(): void
  close(): Promise<void>
}

const SCOPES = new Set(['identify', 'email', 'guilds', 'guilds.members.read', 'connections'])
const ACCESS_TTL_S = 604_800
const CODE_TTL_MS = 10 * 60_000

interface Issued {
  app: DiscordStandInApp
  user: DiscordStandInUser
  scopes: string[]
  expiresAt: number
  live: boolean
}

export async function startDiscordStandIn(options: DiscordStandInOptions): Promise<DiscordStandIn> {
  const now = options.now ?? Date.now
  const requests: RecordedRequest[] = []
  const pending = new Map<
    string,
    { app: DiscordStandInApp; scopes: string[]; redirect: string; state?: string }
  >()
  const codes = new Map<
    string,
    {
      app: DiscordStandInApp
      user: DiscordStandInUser
      scopes: string[]
      redirect: string
      expiresAt: number
    }
  >()
  const tokens = new Map<string, Issued>()
  const refreshTokens = new Map<string, Issued & { accessToken: string }>()
  const holder = { base: '' }
  const app = (id: string | undefined) => options.apps.find((a) => a.clientId === id)

  const record = (
    endpoint: string,
    request: Request,
    params: Record<string, string>,
    clientAuth?: string,
  ) => {
    requests.push({
      endpoint,
      method: request.method,
      path: new URL(request.url).pathname,
      params,
      headers: recordedHeaders(request),
      ...(clientAuth ? { clientAuth } : {}),
    })
  }

  function authorize(request: Request): Response {
    const params = Object.fromEntries(new URL(request.url).searchParams)
    record('authorize', request, params)
    const a = app(params.client_id)
    if (!a) return errorPage(400, 'Unknown application (client_id).')
    if (params.redirect_uri === undefined || !a.redirects.includes(params.redirect_uri)) {
      return errorPage(400, 'Invalid OAuth2 redirect_uri')
    }
    if (params.response_type !== 'code') return errorPage(400, 'Unsupported response type.')
    const scopes = (params.scope ?? '').split(' ').filter((s) => s !== '')
    if (scopes.length === 0 || scopes.some((s) => !SCOPES.has(s))) {
      return errorPage(400, 'Invalid scope.')
    }
    const id = randomID()
    pending.set(id, {
      app: a,
      scopes,
      redirect: params.redirect_uri,
      ...(params.state !== undefined ? { state: params.state } : {}),
    })
    return redirect(`${holder.base}/login/${id}`)
  }

  async function login(id: string, request: Request): Promise<Response> {
    const p = pending.get(id)
    if (!p) return errorPage(404, 'This sign-in has expired.')
    const action = `${holder.base}/login/${id}/login`
    if (request.method === 'GET')
      return loginPage(`Sign in to Discord to authorize ${p.app.clientId}`, action)
    const form = new URLSearchParams(await request.text())
    const user = options.users.find((u) => u.username === form.get('username'))
    if (!user || !same(form.get('password') ?? '', user.password)) {
      return loginPage('Sign in to Discord', action, 'Login or password is invalid.')
    }
    pending.delete(id)
    const code = randomID(22)
    codes.set(code, {
      app: p.app,
      user,
      scopes: p.scopes,
      redirect: p.redirect,
      expiresAt: now() + CODE_TTL_MS,
    })
    const back = new URL(p.redirect)
    back.searchParams.set('code', code)
    if (p.state !== undefined) back.searchParams.set('state', p.state)
    return redirect(back.href)
  }

  function issue(a: DiscordStandInApp, user: DiscordStandInUser, scopes: string[]) {
    const accessToken = randomID(22)
    const refreshToken = randomID(22)
    const grant = { app: a, user, scopes, expiresAt: now() + ACCESS_TTL_S * 1000, live: true }
    tokens.set(accessToken, grant)
    refreshTokens.set(refreshToken, { ...grant, accessToken })
    return Response.json({
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ACCESS_TTL_S,
      refresh_token: refreshToken,
      scope: scopes.join(' '),
    })
  }

  async function token(request: Request): Promise<Response> {
    const params = Object.fromEntries(new URLSearchParams(await request.text()))
    const basic = parseBasic(request.headers.get('authorization'))
    record(
      'token',
      request,
      params,
      basic ? 'basic' : params.client_secret !== undefined ? 'post' : 'none',
    )
    const fail = (status: number, error: string, description: string) =>
      Response.json({ error, error_description: description }, { status })
    const a = app(basic?.id ?? params.client_id)
    if (!a || !same(basic?.secret ?? params.client_secret, a.clientSecret)) {
      return fail(401, 'invalid_client', 'Invalid client')
    }
    if (params.grant_type === 'authorization_code') {
      const c = codes.get(params.code ?? '')
      codes.delete(params.code ?? '')
      if (!c || c.app !== a || c.expiresAt <= now()) {
        return fail(400, 'invalid_grant', 'Invalid "code" in request.')
      }
      if (params.redirect_uri !== c.redirect) {
        return fail(400, 'invalid_grant', 'Invalid "redirect_uri" in request.')
      }
      return issue(a, c.user, c.scopes)
    }
    if (params.grant_type === 'refresh_token') {
      const old = refreshTokens.get(params.refresh_token ?? '')
      if (!old?.live || old.app !== a)
        return fail(400, 'invalid_grant', 'Invalid "refresh_token" in request.')
      old.live = false
      const access = tokens.get(old.accessToken)
      if (access) access.live = false
      return issue(a, old.user, old.scopes)
    }
    return fail(400, 'unsupported_grant_type', 'Unsupported grant type')
  }

  async function revoke(request: Request): Promise<Response> {
    const params = Object.fromEntries(new URLSearchParams(await request.text()))
    const basic = parseBasic(request.headers.get('authorization'))
    record(
      'revoke',
      request,
      params,
      basic ? 'basic' : params.client_secret !== undefined ? 'post' : 'none',
    )
    const t = tokens.get(params.token ?? '') ?? refreshTokens.get(params.token ?? '')
    if (t) t.live = false
    return Response.json({})
  }

  function api(request: Request, path: string): Response {
    const url = new URL(request.url)
    const params = Object.fromEntries(url.searchParams)
    const endpoint =
      path === '/users/@me' ? 'user' : path === '/users/@me/guilds' ? 'guilds' : 'api'
    record(endpoint, request, params)
    const header = request.headers.get('authorization') ?? ''
    const t = /^Bearer /i.test(header) ? tokens.get(header.slice(7).trim()) : undefined
    if (!t?.live || t.expiresAt <= now()) {
      return Response.json({ message: '401: Unauthorized', code: 0 }, { status: 401 })
    }
    const u = t.user
    if (endpoint === 'user') {
      return Response.json({
        id: u.id,
        username: u.username,
        discriminator: '0',
        global_name: u.globalName ?? null,
        avatar: null,
        ...(t.scopes.includes('email')
          ? { email: u.email ?? null, verified: u.verified ?? true }
          : {}),
      })
    }
    if (endpoint === 'guilds') {
      if (!t.scopes.includes('guilds')) {
        return Response.json({ message: 'Missing Access', code: 50001 }, { status: 403 })
      }
      const limit = Math.min(Math.max(Number(params.limit ?? 200) || 200, 1), 200)
      const all = Object.entries(u.guilds ?? {}).sort(([a], [b]) =>
        BigInt(a) < BigInt(b) ? -1 : 1,
      )
      const after = params.after === undefined ? -1n : BigInt(params.after)
      const page = all.filter(([id]) => BigInt(id) > after).slice(0, limit)
      return Response.json(page.map(([id, name]) => ({ id, name, owner: false, permissions: '0' })))
    }
    return Response.json({ message: '404: Not Found', code: 0 }, { status: 404 })
  }

  const handler = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname
    if (path === '/oauth2/authorize' && request.method === 'GET') return authorize(request)
    const page = /^\/login\/([\w-]+)(\/login)?$/.exec(path)
    if (page && (page[2] === undefined) === (request.method === 'GET')) {
      return login(page[1] ?? '', request)
    }
    const apiPath = path.replace(/^\/api(?:\/v\d+)?/, '')
    if (apiPath !== path) {
      if (apiPath === '/oauth2/token' && request.method === 'POST') return token(request)
      if (apiPath === '/oauth2/token/revoke' && request.method === 'POST') return revoke(request)
      if (request.method === 'GET') return api(request, apiPath)
    }
    return Response.json({ message: '404: Not Found', code: 0 }, { status: 404 })
  }
  const server = await serveLoopback(handler, options.port)
  holder.base = server.url
  return {
    url: server.url,
    requests,
    requestsTo: (endpoint) => requests.filter((r) => r.endpoint === endpoint),
    clearRequests: () => {
      requests.length = 0
    },
    close: server.close,
  }
}

function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location } })
}
