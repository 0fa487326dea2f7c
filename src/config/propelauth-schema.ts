/**
 * The `kind: 'propelauth'` member of the upstream union: a PropelAuth project (its OAuth2 API) as
 * the identity provider. `src/providers/propelauth/` builds the profile.
 */
import * as z from 'zod'
import { scopeToken } from './azure-schema.js'

const WHERE = 'PropelAuth Dashboard > Backend Integration > Auth URL'

/** Fields of the PropelAuth upstream besides those every upstream has. */
export const propelauthUpstreamFields = {
  kind: z.literal('propelauth'),
  /** The Auth URL (`https://auth.example.com`, or `https://12345.propelauthtest.com` in test). */
  authUrl: z
    .string({ error: `is required: the Auth URL, e.g. https://auth.example.com (${WHERE})` })
    .regex(
      /^(?:https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5})$/,
      `must be the Auth URL, an https:// origin with no path such as https://auth.example.com (${WHERE})`,
    ),
  /** Pins an organization (its ID): its roles are plain roles, no other's count; default: each organization's as `<org id>:<role>`. */
  orgId: z.string().min(1).optional(),
  /** PropelAuth's OAuth2 API takes no scopes: none are sent unless configured. */
  scopes: z.array(scopeToken).default([]),
}
