/**
 * Route and tool policy: who may use a route, which tools a caller sees in `tools/list`, and what
 * a `tools/call` the caller may not make answers: a 403 `insufficient_scope` naming exactly the
 * scopes the tool needs when more scope would allow it (SEP-835 step-up), a JSON-RPC error when
 * nothing the caller could be granted would.
 */
import type { AccessRule, GatewayRoute } from '../config/gateway-schema.js'
import type { AccessToken } from '../jwt/access-token.js'
import type { RpcMessage } from './messages.js'

export type Decision =
  | { readonly kind: 'allow' }
  | { readonly kind: 'step-up'; readonly scopes: readonly string[] }
  | { readonly kind: 'deny'; readonly message: string }

const ALLOW: Decision = { kind: 'allow' }

/** Checks one rule: conditions on who the caller is first (no scope can fix those), then scopes. */
export function evaluate(rule: AccessRule | undefined, token: AccessToken): Decision {
  if (!rule) return ALLOW
  // `subjects` names users: a machine (client credentials) token whose client id happens to
  // equal a listed subject is not that user.
  if (
    rule.subjects &&
    (token.machine === true ||
      token.subject === undefined ||
      !rule.subjects.includes(token.subject))
  ) {
    return { kind: 'deny', message: 'this user may not use it' }
  }
  if (rule.clients && !rule.clients.includes(token.clientId)) {
    return { kind: 'deny', message: 'this client may not use it' }
  }
  if (rule.roles && !rule.roles.some((r) => token.roles?.includes(r) === true)) {
    return { kind: 'deny', message: 'a role this user lacks is needed' }
  }
  const has = new Set(token.scopes)
  if (rule.scopes.some((s) => !has.has(s))) return { kind: 'step-up', scopes: rule.scopes }
  return ALLOW
}

/** The policy of one route. */
export class RoutePolicy {
  readonly #route: GatewayRoute

  constructor(route: GatewayRoute) {
    this.#route = route
  }

  /** Whether responses may need filtering (any tool rule, or unlisted tools hidden). */
  get filters(): boolean {
    return this.#route.unlistedTools === 'deny' || Object.keys(this.#route.tools).length > 0
  }

  /** The route-wide rule (`allow`). */
  route(token: AccessToken): Decision {
    return evaluate(this.#route.allow, token)
  }

  /** May the caller use the tool `name`? */
  tool(name: string, token: AccessToken): Decision {
    const rule = Object.hasOwn(this.#route.tools, name) ? this.#route.tools[name] : undefined
    if (!rule) {
      return this.#route.unlistedTools === 'deny'
        ? { kind: 'deny', message: `unknown tool: ${name}` }
        : ALLOW
    }
    return evaluate(rule, token)
  }

  /** The decision for one incoming message (only `tools/call` is governed per item). */
  message(msg: RpcMessage, token: AccessToken): Decision {
    if (msg.method !== 'tools/call') return ALLOW
    const name = (msg.params as { name?: unknown } | undefined)?.name
    if (typeof name !== 'string') return ALLOW // the server answers a malformed call itself
    return this.tool(name, token)
  }

  /** A `tools/list` result with only the tools the caller may call now. */
  filterToolList(result: unknown, token: AccessToken): unknown {
    if (typeof result !== 'object' || result === null) return result
    const tools = (result as { tools?: unknown }).tools
    if (!Array.isArray(tools)) return result
    return {
      ...result,
      tools: tools.filter((t: unknown) => {
        const name = (t as { name?: unknown } | null)?.name
        return typeof name === 'string' && this.tool(name, token).kind === 'allow'
      }),
    }
  }
}
