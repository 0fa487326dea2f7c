/**
 * The `registration` section: Dynamic Client Registration (RFC 7591) at /register, and the
 * redirect URIs and client authentication methods a registering client may choose.
 */
import * as z from 'zod'

export const RegistrationSchema = z.strictObject({
  enabled: z.boolean().default(true),
  maxRedirectUris: z.number().int().min(1).max(100).default(10),
  /**
   * Redirect URIs clients may register, as patterns (`https://*.example.com/cb`,
   * `http://127.0.0.1:*`, `http://localhost/callback`). Unset: any URI the base rules allow;
   * `[]`: none (registration closed to redirects). Checked at registration and authorization.
   */
  allowedRedirectUris: z.array(z.string().min(1)).optional(),
  /**
   * Let registering clients choose `token_endpoint_auth_method: private_key_jwt` (RFC 7523
   * client assertions) with exactly one of `jwks` (public keys inline) or `jwks_uri` (an
   * https URL, fetched through the outbound `transport` and cached). Default false (machine
   * clients may anyway under `clientCredentials.allowRegistration`).
   */
  allowPrivateKeyJwt: z.boolean().default(false),
  /** Development only: also accept an http `jwks_uri` on a loopback host. Never in production. */
  dangerouslyAllowLoopbackJwksUri: z.boolean().default(false),
})
