/**
 * `startAzureStandIn`: a local Microsoft Entra ID for tests and `gatehouse dev --provider azure`,
 * on a loopback port. It serves what Gatehouse's Azure provider talks to, with Entra's rules and
 * error shapes (see authorize.ts, token.ts), and records every request it receives so tests can
 * assert exactly what was sent. Development only: secrets are compared but kept in memory, and the
 * recorded requests hold them.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { JWTPayload } from 'jose'
import { toNodeListener } from '../web-listener.js'
import { handleAuthorize, handleLogin, handleLoginPage } from './authorize.js'
import { handleDiscovery, handleKeys } from './discovery.js'
import { Directory, type StandInApp, type StandInTenant, type StandInUser } from './directory.js'
import { handleGraphMe } from './graph.js'
import { KeyRing } from './keys.js'
import { StandInState, type RecordedRequest } from './state.js'
import { handleToken } from './token.js'

export interface AzureStandInOptions {
  tenants: StandInTenant[]
  apps: StandInApp[]
  users: StandInUser[]
  /** Default 0 (any free port). */
  port?: number
  /** Lifetime of access tokens (default 3600 s). */
  tokenTtlSeconds?: number
  /** Clock in ms (default `Date.now`). */
  now?: () => number
}

export interface AzureStandIn {
  /** `http://127.0.0.1:{port}`: pass it as the Azure provider's `authority`. */
  readonly url: string
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[]
  /** The requests to one endpoint (`authorize`, `token`, `graph`, `discovery`, `jwks`). */
  requestsTo(endpoint: string): RecordedRequest[]
  clearRequests(): void
  /** Successful token requests per grant. */
  readonly issued: Readonly<{
    authorization_code: number
    refresh_token: number
    on_behalf_of: number
  }>
  /** A new signing key (the previous one stays published); returns its kid. */
  rotateKeys(): Promise<string>
  /** Signs any payload with the current key (tests of token validation). */
  sign(payload: JWTPayload): Promise<string>
  /** The v2 issuer of a tenant GUID (`{url}/{tid}/v2.0`). */
  issuer(tid: string): string
  /** Replaces the clock. */
  setNow(now: () => number): void
  close(): Promise<void>
}

const ROUTE =
  /^\/(.+?)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys|oauth2\/v2\.0\/authorize|oauth2\/v2\.0\/token)$/
const LOGIN = /^\/(.+?)\/login\/([\w-]+)(\/login)?$/

export async function startAzureStandIn(options: AzureStandInOptions): Promise<AzureStandIn> {
  const keys = await KeyRing.create()
  const directory = new Directory(options.tenants, options.apps, options.users)
  const holder: { state?: StandInState } = {}
  const handler = async (request: Request): Promise<Response> => {
    const state = holder.state
    if (!state) return new Response('starting', { status: 503 })
    const url = new URL(request.url)
    const path = url.pathname
    if (path === '/v1.0/me' && request.method === 'GET') return handleGraphMe(state, request)
    const route = ROUTE.exec(path)
    if (route) {
      const [, tenant = '', what] = route
      if (what === 'oauth2/v2.0/token') {
        return request.method === 'POST'
          ? handleToken(state, tenant, request)
          : new Response(null, { status: 405, headers: { allow: 'POST' } })
      }
      if (request.method !== 'GET')
        return new Response(null, { status: 405, headers: { allow: 'GET' } })
      if (what === 'oauth2/v2.0/authorize') return handleAuthorize(state, tenant, url)
      if (what === 'discovery/v2.0/keys') return handleKeys(state, tenant)
      return handleDiscovery(state, tenant)
    }
    const login = LOGIN.exec(path)
    if (login) {
      const [, , id = '', post] = login
      if (post && request.method === 'POST') return handleLogin(state, id, request)
      if (!post && request.method === 'GET') return handleLoginPage(state, id)
    }
    return Response.json({ error: 'not_found' }, { status: 404 })
  }
  const server = createServer(toNodeListener(handler))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  const s = new StandInState(
    directory,
    keys,
    url,
    options.tokenTtlSeconds ?? 3600,
    options.now ?? Date.now,
  )
  holder.state = s
  return {
    url,
    requests: s.requests,
    requestsTo: (endpoint) => s.requests.filter((r) => r.endpoint === endpoint),
    clearRequests: () => {
      s.requests.length = 0
    },
    issued: s.issued,
    rotateKeys: () => keys.rotate(),
    sign: (payload) => keys.sign(payload),
    issuer: (tid) => s.issuer(tid, false),
    setNow: (now) => {
      s.now = now
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}
