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
  /** Pins a tenant: its roles (`tenants.{tenant}.roles`) are plain roles, no other's count; default: each tenant's as `<tenant id>:<role>`. */
  tenant: z.string().min(1).optional(),
}
