/**
 * `startGoogleStandIn`: a local Google sign-in for tests and `gatehouse dev --provider google`, on
 * a loopback port, with Google's rules (oauth.ts). Its discovery document is at
 * `{url}/.well-known/openid-configuration` (Gatehouse's `upstream.discoveryUrl`). It records every
 * request so tests can assert what Gatehouse sent. Development only: secrets are compared but
 * kept in memory, and the recorded requests hold them.
 */
import type { JWTPayload } from 'jose'
import { KeyRing } from '../azure-stand-in/keys.js'
import { serveLoopback, type RecordedRequest } from '../stand-in-kit.js'
import {
  GoogleState,
  handleAuthorize,
  handleDiscovery,
  handleLogin,
  handleLoginPage,
  handleToken,
  handleUserinfo,
  type GoogleStandInClient,
  type GoogleStandInUser,
} from './oauth.js'

export interface GoogleStandInOptions {
  clients: GoogleStandInClient[]
  users: GoogleStandInUser[]
  /** ID tokens name the issuer without `https://` (Google uses both forms). Default false. */
  schemelessIssuer?: boolean
  /** Default 0 (any free port). */
  port?: number
  /** Clock in ms (default `Date.now`). */
  now?: () => number
}

export interface GoogleStandIn {
  /** `http://127.0.0.1:{port}`: the issuer. */
  readonly url: string
  /** `{url}/.well-known/openid-configuration`: Gatehouse's `upstream.discoveryUrl`. */
  readonly discoveryUrl: string
  readonly requests: readonly RecordedRequest[]
  /** The requests to one endpoint (`authorize`, `token`, `userinfo`). */
  requestsTo(endpoint: string): RecordedRequest[]
  clearRequests(): void
  readonly issued: Readonly<{ authorization_code: number; refresh_token: number }>
  /** Signs any payload with the current key (tests of ID-token checks). */
  sign(payload: JWTPayload): Promise<string>
  setSchemelessIssuer(on: boolean): void
  setNow(now: () => number): void
  close(): Promise<void>
}

const LOGIN = /^\/signin\/([\w-]+)(\/login)?$/

export async function startGoogleStandIn(options: GoogleStandInOptions): Promise<GoogleStandIn> {
  const keys = await KeyRing.create()
  const holder: { state?: GoogleState } = {}
  const handler = async (request: Request): Promise<Response> => {
    const state = holder.state
    if (!state) return new Response('starting', { status: 503 })
    const path = new URL(request.url).pathname
    const get = request.method === 'GET'
    if (get && path === '/.well-known/openid-configuration') return handleDiscovery(state)
    if (get && path === '/oauth2/v3/certs') return Response.json(keys.jwks())
    if (get && path === '/o/oauth2/v2/auth') return handleAuthorize(state, request)
    if (path === '/token' && request.method === 'POST') return handleToken(state, request)
    if (get && path === '/v1/userinfo') return handleUserinfo(state, request)
    const login = LOGIN.exec(path)
    if (login) {
      const [, id = '', post] = login
      if (post && request.method === 'POST') return handleLogin(state, id, request)
      if (!post && get) return handleLoginPage(state, id)
    }
    return Response.json({ error: 'not_found' }, { status: 404 })
  }
  const server = await serveLoopback(handler, options.port)
  const state = new GoogleState({
    clients: options.clients,
    users: options.users,
    keys,
    base: server.url,
    schemelessIssuer: options.schemelessIssuer ?? false,
    now: options.now ?? Date.now,
  })
  holder.state = state
  return {
    url: server.url,
    discoveryUrl: `${server.url}/.well-known/openid-configuration`,
    requests: state.requests,
    requestsTo: (endpoint) => state.requests.filter((r) => r.endpoint === endpoint),
    clearRequests: () => {
      state.requests.length = 0
    },
    issued: state.issued,
    sign: (payload) => keys.sign(payload),
    setSchemelessIssuer: (on) => {
      state.schemelessIssuer = on
    },
    setNow: (now) => {
      state.now = now
    },
    close: server.close,
  }
}
