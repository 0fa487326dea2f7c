/**
 * `cognitoVerifier`: checks Amazon Cognito user-pool access tokens at a resource server (the
 * remote-AS mode, `createRemoteAuthProvider`, with Cognito as the MCP clients' authorization
 * server). Cognito's access tokens name the app client in `client_id` and carry no `aud`, so the
 * generic audience rule cannot apply. Checked, as AWS documents for verifying a user-pool JWT:
 * - the signature, with the pool's keys (`jwks_uri` of the issuer's discovery document,
 *   `{issuer}/.well-known/jwks.json`), RS256 only;
 * - `iss` is `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`;
 * - `token_use` is `access`: an ID token presented as an access token is refused (it also has no
 *   `client_id`);
 * - `client_id` is one of `clientIds`; `exp` (and `nbf`/`iat` when present) with the usual skew.
 * Scopes come from `scope`, roles from `cognito:groups`.
 */
import { JWTVerifier } from '../../jwt/verifier.js'
import { stringList } from '../roles.js'
import type { ProviderVerifierOptions } from '../verifier-options.js'

/** The user pool's issuer. */
export function cognitoIssuer(region: string, userPoolId: string, endpoint?: string): string {
  const base = endpoint ?? `https://cognito-idp.${region}.amazonaws.com`
  return `${base.replace(/\/+$/, '')}/${userPoolId}`
}

export interface CognitoVerifierOptions extends ProviderVerifierOptions {
  /** The AWS region of the user pool (`eu-west-1`). */
  region: string
  /** The user pool ID (`eu-west-1_AbC123xyz`). */
  userPoolId: string
  /** The app client IDs whose access tokens are accepted (the `client_id` claim). */
  clientIds: string | string[]
  /** Another origin for `cognito-idp.{region}.amazonaws.com` (the local stand-in, tests). */
  endpoint?: string | undefined
  /** The claim listing the user's groups; default `cognito:groups`. */
  groupsClaim?: string | undefined
}

/** A `JWTVerifier` for the pool's access tokens; throws `TypeError` for a bad configuration. */
export function cognitoVerifier(options: CognitoVerifierOptions): JWTVerifier {
  const { region, userPoolId, clientIds, endpoint, groupsClaim, ...rest } = options
  if (!/^[\w-]+_[0-9a-zA-Z]+$/.test(userPoolId) || !userPoolId.startsWith(`${region}_`)) {
    throw new TypeError(`userPoolId ${userPoolId} is not a user pool ID of region ${region}`)
  }
  const issuer = cognitoIssuer(region, userPoolId, endpoint)
  return new JWTVerifier({
    ...rest,
    issuer,
    discoveryUrl: issuer,
    algorithms: ['RS256'],
    audience: clientIds,
    audienceClaim: 'client_id',
    requiredClaims: { token_use: 'access' },
    claimsToRoles: (claims) => stringList(claims[groupsClaim ?? 'cognito:groups']),
  })
}
