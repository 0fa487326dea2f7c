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
  /**
   * The organization (`org_…`) whose roles are plain Gatehouse roles; another organization's are
   * `<org_id>:<role>` (anyone can create an organization and be its admin). To have AuthKit sign
   * users in to it, also send `extraAuthorizeParams: { organization_id: … }`.
   */
  organizationId: z.string().min(1).optional(),
}
