/**
 * Route policy: who may use a route, and which tools, prompts and resources a caller sees in the
 * lists and may use. A call the caller could make with more scope answers a 403
 * `insufficient_scope` naming exactly the scopes it needs (SEP-835 step-up); one nothing the caller
 * could be granted would allow answers a JSON-RPC error.
 */
import type { AccessRule, GatewayRoute } from '../config/gateway-schema.js'
import { ruleSpelling } from '../config/resource-uri.js'
import type { AccessToken } from '../jwt/access-token.js'
import {
  COMPLETE,
  completionRef,
  LISTEN,
  messageName,
  NAMED_METHODS,
  type RPCMessage,
} from './messages.js'

export type Decision =
  | { readonly kind: 'allow' }
  | { readonly kind: 'step-up'; readonly scopes: readonly string[] }
  /** `reason`: a slug for the audit log (`subject_not_allowed`, `unlisted` …). */
  | { readonly kind: 'deny'; readonly message: string; readonly reason: string }

const ALLOW: Decision = { kind: 'allow' }

/** The string values of an array claim (`groups`), or none. */
function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

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
    return { kind: 'deny', message: 'this user may not use it', reason: 'subject_not_allowed' }
  }
  if (rule.clients && !rule.clients.includes(token.clientId)) {
    return { kind: 'deny', message: 'this client may not use it', reason: 'client_not_allowed' }
  }
  if (rule.roles && !rule.roles.some((r) => token.roles?.includes(r) === true)) {
    return { kind: 'deny', message: 'a role this user lacks is needed', reason: 'role_missing' }
  }
  if (rule.groups) {
    const groups = token.machine === true ? [] : stringsOf(token.claims.groups)
    if (!rule.groups.some((g) => groups.includes(g))) {
      return {
        kind: 'deny',
        message: 'a group this user is not in is needed',
        reason: 'group_missing',
      }
    }
  }
  if (rule.tenants) {
    const tenant = token.upstream?.tenantId ?? token.claims.tid
    if (typeof tenant !== 'string' || !rule.tenants.includes(tenant)) {
      return {
        kind: 'deny',
        message: "this user's directory may not use it",
        reason: 'tenant_not_allowed',
      }
    }
  }
  const has = new Set(token.scopes)
  if (rule.scopes.some((s) => !has.has(s))) return { kind: 'step-up', scopes: rule.scopes }
  return ALLOW
}

type Rules = Record<string, AccessRule>

/** One kind of item (tools, prompts, resources): its rules and what an unlisted one gets. */
interface Kind {
  readonly rules: Rules
  readonly unlisted: 'allow' | 'deny'
  /** The rule for an item, if any (resources also match `prefix*` keys). */
  readonly find: (rules: Rules, key: string) => AccessRule | undefined
  readonly label: string
}

const exact = (rules: Rules, key: string) => (Object.hasOwn(rules, key) ? rules[key] : undefined)

/**
 * The rule of the longest key that is the URI itself or a `prefix*` the URI starts with, compared
 * as text. That holds because a request's URI is in normal form (parseMessages refuses any other
 * spelling, messages.ts `isNormalURI`), with one difference read here: `https://example.com` is
 * matched as `https://example.com/` (`ruleSpelling`), as the keys are written.
 */
function byURI(rules: Rules, written: string): AccessRule | undefined {
  const uri = ruleSpelling(written)
  if (Object.hasOwn(rules, uri)) return rules[uri]
  let best: string | undefined
  for (const key of Object.keys(rules)) {
    if (!key.endsWith('*')) continue
    const prefix = key.slice(0, -1)
    if (uri.startsWith(prefix) && (best === undefined || prefix.length > best.length - 1)) {
      best = key
    }
  }
  return best === undefined ? undefined : rules[best]
}

/** List methods, the array in their result and the field that names each item. */
const LISTS: Record<
  string,
  { kind: 'tools' | 'prompts' | 'resources'; field: string; key: string }
> = {
  'tools/list': { kind: 'tools', field: 'tools', key: 'name' },
  'prompts/list': { kind: 'prompts', field: 'prompts', key: 'name' },
  'resources/list': { kind: 'resources', field: 'resources', key: 'uri' },
  'resources/templates/list': {
    kind: 'resources',
    field: 'resourceTemplates',
    key: 'uriTemplate',
  },
}

/** The policy of one route. */
export class RoutePolicy {
  readonly #route: GatewayRoute
  readonly #kinds: Record<'tools' | 'prompts' | 'resources', Kind>

  constructor(route: GatewayRoute) {
    this.#route = route
    this.#kinds = {
      tools: { rules: route.tools, unlisted: route.unlistedTools, find: exact, label: 'tool' },
      prompts: {
        rules: route.prompts,
        unlisted: route.unlistedPrompts,
        find: exact,
        label: 'prompt',
      },
      resources: {
        rules: route.resources,
        unlisted: route.unlistedResources,
        find: byURI,
        label: 'resource',
      },
    }
  }

  /** Whether any rule of the route looks at the caller's groups. */
  get needsGroups(): boolean {
    const rules = [
      this.#route.allow,
      ...Object.values(this.#kinds).flatMap((k) => Object.values(k.rules)),
    ]
    return rules.some((r) => r?.groups !== undefined)
  }

  /** Whether responses may need filtering (any item rule, or unlisted items hidden). */
  get filters(): boolean {
    return Object.values(this.#kinds).some(
      (k) => k.unlisted === 'deny' || Object.keys(k.rules).length > 0,
    )
  }

  /** The route-wide rule (`allow`). */
  route(token: AccessToken): Decision {
    return evaluate(this.#route.allow, token)
  }

  /** May the caller use the item `key` (a tool or prompt name, a resource URI)? */
  item(kind: 'tools' | 'prompts' | 'resources', key: string, token: AccessToken): Decision {
    const k = this.#kinds[kind]
    const rule = k.find(k.rules, key)
    if (!rule) {
      return k.unlisted === 'deny'
        ? { kind: 'deny', message: `unknown ${k.label}: ${key}`, reason: 'unlisted' }
        : ALLOW
    }
    return evaluate(rule, token)
  }

  /** May the caller use the tool `name`? */
  tool(name: string, token: AccessToken): Decision {
    return this.item('tools', name, token)
  }

  /** The decision for one incoming message (tool calls, prompt gets, resource reads). */
  message(msg: RPCMessage, token: AccessToken): Decision {
    if (msg.method === LISTEN) return this.#listen(msg, token)
    // Completing a prompt's argument or a template's runs that item's completer: the item's rule.
    if (msg.method === COMPLETE) {
      const ref = completionRef(msg)
      // parseMessages refuses such a request first; should one come here, it passes no rule.
      if (ref === undefined) {
        return { kind: 'deny', message: 'the request names nothing', reason: 'malformed' }
      }
      return this.item(ref.kind, ref.key, token)
    }
    const named = typeof msg.method === 'string' ? NAMED_METHODS.get(msg.method) : undefined
    if (!named) return ALLOW
    const name = messageName(msg)
    // parseMessages refuses such a request first; should one come here, it passes no rule.
    if (name === undefined) {
      return { kind: 'deny', message: 'the request names nothing', reason: 'malformed' }
    }
    return this.item(named.kind, name, token)
  }

  /**
   * A `subscriptions/listen` (MCP 2026-07-28) subscribes to the updates of the resources its
   * `notifications.resourceSubscriptions` names, as `resources/subscribe` did for one: each must
   * be one the caller may read. A URI no scope would open denies the whole request; otherwise the
   * scopes that every URI needs, together, are the step-up.
   */
  #listen(msg: RPCMessage, token: AccessToken): Decision {
    const filter = (msg.params as { notifications?: { resourceSubscriptions?: unknown } } | null)
      ?.notifications
    const uris = filter?.resourceSubscriptions
    if (uris === undefined) return ALLOW
    // parseMessages refuses other shapes first; should one come here, it passes no rule.
    if (!Array.isArray(uris) || !uris.every((u): u is string => typeof u === 'string')) {
      return { kind: 'deny', message: 'resourceSubscriptions must be URIs', reason: 'malformed' }
    }
    const needed = new Set<string>()
    for (const uri of uris) {
      const decision = this.item('resources', uri, token)
      if (decision.kind === 'deny') return decision
      if (decision.kind === 'step-up') for (const scope of decision.scopes) needed.add(scope)
    }
    return needed.size > 0 ? { kind: 'step-up', scopes: [...needed] } : ALLOW
  }

  /**
   * A list result (`tools/list`, `prompts/list`, `resources/list`, templates) with only what the
   * caller may use now. Such a list is the caller's own: a 2026-07-28 result (`cacheable`: the
   * request was of that revision; or the result has its cache fields) says `cacheScope:
   * "private"` whatever the server said (`"public"`, or nothing, may be shared between users).
   * Older results get no field they do not know.
   */
  filterList(method: string, result: unknown, token: AccessToken, cacheable = false): unknown {
    const list = Object.hasOwn(LISTS, method) ? LISTS[method] : undefined
    if (!list || typeof result !== 'object' || result === null) return result
    const items = (result as Record<string, unknown>)[list.field]
    if (!Array.isArray(items)) return result
    const marked = cacheable || 'cacheScope' in result || 'ttlMs' in result
    return {
      ...result,
      ...(marked ? { cacheScope: 'private' } : {}),
      [list.field]: items.filter((t: unknown) => {
        const key = (t as Record<string, unknown> | null)?.[list.key]
        return typeof key === 'string' && this.item(list.kind, key, token).kind === 'allow'
      }),
    }
  }

  /**
   * Any result, whatever request it answers: every list in it (a top-level `tools`, `prompts`,
   * `resources` or `resourceTemplates` array) with only what the caller may use. The gateway
   * filters every answer so: an answer's id may name another request than the one it answers
   * (replayed on a resumed stream, or under an id another POST of the session reused).
   */
  filterAnyList(result: unknown, token: AccessToken, cacheable = false): unknown {
    let out = result
    for (const method of Object.keys(LISTS)) out = this.filterList(method, out, token, cacheable)
    return out
  }

  /** A `tools/list` result with only the tools the caller may call now. */
  filterToolList(result: unknown, token: AccessToken): unknown {
    return this.filterList('tools/list', result, token)
  }
}
