/**
 * `createMCPHandler`: the MCP endpoint as one Web handler `(Request) => Promise<Response>`, with the
 * SDK's `WebStandardStreamableHTTPServerTransport` behind Gatehouse's guard. Every request is
 * checked by the guard first (401/403 challenges are Gatehouse's, also for requests that carry a
 * session id: sessions never authenticate), then by the per-tool scopes, then served by the SDK
 * with `extra.authInfo` set from the verified token.
 */
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js'
import type { ResolvedResource } from '../config/schema.js'
import { OAuthError, type ErrorHook } from '../errors.js'
import { randomToken } from '../http/random.js'
import { principalKey, principalOf, type AccessToken } from '../jwt/access-token.js'
import { bearerChallenge } from '../resource/bearer.js'
import type { ProtectedHandler, ProtectOptions } from '../resource/guard.js'
import { missingScopes, type ScopeHierarchy } from '../resource/scopes.js'
import { toAuthInfo, type GatehouseAuthInfo } from './auth-info.js'
import { bindContext, upstreamAccessOf } from './context.js'
import { jsonRPCError, sessionNotFound } from './json-rpc.js'
import { loadSDK, sharedDefaultValidator } from './sdk.js'
import type { CreateMCPServer, MCPServerLike } from './server-like.js'
import { SessionTable } from './sessions.js'
import {
  DEFAULT_MAX_BODY_BYTES,
  readJSONBody,
  scopesForToolCalls,
  unofferedToolScopes,
  type ToolScopes,
} from './tool-scopes.js'
import type { MCPSDKVersion, StreamableTransportOptions } from './transport.js'

/**
 * What guards the endpoint: a `Gatehouse`, a `RemoteAuthProvider` or a bare `Guard`. With `config`
 * (the first two) the `toolScopes` challenge names exactly the scopes the call needs; with a bare
 * `Guard` it names the resource's scopes. `base` (a `Gatehouse`'s provider) enables
 * `getUpstreamToken` when it offers one (an `OAuthProxy` does: the `UpstreamAccess` port).
 */
export interface MCPAuthSource {
  protect(
    handler: ProtectedHandler,
    options?: ProtectOptions,
  ): (request: Request) => Promise<Response>
  readonly config?: { readonly resources: readonly ResolvedResource[] }
  readonly base?: unknown
}

/** Transport options passed through to every `WebStandardStreamableHTTPServerTransport`. */
export type MCPTransportOptions = Pick<
  StreamableTransportOptions,
  'eventStore' | 'retryInterval' | 'keepAliveMs' | 'maxRequestBodySize'
>

/** Options of both modes. */
export interface MCPHandlerCommonOptions {
  /**
   * Creates the MCP server: per request (stateless) or per session (stateful); it must return a
   * new, unconnected server each time. Pass `context.jsonSchemaValidator` to the server.
   */
  createServer: CreateMCPServer
  /**
   * The MCP TypeScript SDK whose transport serves `createServer`'s servers: `1` for
   * `@modelcontextprotocol/sdk` 1.x, `2` for `@modelcontextprotocol/server` 2.x. Must match the
   * SDK the server comes from. Default: 1.x when it is installed, else 2.x.
   */
  sdk?: MCPSDKVersion
  /** Scopes every MCP request needs (beyond the resource's `requiredScopes`), checked by the guard. */
  scopes?: readonly string[]
  /** The resource URL to guard when the configuration has several (see `ProtectOptions`). */
  resource?: string
  /**
   * Scopes per tool, checked before the SDK sees the request: a `tools/call` (also inside a batch)
   * of a listed tool whose token lacks a scope gets HTTP 403 with
   * `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` naming the scopes the call
   * needs (the endpoint's `scopes`, the resource's required scopes and the tool's), so the client
   * can step up (MCP 2025-11-25 §Runtime insufficient scope). Tools not listed need no more than
   * the endpoint. When set, the glue reads the POST body itself (bounded like the transport) and
   * hands the transport the parsed body.
   */
  toolScopes?: ToolScopes
  /** Broader scopes that imply narrower ones, for `toolScopes` (`{ 'files:write': ['files:read'] }`). */
  scopeHierarchy?: ScopeHierarchy
  /**
   * Also name the token's granted scopes in a `toolScopes` challenge. Off by default: the
   * challenge names what the operation needs (RFC 6750 §3.1; MCP 2026-07-28 moves accumulation to
   * the client). Turn it on for clients that replace their scope set with the challenge's (the
   * MCP TypeScript SDK 1.x client does), so that stepping up does not lose earlier scopes.
   */
  challengeIncludesGrantedScopes?: boolean
  /** Answer with one JSON response instead of an SSE stream (the transport's option). */
  enableJsonResponse?: boolean
  /** Further transport options. */
  transportOptions?: MCPTransportOptions
  /**
   * The validator shared by all servers; default the SDK's Ajv validator, one per process. Pass
   * `CfWorkerJsonSchemaValidator` on runtimes without code generation (Cloudflare Workers).
   */
  jsonSchemaValidator?: jsonSchemaValidator
  /** Sees the `toolScopes` refusals (as Gatehouse's `onError` sees the guard's). */
  onError?: ErrorHook
  /**
   * Options that work but may not do what was meant (default `console.warn`), at creation: a
   * `toolScopes` entry naming a scope that no guarded resource offers (`resources[].scopes`).
   */
  onWarning?: (message: string) => void
}

/** A new server and transport per request; no sessions. GET and DELETE get 405. */
export interface StatelessMCPHandlerOptions extends MCPHandlerCommonOptions {
  mode: 'stateless'
}

/**
 * One server and transport per session, in memory, keyed by `Mcp-Session-Id` (256 random bits,
 * base64url). A session id used by another principal, unknown or idle past `sessionIdleSeconds`
 * gets 404, as if it did not exist; DELETE ends it.
 */
export interface StatefulMCPHandlerOptions extends MCPHandlerCommonOptions {
  mode: 'stateful'
  /** Idle time after which a session is closed (default 1800 s). */
  sessionIdleSeconds?: number
  /** Most sessions kept; adding one more closes the least recently used (default 10,000). */
  maxSessions?: number
  /**
   * Most sessions per principal; one more closes that principal's least recently used session
   * (default 100), so that one user cannot push the others' sessions out of the table.
   */
  maxSessionsPerPrincipal?: number
  /** Milliseconds since the epoch; injected so tests control time. */
  now?: () => number
}

export type MCPHandlerOptions = StatelessMCPHandlerOptions | StatefulMCPHandlerOptions

/** The MCP endpoint handler. */
export interface MCPHandler {
  (request: Request): Promise<Response>
  /** Closes every session's server and transport (stateful); nothing to do when stateless. */
  close(): Promise<void>
  /** How many sessions are open (0 when stateless). */
  readonly sessionCount: number
}

const DEFAULT_IDLE_SECONDS = 1800
const DEFAULT_MAX_SESSIONS = 10_000
const DEFAULT_MAX_SESSIONS_PER_PRINCIPAL = 100

/**
 * Creates the MCP endpoint handler. Mount it at the resource's path; mount `gatehouse.fetch` for
 * the OAuth endpoints beside it.
 *
 * ```ts
 * const mcp = createMCPHandler(gatehouse, {
 *   mode: 'stateless',
 *   enableJsonResponse: true,
 *   toolScopes: { delete_file: ['files:write'] },
 *   createServer: ({ jsonSchemaValidator }) => {
 *     const server = new McpServer({ name: 'files', version: '1.0.0' }, { jsonSchemaValidator })
 *     server.registerTool('whoami', {}, (extra) => ({
 *       content: [{ type: 'text', text: authOf(extra).extra.subject ?? '' }],
 *     }))
 *     return server
 *   },
 * })
 * ```
 *
 * The SDK (`@modelcontextprotocol/sdk` 1.x or, with `sdk: 2`, `@modelcontextprotocol/server` 2.x,
 * optional peer dependencies) is imported on first use; with 2.x, tools read `authOf(ctx)`.
 * Throws `TypeError` for invalid options.
 */
export function createMCPHandler(auth: MCPAuthSource, options: MCPHandlerOptions): MCPHandler {
  validate(options)
  const upstream = upstreamAccessOf(auth.base)
  const resources = auth.config?.resources
  warnUnofferedToolScopes(options, resources)
  const toolTable = new Map(Object.entries(options.toolScopes ?? {}))
  const maxBodyBytes = options.transportOptions?.maxRequestBodySize ?? DEFAULT_MAX_BODY_BYTES
  const sdk = loadSDK(options.sdk)
  const transportClass = sdk.then((s) => s.Transport)
  const validator = options.jsonSchemaValidator
    ? Promise.resolve(options.jsonSchemaValidator)
    : sdk.then((s) => sharedDefaultValidator(s.version))
  // Loaded now so the first request does not wait; a failure surfaces on that request.
  transportClass.catch(() => undefined)
  validator.catch(() => undefined)
  const transportOptions: StreamableTransportOptions = {
    ...options.transportOptions,
    ...(options.enableJsonResponse !== undefined
      ? { enableJsonResponse: options.enableJsonResponse }
      : {}),
  }

  /** The 403 challenge for a tools/call whose tool needs scopes the token lacks, if any. */
  const checkToolScopes = (token: AccessToken, body: unknown): Response | undefined => {
    const needed = scopesForToolCalls(body, toolTable)
    if (needed.length === 0) return undefined
    const missing = missingScopes(token.scopes, needed, options.scopeHierarchy)
    if (missing.length === 0) return undefined
    const error = new OAuthError('insufficient_scope', `missing scope: ${missing.join(' ')}`, {
      reason: 'tool_insufficient_scope',
    })
    const resource = resources?.find((r) => r.url === token.resource)
    // A bare Guard: the guard's own challenge (naming the resource's scopes).
    if (!resource) throw error
    const scopes = [
      ...(options.scopes ?? []),
      ...needed,
      ...(options.challengeIncludesGrantedScopes ? token.scopes : []),
    ]
    return bearerChallenge(error, {
      resource,
      scopes,
      ...(options.onError ? { onError: options.onError } : {}),
    })
  }

  /** Reads the body when tools have scopes: the parsed body for the transport, or a refusal. */
  const preflight = async (
    request: Request,
    token: AccessToken,
  ): Promise<Response | { parsedBody?: unknown }> => {
    if (toolTable.size === 0 || request.method !== 'POST') return {}
    const read = await readJSONBody(request, maxBodyBytes)
    if (!read.ok) return read.response
    return checkToolScopes(token, read.body) ?? { parsedBody: read.body }
  }

  const newServer = async (token: AccessToken): Promise<MCPServerLike> =>
    options.createServer({ jsonSchemaValidator: await validator, principal: principalOf(token) })

  const authInfoFor = (token: AccessToken): GatehouseAuthInfo => {
    const authInfo = toAuthInfo(token)
    bindContext(authInfo.extra, { token, upstream })
    return authInfo
  }

  let sessions: SessionTable | undefined
  let handler: ProtectedHandler

  if (options.mode === 'stateless') {
    handler = async (request, token) => {
      if (request.method !== 'POST') {
        return jsonRPCError(405, -32000, 'Method not allowed: this endpoint is stateless', {
          allow: 'POST',
        })
      }
      const pre = await preflight(request, token)
      if (pre instanceof Response) return pre
      const Transport = await transportClass
      const server = await newServer(token)
      try {
        const transport = new Transport(transportOptions)
        await server.connect(transport)
        const response = await transport.handleRequest(request, {
          authInfo: authInfoFor(token),
          ...pre,
        })
        // An SSE stream is still being written; it ends (and is collected) after the last reply.
        if (!isEventStream(response)) await server.close()
        return response
      } catch (error) {
        await server.close().catch(() => undefined)
        throw error
      }
    }
  } else {
    const now = options.now ?? Date.now
    const table = new SessionTable({
      idleMs: (options.sessionIdleSeconds ?? DEFAULT_IDLE_SECONDS) * 1000,
      max: options.maxSessions ?? DEFAULT_MAX_SESSIONS,
      maxPerOwner: options.maxSessionsPerPrincipal ?? DEFAULT_MAX_SESSIONS_PER_PRINCIPAL,
      now,
    })
    sessions = table
    handler = async (request, token) => {
      table.sweep()
      const owner = principalKey(principalOf(token))
      const id = request.headers.get('mcp-session-id')
      if (id !== null) {
        const session = table.get(id)
        // RS-13: another principal's session is answered as if it did not exist.
        if (session?.owner !== owner) return sessionNotFound()
        table.touch(id, session)
        const pre = await preflight(request, token)
        if (pre instanceof Response) return pre
        return session.transport.handleRequest(request, { authInfo: authInfoFor(token), ...pre })
      }
      if (request.method !== 'POST') {
        return jsonRPCError(400, -32000, 'Bad Request: Mcp-Session-Id header is required')
      }
      const pre = await preflight(request, token)
      if (pre instanceof Response) return pre
      const Transport = await transportClass
      const server = await newServer(token)
      try {
        const transport = new Transport({
          ...transportOptions,
          sessionIdGenerator: () => randomToken(32),
          onsessioninitialized: (sessionId) => {
            table.add(sessionId, { server, transport, owner, lastSeen: now() })
          },
          onsessionclosed: (sessionId) => {
            table.remove(sessionId, transport)
          },
        })
        // Set before connect: the server chains its own onclose after this one.
        transport.onclose = () => {
          if (transport.sessionId !== undefined) table.remove(transport.sessionId, transport)
        }
        await server.connect(transport)
        const response = await transport.handleRequest(request, {
          authInfo: authInfoFor(token),
          ...pre,
        })
        // Not an initialization (or a refused one): no session was created.
        if (transport.sessionId === undefined) await server.close()
        return response
      } catch (error) {
        await server.close().catch(() => undefined)
        throw error
      }
    }
  }

  const guarded = auth.protect(handler, {
    ...(options.scopes ? { scopes: options.scopes } : {}),
    ...(options.resource !== undefined ? { resource: options.resource } : {}),
  })
  const mcp = ((request: Request) => guarded(request)) as MCPHandler
  Object.defineProperties(mcp, {
    close: { value: async () => sessions?.closeAll() },
    sessionCount: { get: () => sessions?.size ?? 0 },
  })
  return mcp
}

/** A tool whose scope no token can carry can never be called: say so at start-up. */
function warnUnofferedToolScopes(
  options: MCPHandlerOptions,
  resources: readonly ResolvedResource[] | undefined,
): void {
  if (!options.toolScopes || !resources) return
  const guarded = resources.filter((r) => r.url === options.resource?.replace(/\/+$/, ''))
  const warn = options.onWarning ?? console.warn
  const unoffered = unofferedToolScopes(
    options.toolScopes,
    guarded.length > 0 ? guarded : resources,
    options.scopeHierarchy,
  )
  for (const { tool, scope } of unoffered) {
    warn(
      `gatehouse: toolScopes.${tool} names the scope "${scope}", which no resource offers ` +
        '(resources[].scopes): no token can carry it, so the tool can never be called',
    )
  }
}

function isEventStream(response: Response): boolean {
  return response.headers.get('content-type')?.startsWith('text/event-stream') ?? false
}

function validate(options: MCPHandlerOptions): void {
  const mode = (options as { mode: unknown }).mode
  if (mode !== 'stateless' && mode !== 'stateful') {
    throw new TypeError(`createMCPHandler: mode must be 'stateless' or 'stateful'`)
  }
  if (typeof options.createServer !== 'function') {
    throw new TypeError('createMCPHandler: createServer must be a function')
  }
  if (options.mode === 'stateful') {
    const idle = options.sessionIdleSeconds
    if (idle !== undefined && !(Number.isFinite(idle) && idle > 0)) {
      throw new TypeError('createMCPHandler: sessionIdleSeconds must be a positive number')
    }
    for (const key of ['maxSessions', 'maxSessionsPerPrincipal'] as const) {
      const max = options[key]
      if (max !== undefined && !(Number.isInteger(max) && max > 0)) {
        throw new TypeError(`createMCPHandler: ${key} must be a positive integer`)
      }
    }
  }
  const bodyLimit = options.transportOptions?.maxRequestBodySize
  if (bodyLimit !== undefined && !(Number.isFinite(bodyLimit) && bodyLimit > 0)) {
    throw new TypeError('createMCPHandler: transportOptions.maxRequestBodySize must be positive')
  }
  for (const [tool, scopes] of Object.entries(options.toolScopes ?? {})) {
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string' && s.length > 0)) {
      throw new TypeError(`createMCPHandler: toolScopes.${tool} must be a list of scopes`)
    }
  }
}
