/**
 * The `kind: 'clerk'` member of the upstream union: a Clerk instance (its Frontend API) as the
 * identity provider. `src/providers/clerk/` builds the profile.
 */
import * as z from 'zod'
import { hostedDomain } from './hosted-domain.js'

/** Fields of the Clerk upstream besides those every upstream has. */
export const clerkUpstreamFields = {
  kind: z.literal('clerk'),
  /** The Frontend API domain (`acme-42.clerk.accounts.dev`, or `clerk.example.com` in production); the issuer is `https://{domain}`. */
  domain: hostedDomain(
    'acme-42.clerk.accounts.dev',
    'Clerk Dashboard > Configure > Domains (or API keys): the Frontend API URL without https://',
  ),
  /**
   * The ID-token claim (a dotted path, e.g. `public_metadata.role`) holding the user's role or
   * roles; with a `public_metadata.` path the `public_metadata` scope is asked for. Default: none.
   * Never `unsafe_metadata`: the user writes it from the frontend (`user.update`).
   */
  rolesClaim: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+(?:\.[A-Za-z0-9_:-]+)*$/, 'must be a claim name or a dotted path')
    .refine((claim) => !isClerkUserWritableClaim(claim), {
      message:
        'must not be in unsafe_metadata: users can write their own unsafe_metadata, so they would choose their roles; put roles in public_metadata (set from the Dashboard or the Backend API, e.g. "public_metadata.role")',
    })
    .optional(),
}

/** Whether a roles claim path lies in `unsafe_metadata`, which the signed-in user can change. */
export function isClerkUserWritableClaim(claim: string): boolean {
  return claim === 'unsafe_metadata' || claim.startsWith('unsafe_metadata.')
}
