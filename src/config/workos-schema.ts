/**
 * The `kind: 'workos'` member of the upstream union: WorkOS AuthKit (its OAuth application, WorkOS
 * Connect) as the identity provider. `src/providers/workos/` builds the profile.
 */
import * as z from 'zod'
import { hostedDomain } from './hosted-domain.js'

/** Fields of the WorkOS upstream besides those every upstream has. */
export const workosUpstreamFields = {
  kind: z.literal('workos'),
  /** The AuthKit domain (`acme-42.authkit.app`) or its custom auth domain; the issuer is `https://{domain}`. */
  domain: hostedDomain(
    'acme-42.authkit.app',
    'WorkOS Dashboard > Authentication > AuthKit: the AuthKit domain, or Domains for a custom one',
  ),
}
