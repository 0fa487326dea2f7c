/**
 * The `kind: 'scalekit'` member of the upstream union: a Scalekit environment as the identity
 * provider. `src/providers/scalekit/` builds the profile.
 */
import * as z from 'zod'

const WHERE = 'Scalekit Dashboard > Settings > API Credentials > Environment URL'

/** Fields of the Scalekit upstream besides those every upstream has. */
export const scalekitUpstreamFields = {
  kind: z.literal('scalekit'),
  /** The environment URL (`https://acme.scalekit.com`, `https://acme-dev.scalekit.dev`, or a custom domain); the issuer. */
  environmentUrl: z
    .string({
      error: `is required: the environment URL, e.g. https://acme.scalekit.com (${WHERE})`,
    })
    .regex(
      /^(?:https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5})$/,
      `must be the environment URL, an https:// origin with no path such as https://acme.scalekit.com (${WHERE})`,
    ),
  /**
   * The organization (`org_…`) whose roles are plain Gatehouse roles; another organization's are
   * `<oid>:<role>`. To have Scalekit sign users in to it, also send
   * `extraAuthorizeParams: { organization_id: … }`.
   */
  organizationId: z.string().min(1).optional(),
}
