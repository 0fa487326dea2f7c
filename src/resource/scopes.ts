/**
 * Scope and role checks for protected routes and MCP tools. A scope hierarchy can be configured so
 * that a broader scope satisfies a narrower one (MCP 2026-07-28 §Step-Up).
 */
import { OAuthError } from '../errors.js'
import type { AccessToken } from '../jwt/access-token.js'

/** Maps a scope to the scopes it implies, e.g. `{ 'files:write': ['files:read'] }`. */
export type ScopeHierarchy = Readonly<Record<string, readonly string[]>>

/** The scopes in `needed` that `granted` (expanded through `hierarchy`) does not cover. */
export function missingScopes(
  granted: readonly string[],
  needed: readonly string[],
  hierarchy: ScopeHierarchy = {},
): string[] {
  if (needed.length === 0) return []
  const have = new Set<string>()
  const visit = (scope: string): void => {
    if (have.has(scope)) return
    have.add(scope)
    for (const implied of hierarchy[scope] ?? []) visit(implied)
  }
  granted.forEach(visit)
  return [...new Set(needed)].filter((s) => !have.has(s))
}

/**
 * Throws 403 `insufficient_scope` naming every missing scope at once (one challenge, not one per
 * scope). Use on HTTP routes and in MCP tool handlers.
 */
export function requireScopes(
  token: AccessToken,
  scopes: readonly string[],
  hierarchy?: ScopeHierarchy,
): void {
  const missing = missingScopes(token.scopes, scopes, hierarchy)
  if (missing.length > 0) {
    throw new OAuthError('insufficient_scope', `missing scope: ${missing.join(' ')}`, {
      reason: 'insufficient_scope',
    })
  }
}

/**
 * Throws 403 `insufficient_scope` unless the token carries the roles: `mode: 'any'` (default) needs
 * one of them, `'all'` needs every one.
 */
export function requireRoles(
  token: AccessToken,
  roles: readonly string[],
  mode: 'any' | 'all' = 'any',
): void {
  const have = new Set(token.roles ?? [])
  const ok = mode === 'all' ? roles.every((r) => have.has(r)) : roles.some((r) => have.has(r))
  if (!ok) {
    const missing = roles.filter((r) => !have.has(r))
    const description =
      mode === 'all'
        ? `missing role: ${missing.join(' ')}`
        : `requires one of the roles: ${roles.join(' ')}`
    throw new OAuthError('insufficient_scope', description, { reason: 'missing_role', status: 403 })
  }
}

/** `requireRoles(token, [role])`. */
export function requireRole(token: AccessToken, role: string): void {
  requireRoles(token, [role])
}
