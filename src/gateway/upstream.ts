/**
 * The contract between a gateway route and the MCP server behind it (HTTP or stdio). The route
 * has already checked the token, the body, the headers, the policy and the session's owner.
 */
import type { AccessToken } from '../jwt/access-token.js'
import type { RPCMessage } from './messages.js'

export interface UpstreamCall {
  request: Request
  token: AccessToken
  /** The POST body as received (at most the route's cap) and its parsed messages. */
  body?: Uint8Array<ArrayBuffer>
  messages?: readonly RPCMessage[]
  /** The `Mcp-Session-Id` the client sent, already checked to be the caller's. */
  sessionId?: string
  /**
   * Rewrites a response to one of the caller's requests (policy: every list in it filtered).
   * `request` is `undefined` for an answer to none of this call's requests (one a resumed stream
   * replays).
   */
  rewrite?: (request: RPCMessage | undefined, response: RPCMessage) => RPCMessage
  /** Records the session id the upstream assigned to this caller; `false`: owned by another. */
  opened(sessionId: string): Promise<boolean>
  /** Forgets a session that ended. */
  ended(sessionId: string): Promise<void>
}

export interface Upstream {
  handle(call: UpstreamCall): Promise<Response>
  /** For `/readyz`: the server answers (HTTP) or its program can be started (stdio). */
  ready(): Promise<boolean>
  /** Stops new work and releases processes and connections. */
  close(): Promise<void>
}
