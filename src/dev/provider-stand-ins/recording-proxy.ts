/**
 * The shared part of the provider stand-ins (Keycloak, Auth0 …; development and tests only):
 * the embedded OpenID provider (`startDevIdentityProvider`) behind a small recording proxy on
 * its own loopback port. The proxy gives the IdP the provider's issuer shape (a path such as
 * `/realms/{realm}`, or a trailing slash), records every request Gatehouse sends (path, query
 * and form parameters, how the client authenticated), and — where the provider issues JWT access
 * tokens — replaces the IdP's opaque access token with a JWT carrying the provider's claims,
 * signed with a key it adds to the IdP's published key set.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type JWK,
} from 'jose'

import { startDevIdentityProvider, type DevIdP, type DevIdPOptions } from '../oidc-idp/server.js'

/** One request the stand-in received. */
export interface RecordedCall {
  method: string
  /** The path under the issuer's mount (`/auth`, `/token`, `/jwks` …) or the full path outside it. */
  endpoint: string
  /** Query and `application/x-www-form-urlencoded` body parameters, merged. */
  params: Record<string, string>
  /** The origin the request was sent to (`origin`, or `domainOrigin`) and the path it asked for. */
  reached: string
  /** How the client authenticated at this request: HTTP Basic, a secret in the body, or neither. */
  clientAuth: 'basic' | 'post' | 'none'
}

/** What the provider's access-token rule sees for one token response. */
export interface SignInContext {
  /** The parameters of the authorization request this grant started with. */
  authorize: Readonly<Record<string, string>>
  /** The claims of the ID token the IdP returned with it. */
  idTokenClaims: Readonly<Record<string, unknown>>
  issuer: string
  clientId: string
  scope: string
}

export interface ProviderStandInOptions extends Omit<DevIdPOptions, 'issuer'> {
  /** The issuer's path: `/realms/demo`, `/oauth2/default`, `/` (trailing slash) or '' (none). */
  issuerPath: string
  /**
   * The claims of the JWT access token the provider issues for a sign-in (`iss`, `iat`, `exp`
   * are added), or undefined when it issues an opaque one (the IdP's own).
   */
  jwtAccessToken?: (context: SignInContext) => Record<string, unknown> | undefined
  /**
   * A second origin serving the sign-in endpoints under other paths (Cognito's user-pool domain:
   * `/oauth2/authorize` for the issuer's `/auth`): path on that origin -> endpoint under the
   * issuer. Every other path there is passed on as it is.
   */
  domainRoutes?: Readonly<Record<string, string>>
  /**
   * Rewrites the discovery document as served (`origin`: where it was asked for), e.g. to name
   * the provider's own endpoint paths.
   */
  discovery?: (doc: Record<string, unknown>, origin: string) => Record<string, unknown>
  /**
   * The claims of the ID token the provider issues instead of the IdP's (re-signed with the
   * stand-in's key, published in the key set), e.g. OCI's two-member `aud`.
   */
  idTokenClaims?: (claims: Record<string, unknown>) => Record<string, unknown>
  /** Answers a request itself (status and JSON body) instead of the IdP, e.g. a documented refusal. */
  answer?: (call: RecordedCall) => { status: number; body: unknown } | undefined
  /**
   * Paths on the issuer's origin that serve an endpoint under the issuer (the provider's own
   * paths, such as WorkOS's `/oauth2/jwks` for the IdP's `/jwks`).
   */
  routes?: Readonly<Record<string, string>>
  /**
   * For a provider that is not an OpenID provider (PropelAuth): parameters the embedded IdP needs
   * and the provider does not (`scope: 'openid'`), added to authorization requests after they are
   * recorded; `id_token` is then removed from token responses, and `userinfo` reshapes the IdP's
   * userinfo answer (`/me`) into the provider's.
   */
  oauthOnly?: {
    authorizeParams: Readonly<Record<string, string>>
    userinfo: (claims: Record<string, unknown>) => Record<string, unknown>
  }
  /**
   * An RFC 7662 introspection endpoint at this path of the issuer's origin for the tokens
   * `mintAccessToken` made, answering the client with these credentials (HTTP Basic).
   */
  introspection?: { path: string; clientId: string; clientSecret: string }
}

export interface ProviderStandIn {
  /** The provider's issuer identifier (with its path or trailing slash). */
  readonly issuer: string
  /** `http://127.0.0.1:PORT`, where the proxy listens. */
  readonly origin: string
  /** The second origin, with `domainRoutes`. */
  readonly domainOrigin: string | undefined
  /** The discovery document URL. */
  readonly discoveryUrl: string
  readonly idp: DevIdP
  /** Every request received, oldest first. */
  readonly calls: RecordedCall[]
  /** The requests to one endpoint (`/auth`, `/token`). */
  callsTo(endpoint: string): RecordedCall[]
  /**
   * A JWT access token signed with the stand-in's published key, as the provider issues to the
   * MCP clients registered with it (the remote-AS mode): `claims` over the defaults `iss` (this
   * issuer), `iat` (now) and `exp` (in 10 minutes); header `typ` as given (default `JWT`).
   */
  mintAccessToken(claims: Record<string, unknown>, typ?: string): Promise<string>
  close(): Promise<void>
}

const WELL_KNOWN = '/.well-known/openid-configuration'
const ACCESS_TOKEN_TTL = 600

/** Starts the IdP behind the recording proxy. */
export async function startProviderStandIn(
  options: ProviderStandInOptions,
): Promise<ProviderStandIn> {
  const {
    issuerPath,
    jwtAccessToken,
    domainRoutes,
    discovery,
    idTokenClaims,
    answer: answerItself,
    routes,
    oauthOnly,
    introspection,
    ...idpOptions
  } = options
  const calls: RecordedCall[] = []
  const grants = new Map<string, Record<string, string>>()
  const byState = new Map<string, Record<string, string>>()
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const publicJwk: JWK = await exportJWK(publicKey)
  publicJwk.kid = `at-${await calculateJwkThumbprint(publicJwk)}`
  publicJwk.alg = 'RS256'
  publicJwk.use = 'sig'

  let idp: DevIdP | undefined
  let idpPort = 0
  const mount = issuerPath.replace(/\/+$/, '')
  const handle =
    (routes: Readonly<Record<string, string>>) => (req: IncomingMessage, res: ServerResponse) => {
      void (async () => {
        const body = await readBody(req)
        const asked = new URL(req.url ?? '/', 'http://stand-in')
        const routed = routes[asked.pathname]
        if (routed !== undefined) req.url = `${mount}${routed}${asked.search}`
        const url = new URL(req.url ?? '/', 'http://stand-in')
        const endpoint = url.pathname.startsWith(`${mount}/`)
          ? url.pathname.slice(mount.length)
          : url.pathname
        const params = Object.fromEntries(url.searchParams)
        if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
          Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))))
        }
        const basic = (req.headers.authorization ?? '').toLowerCase().startsWith('basic ')
        const call: RecordedCall = {
          reached: `http://${req.headers.host ?? ''}${asked.pathname}`,
          method: req.method ?? 'GET',
          endpoint,
          params,
          clientAuth: basic ? 'basic' : params.client_secret !== undefined ? 'post' : 'none',
        }
        calls.push(call)
        const own = answerItself?.(call)
        if (own !== undefined) {
          res.writeHead(own.status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(own.body))
          return
        }
        if (endpoint === '/auth' && params.state !== undefined) byState.set(params.state, params)
        if (introspection && url.pathname === introspection.path) {
          const answer = await introspect(req.headers.authorization, params.token ?? '')
          res.writeHead(answer.status, { 'content-type': 'application/json' })
          res.end(JSON.stringify(answer.body))
          return
        }
        if (endpoint === '/auth' && oauthOnly) {
          const added = new URL(req.url ?? '/', 'http://stand-in')
          for (const [k, v] of Object.entries(oauthOnly.authorizeParams)) {
            if (!added.searchParams.has(k)) added.searchParams.set(k, v)
          }
          req.url = `${added.pathname}${added.search}`
        }
        // The login form is one site spread over both origins (as Cognito's hosted UI is the
        // pool's): the IdP's same-origin check sees the issuer's origin.
        if (origins.domain !== undefined && req.headers.origin === origins.domain) {
          req.headers.origin = origins.issuer
        }
        const answer = await forward(idpPort, req, body)
        let out = answer.body
        const location = answer.headers.location
        if (typeof location === 'string') {
          const back = URL.parse(location, 'http://stand-in')
          const code = back?.searchParams.get('code')
          const state = back?.searchParams.get('state')
          const started = state ? byState.get(state) : undefined
          if (code && started) grants.set(`code:${code}`, started)
        }
        if (answer.status === 200 && endpoint === '/jwks') {
          const set = JSON.parse(out.toString('utf8')) as { keys: JWK[] }
          out = Buffer.from(JSON.stringify({ keys: [...set.keys, publicJwk] }))
        }
        if (answer.status === 200 && endpoint === '/token' && jwtAccessToken) {
          out = await withJWTAccessToken(out, params)
        }
        if (answer.status === 200 && endpoint === '/token' && idTokenClaims) {
          out = await withIDTokenClaims(out, idTokenClaims)
        }
        if (answer.status === 200 && endpoint === WELL_KNOWN && discovery) {
          const doc = JSON.parse(out.toString('utf8')) as Record<string, unknown>
          out = Buffer.from(JSON.stringify(discovery(doc, `http://${req.headers.host ?? ''}`)))
        }
        if (answer.status === 200 && endpoint === '/token' && oauthOnly) {
          const tokens = JSON.parse(out.toString('utf8')) as Record<string, unknown>
          delete tokens.id_token
          out = Buffer.from(JSON.stringify(tokens))
        }
        if (answer.status === 200 && endpoint === '/me' && oauthOnly) {
          const claims = JSON.parse(out.toString('utf8')) as Record<string, unknown>
          out = Buffer.from(JSON.stringify(oauthOnly.userinfo(claims)))
        }
        const headers = { ...answer.headers }
        delete headers['content-length']
        delete headers['transfer-encoding']
        res.writeHead(answer.status, headers)
        res.end(out)
      })().catch(() => {
        if (!res.headersSent) res.writeHead(502)
        res.end()
      })
    }
  // Known once both listen; read by the handler only after that.
  const origins: { issuer: string; domain: string | undefined } = { issuer: '', domain: undefined }
  const server = createServer(handle(routes ?? {}))
  const domain = domainRoutes ? createServer(handle(domainRoutes)) : undefined

  async function withIDTokenClaims(
    out: Buffer,
    rewrite: (claims: Record<string, unknown>) => Record<string, unknown>,
  ): Promise<Buffer> {
    const tokens = JSON.parse(out.toString('utf8')) as Record<string, unknown>
    if (typeof tokens.id_token !== 'string') return out
    const payload = tokens.id_token.split('.')[1] ?? ''
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >
    tokens.id_token = await new SignJWT(rewrite(claims))
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: publicJwk.kid ?? '' })
      .sign(privateKey)
    return Buffer.from(JSON.stringify(tokens))
  }

  /** RFC 7662: the client must authenticate; a token this stand-in minted is active. */
  async function introspect(
    authorization: string | undefined,
    token: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const expected = `Basic ${Buffer.from(
      `${introspection?.clientId ?? ''}:${introspection?.clientSecret ?? ''}`,
    ).toString('base64')}`
    if (authorization !== expected) return { status: 401, body: { error: 'invalid_client' } }
    try {
      const { payload } = await jwtVerify(token, publicKey)
      return { status: 200, body: { active: true, ...payload } }
    } catch {
      return { status: 200, body: { active: false } }
    }
  }

  async function withJWTAccessToken(out: Buffer, params: Record<string, string>): Promise<Buffer> {
    const tokens = JSON.parse(out.toString('utf8')) as Record<string, unknown>
    const started =
      params.grant_type === 'authorization_code'
        ? grants.get(`code:${params.code ?? ''}`)
        : grants.get(`rt:${params.refresh_token ?? ''}`)
    if (typeof tokens.refresh_token === 'string' && started) {
      grants.set(`rt:${tokens.refresh_token}`, started)
    }
    if (!started || typeof tokens.id_token !== 'string' || jwtAccessToken === undefined) return out
    const payload = tokens.id_token.split('.')[1] ?? ''
    const idTokenClaims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >
    const claims = jwtAccessToken({
      authorize: started,
      idTokenClaims,
      issuer,
      clientId: started.client_id ?? '',
      scope: typeof tokens.scope === 'string' ? tokens.scope : (started.scope ?? ''),
    })
    if (claims === undefined) return out
    tokens.access_token = await mintAccessToken({ ...claims, iss: issuer })
    tokens.expires_in = ACCESS_TOKEN_TTL
    return Buffer.from(JSON.stringify(tokens))
  }

  function mintAccessToken(claims: Record<string, unknown>, typ = 'JWT'): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({ iss: issuer, iat: now, exp: now + ACCESS_TOKEN_TTL, ...claims })
      .setProtectedHeader({ alg: 'RS256', typ, kid: publicJwk.kid ?? '' })
      .sign(privateKey)
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  if (domain) await new Promise<void>((resolve) => domain.listen(0, '127.0.0.1', resolve))
  const domainOrigin = domain
    ? `http://127.0.0.1:${(domain.address() as AddressInfo).port}`
    : undefined
  origins.issuer = origin
  origins.domain = domainOrigin
  const issuer = `${origin}${issuerPath}`
  try {
    idp = await startDevIdentityProvider({ ...idpOptions, issuer })
    idpPort = Number(new URL(idpOriginOf(idp)).port)
  } catch (error) {
    server.close()
    domain?.close()
    throw error
  }
  const started = idp
  return {
    issuer,
    origin,
    domainOrigin,
    discoveryUrl: `${issuer.replace(/\/$/, '')}${WELL_KNOWN}`,
    idp: started,
    calls,
    callsTo: (endpoint) => calls.filter((c) => c.endpoint === endpoint),
    mintAccessToken,
    async close() {
      if (domain) {
        await new Promise<void>((resolve) => {
          domain.closeAllConnections()
          domain.close(() => {
            resolve()
          })
        })
      }
      await new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      })
      await started.close()
    },
  }
}

/** Where the dev IdP itself listens (its `listening` address, not the issuer). */
function idpOriginOf(idp: DevIdP): string {
  return idp.listeningOn
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      resolve(Buffer.concat(chunks))
    })
    req.on('error', reject)
  })
}

interface Forwarded {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** Sends the request on to the IdP unchanged (same Host, so its URLs name the proxy). */
function forward(port: number, req: IncomingMessage, body: Buffer): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    const out = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'content-length': String(body.length) },
      },
      (answer) => {
        readBody(answer).then((b) => {
          resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: b })
        }, reject)
      },
    )
    out.on('error', reject)
    out.end(body)
  })
}
