/**
 * The `kind: 'descope'` member of the upstream union: a Descope project (an OIDC federated
 * application) as the identity provider. `src/providers/descope/` builds the profile.
 */
import * as z from 'zod'
import { hostedBaseURL } from './hosted-domain.js'

const WHERE = 'Descope Console > Project Settings > Project ID'

/** Fields of the Descope upstream besides those every upstream has. */
export const descopeUpstreamFields = {
  kind: z.literal('descope'),
  /** The Project ID (`P2…`); the issuer is `{baseUrl}/{projectId}`. */
  projectId: z
    .string({ error: `is required: the Project ID, P… (${WHERE})` })
    .regex(/^P[A-Za-z0-9]{10,63}$/, `must be the Project ID, P… (${WHERE})`),
  /** Replaces `https://api.descope.com`: a custom domain (Project Settings > Custom Domain) or a stand-in. */
  baseUrl: hostedBaseURL('Descope Console > Project Settings > Custom Domain'),
  /** Only this tenant's roles (`tenants.{tenant}.roles`) count, besides project roles; default: every tenant's. */
  tenant: z.string().min(1).optional(),
}
