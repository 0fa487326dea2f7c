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
   */
  rolesClaim: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+(?:\.[A-Za-z0-9_:-]+)*$/, 'must be a claim name or a dotted path')
    .optional(),
}
