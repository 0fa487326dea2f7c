/**
 * Scope and role checks inside MCP tool handlers. A tool handler runs inside the SDK's JSON-RPC
 * machinery, after the HTTP response status is decided, so these cannot answer HTTP 403: thrown
 * inside an `McpServer` tool they become a tool error result (`isError: true`) whose text names what
 * is missing, e.g. `insufficient_scope: missing scope: mcp:write` (with the low-level `Server`, a
 * JSON-RPC error with that message). For the HTTP 403 step-up challenge of MCP 2025-11-25 §Runtime
 * insufficient scope, declare the tool's scopes in `createMCPHandler({ toolScopes })`, which checks
 * them before the SDK sees the request; these functions are the fallback and the place for checks
 * that depend on the arguments.
 */
import { OAuthError } from '../errors.js'
import { missingScopes, type ScopeHierarchy } from '../resource/scopes.js'
import { authOf, type ExtraWithAuth } from './auth-info.js'

/**
 * Throws `OAuthError('insufficient_scope')` (403 if it ever reaches the guard) naming every missing
 * scope at once, unless the request's token has `scopes` (expanded through `hierarchy`). Throws
 * `MCPAuthError('ERR_MCP_NO_AUTH')` when the request carries no Gatehouse `authInfo`.
 */
export function requireToolScopes(
  extra: ExtraWithAuth,
  scopes: readonly string[],
  hierarchy?: ScopeHierarchy,
): void {
  const missing = missingScopes(authOf(extra).scopes, scopes, hierarchy)
  if (missing.length > 0) {
    throw new OAuthError(
      'insufficient_scope',
      `insufficient_scope: missing scope: ${missing.join(' ')}`,
      {
        reason: 'tool_insufficient_scope',
      },
    )
  }
}

/**
 * Throws `OAuthError('insufficient_scope')` (403 if it ever reaches the guard) unless the request's
 * token carries the roles: `mode: 'any'` (default) needs one of them, `'all'` every one. The message
 * names the missing roles. Throws `MCPAuthError('ERR_MCP_NO_AUTH')` without Gatehouse `authInfo`.
 */
export function requireToolRoles(
  extra: ExtraWithAuth,
  roles: readonly string[],
  mode: 'any' | 'all' = 'any',
): void {
  const have = new Set(authOf(extra).extra.roles)
  const ok = mode === 'all' ? roles.every((r) => have.has(r)) : roles.some((r) => have.has(r))
  if (ok) return
  const description =
    mode === 'all' || roles.length === 1
      ? `access_denied: missing role: ${roles.filter((r) => !have.has(r)).join(' ')}`
      : `access_denied: requires one of the roles: ${roles.join(' ')}`
  throw new OAuthError('insufficient_scope', description, {
    reason: 'tool_missing_role',
    status: 403,
  })
}
