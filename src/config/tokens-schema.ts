/**
 * The token options of the configuration: lifetimes of access tokens, refresh tokens and
 * authorization codes, which clients get refresh tokens (`refreshTokens`), the signing algorithm,
 * and the clock and revocation tolerances. Top-level fields, spread into the schema.
 */
import * as z from 'zod'

export const tokenFields = {
  accessTokenTtlSeconds: z.number().int().min(60).max(86_400).default(3600),
  /** Idle lifetime of a refresh token; each rotation starts a new window. */
  refreshTokenTtlSeconds: z
    .number()
    .int()
    .min(300)
    .max(365 * 86_400)
    .default(30 * 86_400),
  /** Which clients get refresh tokens, and for how long at most (src/grants/refresh-policy.ts). */
  refreshTokens: z
    .strictObject({
      /**
       * Among the clients that registered the `refresh_token` grant: `all`, `confidential`
       * (clients that authenticate at /token), or `none`. Default `all`.
       */
      issueTo: z.enum(['all', 'confidential', 'none']).default('all'),
      /**
       * Absolute lifetime of a sign-in's refresh tokens, from the grant's creation: rotations
       * never reach past it. Unset: only the idle lifetime (`refreshTokenTtlSeconds`) applies.
       */
      absoluteLifetimeSeconds: z
        .number()
        .int()
        .min(300)
        .max(365 * 86_400)
        .optional(),
    })
    .prefault({}),
  authorizationCodeTtlSeconds: z.number().int().min(30).max(600).default(300),
  signingAlgorithm: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256'),
  /** Upper bound on how long a revoked grant's access tokens keep working at the guard. */
  revocationCheckSeconds: z.number().int().min(0).max(60).default(5),
  clockToleranceSeconds: z.number().int().min(0).max(60).default(30),
  /**
   * The bearer guard's in-memory caches, per instance. `tokens`: verified access tokens kept
   * (least recently used dropped first, each at most until its `exp`); 0 verifies the signature
   * on every request. `grants`: grant liveness answers kept (each
   * trusted for `revocationCheckSeconds`). See docs/deployment.md.
   */
  guardCache: z
    .strictObject({
      tokens: z.number().int().min(0).max(1_000_000).default(10_000),
      grants: z.number().int().min(1).max(10_000_000).default(100_000),
    })
    .prefault({}),
}
