/**
 * Signed identity assertions for MCP servers behind the gateway: a short-lived JWT, signed with the
 * current key of {@link SigningKeys} (so verifiable with the keys at `/.well-known/jwks.json`),
 * that says who the caller is. Explicitly typed (RFC 8725 §3.11) `gatehouse-identity+jwt`, never
 * `at+jwt`: it is not an access token, and Gatehouse's own guard refuses it as one.
 */
import { SignJWT } from 'jose'
import { randomToken } from '../http/random.js'
import type { SigningKeys } from './keys.js'

export const IDENTITY_TOKEN_TYP = 'gatehouse-identity+jwt'

export interface IdentityTokenClaims {
  issuer: string
  /** The MCP server it is for (a single string `aud`). */
  audience: string
  subject: string
  clientId: string
  scopes: readonly string[]
  ttlSeconds: number
  now?: () => number
  /** Who the user is beyond `sub` (`roles`, `groups`, `email`, `idp` …); registered names ignored. */
  extra?: Record<string, unknown>
}

const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'client_id', 'scope'])

/** Signs an identity assertion; `expiresAt` is its `exp` in seconds since the epoch. */
export async function signIdentityToken(
  keys: SigningKeys,
  claims: IdentityTokenClaims,
): Promise<{ token: string; expiresAt: number }> {
  if (!Number.isFinite(claims.ttlSeconds) || claims.ttlSeconds <= 0) {
    throw new TypeError('ttlSeconds must be a positive number')
  }
  const { kid, alg, key } = keys.current()
  const iat = Math.floor((claims.now ?? Date.now)() / 1000)
  const exp = iat + Math.floor(claims.ttlSeconds)
  const payload: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(claims.extra ?? {})) {
    if (!REGISTERED.has(name) && name !== '__proto__') payload[name] = value
  }
  Object.assign(payload, {
    iss: claims.issuer,
    sub: claims.subject,
    aud: claims.audience,
    client_id: claims.clientId,
    jti: randomToken(16),
    iat,
    exp,
  })
  if (claims.scopes.length > 0) payload.scope = claims.scopes.join(' ')
  const token = await new SignJWT(payload)
    .setProtectedHeader({ alg, kid, typ: IDENTITY_TOKEN_TYP })
    .sign(key)
  return { token, expiresAt: exp }
}
