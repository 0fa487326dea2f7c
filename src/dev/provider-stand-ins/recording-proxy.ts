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
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'

import { startDevIdentityProvider, type DevIdp, type DevIdpOptions } from '../idp.js'

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

export interface ProviderStandInOptions extends Omit<DevIdpOptions, 'issuer'> {
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
  readonly idp: DevIdp
  /** Every request received, oldest first. */
  readonly calls: RecordedCall[]
  /** The requests to one endpoint (`/auth`, `/token`). */
  callsTo(endpoint: string): RecordedCall[]
  /**
   * Signs an access token with the stand-in's published access-token key (`iss` the issuer, `iat`
   * now and `exp` in 10 minutes unless `claims` set them): what the provider would issue to an MCP
   * client that registered there itself (the remote-AS mode).
   */
  signAccessToken(claims: Record<string, unknown>): Promise<string>
  close(): Promise<void>
}

const WELL_KNOWN = '/.well-known/openid-configuration'
const ACCESS_TOKEN_TTL = 600

/** Starts the IdP behind the recording proxy. */
export async function startProviderStandIn(
  options: ProviderStandInOptions,
): Promise<ProviderStandIn> {
  const { issuerPath, jwtAccessToken, domainRoutes, ...idpOptions } = options
  const calls: RecordedCall[] = []
  const grants = new Map<string, Record<string, string>>()
  const byState = new Map<string, Record<string, string>>()
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const publicJwk: JWK = await exportJWK(publicKey)
  publicJwk.kid = `at-${await calculateJwkThumbprint(publicJwk)}`
  publicJwk.alg = 'RS256'
  publicJwk.use = 'sig'

  let idp: DevIdp | undefined
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
        calls.push({
          reached: `http://${req.headers.host ?? ''}${asked.pathname}`,
          method: req.method ?? 'GET',
          endpoint,
          params,
          clientAuth: basic ? 'basic' : params.client_secret !== undefined ? 'post' : 'none',
        })
        if (endpoint === '/auth' && params.state !== undefined) byState.set(params.state, params)
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
          out = await withJwtAccessToken(out, params)
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
  const server = createServer(handle({}))
  const domain = domainRoutes ? createServer(handle(domainRoutes)) : undefined

  async function withJwtAccessToken(out: Buffer, params: Record<string, string>): Promise<Buffer> {
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
    tokens.access_token = await signAccessToken(claims)
    tokens.expires_in = ACCESS_TOKEN_TTL
    return Buffer.from(JSON.stringify(tokens))
  }

  function signAccessToken(claims: Record<string, unknown>): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({ iss: issuer, iat: now, exp: now + ACCESS_TOKEN_TTL, ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: publicJwk.kid ?? '' })
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
    signAccessToken,
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
function idpOriginOf(idp: DevIdp): string {
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
