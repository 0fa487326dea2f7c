/** Scope strings (RFC 6749 §3.3): space-delimited, case-sensitive, order irrelevant. */
import { SCOPE_TOKEN } from '../config/protocol.js'
import { OAuthError } from '../errors.js'

/** Splits a scope parameter into unique tokens; refuses characters outside the RFC's set. */
export function parseScope(value: string | undefined): string[] {
  if (value === undefined) return []
  const scopes = value.split(' ').filter((s) => s.length > 0)
  for (const s of scopes) {
    if (!SCOPE_TOKEN.test(s)) {
      throw new OAuthError('invalid_scope', 'the scope parameter contains invalid characters', {
        reason: 'scope_syntax',
      })
    }
  }
  return [...new Set(scopes)]
}

/** The scope parameter value for a list, or `undefined` for none. */
export function formatScope(scopes: readonly string[]): string | undefined {
  return scopes.length > 0 ? scopes.join(' ') : undefined
}
