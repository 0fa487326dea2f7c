/**
 * `oktaVerifier`: checks access tokens of an Okta custom authorization server at a resource server
 * (the remote-AS mode, `createRemoteAuthProvider`). Okta has two kinds of authorization server with
 * different issuers and key sets: the org server (`https://{domain}`) issues access tokens for
 * Okta's own APIs only, which others must not verify, so it is refused here; a custom server
 * (`default` or its ID) has the issuer `https://{domain}/oauth2/{id}` and its own keys (from its
 * discovery document). `aud` must be the server's Audience (`api://default` for the default
 * server); scopes come from `scp`, roles from `groupsClaim` (default `groups`).
 */
import { JWTVerifier } from '../../jwt/verifier.js'
import { stringList } from '../roles.js'
import type { ProviderVerifierOptions } from '../verifier-options.js'
import { oktaIssuer } from './profile.js'

export interface OktaVerifierOptions extends ProviderVerifierOptions {
  /** The Okta domain (`example.okta.com` or a custom domain), or an `http://` origin (stand-in). */
  domain: string
  /** The custom authorization server: `default` or its ID (Security > API). Required. */
  authorizationServer: string
  /** The server's Audience; default `api://default` for the `default` server. */
  audience?: string | undefined
  /** The claim listing groups; default `groups`. */
  groupsClaim?: string | undefined
}

/** A `JWTVerifier` for the custom server's access tokens; throws `TypeError` for the org server. */
export function oktaVerifier(options: OktaVerifierOptions): JWTVerifier {
  const { domain, authorizationServer, audience, groupsClaim = 'groups', ...rest } = options
  if (!authorizationServer) {
    throw new TypeError(
      'oktaVerifier needs authorizationServer: the org authorization server issues access ' +
        'tokens for Okta APIs only (use a custom one, e.g. default: Security > API)',
    )
  }
  const aud = audience ?? (authorizationServer === 'default' ? 'api://default' : undefined)
  if (aud === undefined) {
    throw new TypeError('oktaVerifier needs audience (the Audience of the authorization server)')
  }
  const issuer = oktaIssuer(domain, authorizationServer)
  return new JWTVerifier({
    ...rest,
    issuer,
    discoveryUrl: issuer,
    algorithms: ['RS256'],
    audience: aud,
    claimsToRoles: (claims) => stringList(claims[groupsClaim]),
  })
}
