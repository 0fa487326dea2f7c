/**
 * The options every provider's access-token verifier for the remote-AS mode (`cognitoVerifier`,
 * `auth0Verifier`, `oktaVerifier`, `keycloakVerifier`) passes on to its `JWTVerifier` unchanged:
 * the provider fixes the issuer, audience rule, keys (from the issuer's discovery document) and
 * roles claim; these stay the caller's.
 */
import type { JWTVerifierOptions } from '../jwt/verifier.js'

export type ProviderVerifierOptions = Pick<
  JWTVerifierOptions,
  | 'resource'
  | 'requiredScopes'
  | 'clockToleranceSeconds'
  | 'cache'
  | 'jwksCache'
  | 'fetch'
  | 'transport'
  | 'allowHttpLoopback'
  | 'dangerouslyAllowPrivateNetwork'
  | 'now'
  | 'signatureVerifier'
  | 'observer'
>
