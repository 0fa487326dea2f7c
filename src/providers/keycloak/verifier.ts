/**
 * `keycloakVerifier`: checks a Keycloak realm's access tokens at a resource server (the remote-AS
 * mode, `createRemoteAuthProvider`: Keycloak registers the MCP clients itself with DCR). The
 * issuer is `{url}/realms/{realm}`, keys from its discovery document; `aud` must name `audience`
 * (add an Audience mapper in Keycloak so the tokens name this resource: by default they name only
 * `account`), other audiences may be present. Scopes come from `scope`; roles are realm roles and
 * the roles of `clientRoles` (`keycloakRoles`).
 */
import { JWTVerifier } from '../../jwt/verifier.js'
import type { ProviderVerifierOptions } from '../verifier-options.js'
import { keycloakIssuer, keycloakRoles } from './profile.js'

export interface KeycloakVerifierOptions extends ProviderVerifierOptions {
  /** The Keycloak server's base URL (`https://sso.example.com`). */
  url: string
  realm: string
  /** The audience the Audience mapper adds (this resource's URL or client). */
  audience: string | string[]
  /** Read realm roles (`realm_access.roles`); default true. */
  realmRoles?: boolean | undefined
  /** Clients whose roles (`resource_access.{client}.roles`) count; default none. */
  clientRoles?: string[] | undefined
}

/** A `JWTVerifier` for the realm's access tokens; throws `TypeError` for a bad configuration. */
export function keycloakVerifier(options: KeycloakVerifierOptions): JWTVerifier {
  const { url, realm, audience, realmRoles = true, clientRoles = [], ...rest } = options
  const issuer = keycloakIssuer(url, realm)
  return new JWTVerifier({
    ...rest,
    issuer,
    discoveryUrl: issuer,
    audience,
    allowExtraAudiences: true,
    claimsToRoles: keycloakRoles({ realmRoles, clientRoles }),
  })
}
