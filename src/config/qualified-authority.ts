/**
 * With `upstreams`, the roles, groups and Entra directory (`tid`) an IdP asserts are named by that
 * IdP, `<id>:<value>` (src/upstream/oauth-proxy.ts), as its subjects are `<id>|<sub>`: no IdP can
 * give its users another's. Config that names them (`admin.roles`, a gateway rule's `roles`,
 * `groups` and `tenants`) must then say whose they are; an unqualified name would match nobody,
 * so it is refused at start-up with the spelling to use.
 */
import type { z } from 'zod'

/** The list claims an IdP asserts a user's authority with. */
export const AUTHORITY_LIST_CLAIMS = ['roles', 'groups'] as const

/** Set in the claims of a grant whose roles, groups and `tid` were named by their IdP. */
export const AUTHORITY_NAMED_CLAIM = 'authority_named'

/**
 * Whether a grant's roles, groups and `tid` may be read: the grant is not from `upstreams` (no
 * `upstream_idp`, the claim the OAuth proxy records), or they were named by their IdP at sign-in.
 * A grant made through `upstreams` before they were named holds them as its IdP sent them, and
 * refreshing it does not ask the IdP again: they count for nothing until the user signs in anew.
 */
export function authorityReadable(claims: Readonly<Record<string, unknown>> | undefined): boolean {
  return typeof claims?.upstream_idp !== 'string' || claims[AUTHORITY_NAMED_CLAIM] === true
}

const RULE_FIELDS = ['roles', 'groups', 'tenants'] as const

interface Rule {
  roles?: readonly string[] | undefined
  groups?: readonly string[] | undefined
  tenants?: readonly string[] | undefined
}

interface Route {
  allow?: Rule | undefined
  tools?: Record<string, Rule> | undefined
  prompts?: Record<string, Rule> | undefined
  resources?: Record<string, Rule> | undefined
}

export function checkQualifiedAuthority(
  c: {
    upstreams?: readonly { id?: unknown }[] | undefined
    admin?: { roles?: readonly string[] | undefined } | undefined
    gateway?: { routes?: readonly Route[] | undefined } | undefined
  },
  ctx: z.RefinementCtx,
): void {
  // Refinements run even on fields that failed their own schema: read nothing as given.
  const upstreams: unknown = c.upstreams
  if (!Array.isArray(upstreams)) return
  const ids: string[] = []
  for (const e of upstreams as unknown[]) {
    const id = (e as { id?: unknown } | null)?.id
    if (typeof id === 'string') ids.push(id)
  }
  const example = ids[0] ?? 'corp'
  const check = (values: unknown, path: (string | number)[], what: string) => {
    if (!Array.isArray(values)) return
    ;(values as unknown[]).forEach((value, i) => {
      if (typeof value !== 'string') return
      const at = value.indexOf(':')
      if (at > 0 && ids.includes(value.slice(0, at)) && at < value.length - 1) return
      ctx.addIssue({
        code: 'custom',
        path: [...path, i],
        message: `with upstreams, name the identity provider this ${what} comes from: "${example}:${value}" (${what}s of each IdP are "<upstreams id>:<name>", so that no IdP can give its users another's)`,
      })
    })
  }
  check(c.admin?.roles, ['admin', 'roles'], 'role')
  const routes: unknown = c.gateway?.routes
  if (!Array.isArray(routes)) return
  ;(routes as (Route | null)[]).forEach((route, r) => {
    if (typeof route !== 'object' || route === null) return
    const rules: [(string | number)[], Rule | undefined][] = [[['allow'], route.allow]]
    for (const kind of ['tools', 'prompts', 'resources'] as const) {
      const named: unknown = route[kind]
      if (typeof named !== 'object' || named === null) continue
      for (const [name, rule] of Object.entries(named as Record<string, Rule | undefined>)) {
        rules.push([[kind, name], rule])
      }
    }
    for (const [at, rule] of rules) {
      for (const field of RULE_FIELDS) {
        const what = field === 'tenants' ? 'tenant' : field.slice(0, -1)
        check(rule?.[field], ['gateway', 'routes', r, ...at, field], what)
      }
    }
  })
}
