/**
 * How an identity provider's roles and groups become Gatehouse roles, the one way every provider
 * profile uses: the profile reads the provider's own claims (Keycloak's `realm_access.roles` and
 * `resource_access.{client}.roles`, Auth0's namespaced custom claim, Okta's `groups`, Cognito's
 * `cognito:groups` …) from a token it has verified, and `withRoles` puts their union, as a list of
 * strings, in the identity's `roles` claim. The grant keeps it, Gatehouse's access tokens carry it
 * as `roles`, and `requireToolRoles` and the gateway's policy rules check it whichever IdP signed
 * the user in. A claim of another shape gives no roles (never a guess). Roles an IdP scopes to an
 * organization or tenant (PropelAuth, Descope, WorkOS, Scalekit) are plain only for the one the
 * operator pinned; any other's are qualified (`qualifiedRole`).
 */
import type { UserIdentity } from '../upstream/profile.js'

/**
 * `role` held in organization (or tenant) `org`, as a Gatehouse role: `<org>:<role>`. Anyone can
 * create an organization at such an IdP and be its Owner or Admin, so an unpinned organization's
 * role must never read as the operator's own `Admin`.
 */
export function qualifiedRole(org: string, role: string): string {
  return `${org}:${role}`
}

/**
 * The `roles` a token holds in its one organization `org` (WorkOS `org_id`, Scalekit `oid`):
 * plain when `org` is the `pinned` one, qualified otherwise, none when the token names no
 * organization (its roles would belong to no one known).
 */
export function organizationRoles(
  roles: readonly string[],
  org: unknown,
  pinned: string | undefined,
): string[] {
  if (typeof org !== 'string' || org === '') return []
  return org === pinned ? [...roles] : roles.map((role) => qualifiedRole(org, role))
}

/** The strings of `value` when it is a list of strings, else none. */
export function stringList(value: unknown): string[] {
  if (!Array.isArray(value)) return []
  return value.every((v) => typeof v === 'string') ? [...value] : []
}

/** The member `name` of `value` when it is a plain object. */
export function member(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  return Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined
}

/** The identity with `roles` set to the distinct `roles` (replacing any the IdP sent as `roles`). */
export function withRoles(identity: UserIdentity, roles: readonly string[]): UserIdentity {
  const claims: Record<string, unknown> = { ...identity.claims }
  delete claims.roles
  const distinct = [...new Set(roles)]
  if (distinct.length > 0) claims.roles = distinct
  return { ...identity, claims }
}
