/**
 * `startAuth0StandIn`: a local Auth0 tenant for tests and development, on a loopback port, with
 * Auth0's documented behaviour: the issuer is the domain **with a trailing slash**
 * (`{url}/`); `/authorize` with an `audience` naming a registered API yields a JWT access token
 * for it (`aud` = [API identifier, `{issuer}userinfo`], `scope`, RBAC `permissions`, and the
 * namespaced roles claim an Auth0 Action would add), without `audience` an opaque one; an unknown
 * `audience` is `access_denied` ("Service not found"); a refresh token only with the
 * `offline_access` scope and an API that allows offline access, rotated on use; `/oauth/token`
 * errors are `invalid_grant` / `access_denied` / `unauthorized_client` JSON. Records every request.
 * Development only.
 */
import { createHash } from 'node:crypto'
import type { JWTPayload } from 'jose'
import { KeyRing } from '../azure-stand-in/keys.js'
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

export interface Auth0StandInAPI {
  /** The API's Identifier (the `audience`). */
  identifier: string
  /** "Allow Offline Access" (default true). */
  allowOfflineAccess?: boolean
}

export interface Auth0StandInUser {
  email: string
  password: string
  /** `auth0|…` */
  sub: string
  name?: string
  roles?: string[]
  permissions?: string[]
}

export interface Auth0StandInOptions {
  clients: { clientId: string; clientSecret: string; callbacks: string[] }[]
  apis: Auth0StandInAPI[]
  users: Auth0StandInUser[]
  /** The namespaced claim an Action fills with the user's roles (default none). */
  rolesClaim?: string
  port?: number
}

export interface Auth0StandIn {
  /** `http://127.0.0.1:{port}`; the issuer is `{url}/`. */
  readonly url: string
  readonly issuer: string
  readonly requests: readonly RecordedRequest[]
  requestsTo(endpoint: string): RecordedRequest[]
  clearRequests(): void
  sign(payload: JWTPayload): Promise<string>
  close(): Promise<void>
}

interface Grant {
  clientId: string
  user: Auth0StandInUser
  scopes: string[]
  audience: string | undefined
  nonce: string | undefined
}

export async function startAuth0StandIn(options: Auth0StandInOptions): Promise<Auth0StandIn> {
  const keys = await KeyRing.create()
  const requests: RecordedRequest[] = []
  const pending = new Map<string, { params: Record<string, string>; scopes: string[] }>()
  const codes = new Map<string, Grant & { params: Record<string, string> }>()
  const refreshTokens = new Map<string, Grant & { live: boolean }>()
  const holder = { base: '' }
  const issuer = () => `${holder.base}/`
  const record = (endpoint: string, request: Request, params: Record<string, string>) => {
    requests.push({
      endpoint,
      method: request.method,
      path: new URL(request.url).pathname,
      params,
      headers: recordedHeaders(request),
    })
  }
  const client = (id: string | undefined) => options.clients.find((c) => c.clientId === id)
  const api = (id: string | undefined) => options.apis.find((a) => a.identifier === id)

  const tokens = async (grant: Grant, refresh: boolean) => {
    const now = Math.floor(Date.now() / 1000)
    const u = grant.user
    const roles =
      options.rolesClaim !== undefined && u.roles !== undefined
        ? { [options.rolesClaim]: u.roles }
        : {}
    const accessToken =
      grant.audience === undefined
        ? randomID(24)
        : await keys.sign(
            {
              iss: issuer(),
              sub: u.sub,
              aud: [grant.audience, `${issuer()}userinfo`],
              azp: grant.clientId,
              iat: now,
              exp: now + 86_400,
              scope: grant.scopes.join(' '),
              permissions: u.permissions ?? [],
              ...roles,
            },
            'at+jwt',
          )
    const body: Record<string, unknown> = {
      access_token: accessToken,
      expires_in: 86_400,
      token_type: 'Bearer',
      scope: grant.scopes.join(' '),
    }
    if (grant.scopes.includes('openid')) {
      body.id_token = await keys.sign({
        iss: issuer(),
        aud: grant.clientId,
        sub: u.sub,
        iat: now,
        exp: now + 36_000,
        ...(grant.scopes.includes('email') ? { email: u.email, email_verified: true } : {}),
        ...(grant.scopes.includes('profile') && u.name !== undefined ? { name: u.name } : {}),
        ...(grant.nonce !== undefined ? { nonce: grant.nonce } : {}),
        ...roles,
      })
    }
    const offline =
      grant.scopes.includes('offline_access') &&
      (grant.audience === undefined || api(grant.audience)?.allowOfflineAccess !== false)
    if (offline && refresh) {
      const rt = `v1.${randomID(40)}`
      refreshTokens.set(rt, { ...grant, live: true })
      body.refresh_token = rt
    }
    return body
  }

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    const path = url.pathname
    if (path === '/.well-known/openid-configuration') {
      return Response.json({
        issuer: issuer(),
        authorization_endpoint: `${holder.base}/authorize`,
        token_endpoint: `${holder.base}/oauth/token`,
        userinfo_endpoint: `${holder.base}/userinfo`,
        jwks_uri: `${holder.base}/.well-known/jwks.json`,
        revocation_endpoint: `${holder.base}/oauth/revoke`,
        response_types_supported: ['code', 'token', 'id_token', 'code id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['HS256', 'RS256', 'PS256'],
        scopes_supported: ['openid', 'profile', 'offline_access', 'email'],
        code_challenge_methods_supported: ['S256', 'plain'],
      })
    }
    if (path === '/.well-known/jwks.json') return Response.json(keys.jwks())
    if (path === '/authorize' && request.method === 'GET') {
      const params = Object.fromEntries(url.searchParams)
      record('authorize', request, params)
      const c = client(params.client_id)
      if (!c) return errorPage(400, 'Unknown client.')
      const cb = params.redirect_uri ?? ''
      if (!c.callbacks.includes(cb)) return errorPage(400, 'Callback URL mismatch.')
      const back = (error: string, description: string) => {
        const to = new URL(cb)
        to.searchParams.set('error', error)
        to.searchParams.set('error_description', description)
        if (params.state !== undefined) to.searchParams.set('state', params.state)
        return new Response(null, { status: 302, headers: { location: to.href } })
      }
      if (params.audience !== undefined && !api(params.audience)) {
        return back('access_denied', `Service not found: ${params.audience}`)
      }
      const id = randomID()
      pending.set(id, { params, scopes: (params.scope ?? '').split(' ').filter((s) => s !== '') })
      return new Response(null, {
        status: 302,
        headers: { location: `${holder.base}/u/login/${id}` },
      })
    }
    const login = /^\/u\/login\/([\w-]+)(\/login)?$/.exec(path)
    if (login) {
      const [, id = '', post] = login
      const p = pending.get(id)
      if (!p) return errorPage(400, 'This sign-in has expired.')
      if (!post) return loginPage('Log in', `${holder.base}/u/login/${id}/login`)
      const form = new URLSearchParams(await request.text())
      const user = options.users.find(
        (u) => u.email.toLowerCase() === (form.get('username') ?? '').toLowerCase(),
      )
      if (!user || !same(form.get('password') ?? '', user.password)) {
        return loginPage('Log in', `${holder.base}/u/login/${id}/login`, 'Wrong email or password.')
      }
      pending.delete(id)
      const code = randomID(12)
      codes.set(code, {
        clientId: p.params.client_id ?? '',
        user,
        scopes: p.scopes,
        audience: p.params.audience,
        nonce: p.params.nonce,
        params: p.params,
      })
      const to = new URL(p.params.redirect_uri ?? '')
      to.searchParams.set('code', code)
      if (p.params.state !== undefined) to.searchParams.set('state', p.params.state)
      return new Response(null, { status: 302, headers: { location: to.href } })
    }
    if (path === '/oauth/token' && request.method === 'POST') {
      const params = Object.fromEntries(new URLSearchParams(await request.text()))
      record('token', request, params)
      const basic = parseBasic(request.headers.get('authorization'))
      const c = client(basic?.id ?? params.client_id)
      const fail = (status: number, error: string, description: string) =>
        Response.json({ error, error_description: description }, { status })
      if (!c || !same(basic?.secret ?? params.client_secret, c.clientSecret)) {
        return fail(401, 'access_denied', 'Unauthorized')
      }
      if (params.grant_type === 'refresh_token') {
        const g = refreshTokens.get(params.refresh_token ?? '')
        if (!g?.live || g.clientId !== c.clientId) {
          return fail(403, 'invalid_grant', 'Unknown or invalid refresh token.')
        }
        g.live = false // rotation
        return Response.json(await tokens({ ...g, nonce: undefined }, true))
      }
      const g = codes.get(params.code ?? '')
      codes.delete(params.code ?? '')
      if (!g || g.clientId !== c.clientId)
        return fail(403, 'invalid_grant', 'Invalid authorization code')
      if (params.redirect_uri !== g.params.redirect_uri) {
        return fail(403, 'invalid_grant', 'Invalid redirect_uri')
      }
      const challenge = g.params.code_challenge
      if (
        challenge !== undefined &&
        !same(
          createHash('sha256')
            .update(params.code_verifier ?? '')
            .digest('base64url'),
          challenge,
        )
      ) {
        return fail(403, 'invalid_grant', 'Failed to verify code verifier')
      }
      return Response.json(await tokens(g, true))
    }
    return Response.json({ error: 'not_found' }, { status: 404 })
  }
  const server = await serveLoopback(handler, options.port)
  holder.base = server.url
  return {
    url: server.url,
    issuer: `${server.url}/`,
    requests,
    requestsTo: (endpoint) => requests.filter((r) => r.endpoint === endpoint),
    clearRequests: () => {
      requests.length = 0
    },
    sign: (payload) => keys.sign(payload),
    close: server.close,
  }
}
