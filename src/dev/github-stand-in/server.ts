/**
 * `startGitHubStandIn`: a local GitHub for tests and `gatehouse dev --provider github`, on a
 * loopback port: the OAuth web flow at `{url}/login/oauth/*` (oauth.ts) and the REST API at
 * `{url}/api/v3` (api.ts), laid out as GitHub Enterprise Server is (so `serverUrl` and `apiUrl`
 * point at it). It records every request so tests can assert what Gatehouse sent. Development
 * only: secrets are compared but kept in memory, and the recorded requests hold them.
 */
import { serveLoopback, type RecordedRequest } from '../stand-in-kit.js'
import { handleAPI } from './api.js'
import { handleAccessToken, handleAuthorize, handleLogin, handleLoginPage } from './oauth.js'
import {
  GitHubState,
  type GitHubStandInApp,
  type GitHubStandInOrg,
  type GitHubStandInUser,
} from './state.js'

export interface GitHubStandInOptions {
  apps: GitHubStandInApp[]
  users: GitHubStandInUser[]
  orgs?: GitHubStandInOrg[]
  /** Default 0 (any free port). */
  port?: number
  /** Clock in ms (default `Date.now`). */
  now?: () => number
}

export interface GitHubStandIn {
  /** `http://127.0.0.1:{port}`: Gatehouse's `upstream.serverUrl`. */
  readonly url: string
  /** `{url}/api/v3`: Gatehouse's `upstream.apiUrl`. */
  readonly apiUrl: string
  /** Every request received, in order. */
  readonly requests: readonly RecordedRequest[]
  /** The requests to one endpoint (`authorize`, `token`, `user`, `emails`, `membership`, `teams`). */
  requestsTo(endpoint: string): RecordedRequest[]
  clearRequests(): void
  /** Successful token requests per grant. */
  readonly issued: Readonly<{ authorization_code: number; refresh_token: number }>
  /** Revokes every token of a user (as "Revoke access" in the user's settings does). */
  revokeUser(login: string): void
  setNow(now: () => number): void
  close(): Promise<void>
}

const LOGIN = /^\/login\/session\/([\w-]+)(\/login)?$/

export async function startGitHubStandIn(options: GitHubStandInOptions): Promise<GitHubStandIn> {
  const holder: { state?: GitHubState } = {}
  const handler = async (request: Request): Promise<Response> => {
    const state = holder.state
    if (!state) return new Response('starting', { status: 503 })
    const path = new URL(request.url).pathname
    if (path === '/login/oauth/authorize' && request.method === 'GET') {
      return handleAuthorize(state, request)
    }
    if (path === '/login/oauth/access_token') {
      return request.method === 'POST'
        ? handleAccessToken(state, request)
        : new Response(null, { status: 405, headers: { allow: 'POST' } })
    }
    if (path.startsWith('/api/v3/')) return handleAPI(state, request, path.slice('/api/v3'.length))
    const login = LOGIN.exec(path)
    if (login) {
      const [, id = '', post] = login
      if (post && request.method === 'POST') return handleLogin(state, id, request)
      if (!post && request.method === 'GET') return handleLoginPage(state, id)
    }
    return Response.json({ message: 'Not Found' }, { status: 404 })
  }
  const server = await serveLoopback(handler, options.port)
  const state = new GitHubState(
    {
      apps: options.apps,
      users: options.users,
      orgs: options.orgs ?? [],
      now: options.now ?? Date.now,
    },
    server.url,
  )
  holder.state = state
  return {
    url: server.url,
    apiUrl: `${server.url}/api/v3`,
    requests: state.requests,
    requestsTo: (endpoint) => state.requests.filter((r) => r.endpoint === endpoint),
    clearRequests: () => {
      state.requests.length = 0
    },
    issued: state.issued,
    revokeUser: (login) => {
      for (const t of [...state.tokens.values(), ...state.refreshTokens.values()]) {
        if (t.user.login.toLowerCase() === login.toLowerCase()) t.live = false
      }
    },
    setNow: (now) => {
      state.now = now
    },
    close: server.close,
  }
}
