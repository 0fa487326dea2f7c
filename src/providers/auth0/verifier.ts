/**
 * `auth0Verifier`: checks Auth0 access tokens at a resource server (the remote-AS mode,
 * `createRemoteAuthProvider`, with Auth0 as the MCP clients' authorization server). Auth0 issues a
 * JWT access token only for an `audience` (your API's Identifier), so that is required here. The
 * issuer is `https://{domain}/` (trailing slash; a custom domain is just another `domain`), keys
 * from its discovery document, RS256 only; `aud` must name `audience` (Auth0 adds
 * `{issuer}userinfo` when `openid` was asked for: extra audiences are allowed). Scopes come from
 * `scope`; roles from `rolesClaim` (the namespaced claim your Action sets), none without it.
 */
import { JWTVerifier } from '../../jwt/verifier.js'
import { stringList } from '../roles.js'
import type { ProviderVerifierOptions } from '../verifier-options.js'

export interface Auth0VerifierOptions extends ProviderVerifierOptions {
  /** The tenant or custom domain (`tenant.eu.auth0.com`), or an `http://` origin for a stand-in. */
  domain: string
  /** The API Identifier (Auth0 Dashboard → Applications → APIs). */
  audience: string
  /** The custom claim holding roles (`https://example.com/roles`). */
  rolesClaim?: string | undefined
}

/** A `JWTVerifier` for the tenant's access tokens of `audience`; throws `TypeError` when unset. */
export function auth0Verifier(options: Auth0VerifierOptions): JWTVerifier {
  const { domain, audience, rolesClaim, ...rest } = options
  if (!domain || !audience) {
    throw new TypeError(
      'auth0Verifier needs domain and audience (without audience Auth0 issues no JWT access token)',
    )
  }
  const origin = domain.startsWith('http://') ? domain : `https://${domain}`
  const issuer = `${origin.replace(/\/+$/, '')}/`
  return new JWTVerifier({
    ...rest,
    issuer,
    discoveryUrl: issuer,
    algorithms: ['RS256'],
    audience,
    allowExtraAudiences: true,
    claimsToRoles: (claims) => (rolesClaim === undefined ? [] : stringList(claims[rolesClaim])),
  })
}
