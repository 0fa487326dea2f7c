/**
 * The `kind: 'supabase'` member of the upstream union: Supabase Auth's OAuth 2.1 server (a
 * Supabase project, hosted or self-hosted) as the identity provider. `src/providers/supabase/`
 * builds the profile.
 */
import * as z from 'zod'

const WHERE = 'Supabase Dashboard > Project Settings > Data API > Project URL'

/** Fields of the Supabase upstream besides those every upstream has. */
export const supabaseUpstreamFields = {
  kind: z.literal('supabase'),
  /** The project URL (`https://abcdefgh.supabase.co`, a custom domain, or a self-hosted API URL); the issuer is `{projectUrl}/auth/v1`. */
  projectUrl: z
    .string({ error: `is required: the project URL, e.g. https://abcdefgh.supabase.co (${WHERE})` })
    .regex(
      /^(?:https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5})$/,
      `must be the project URL, an https:// origin with no path such as https://abcdefgh.supabase.co (${WHERE})`,
    ),
  /**
   * The access-token claim (a dotted path such as `user_role` or `app_metadata.roles`) holding the
   * user's role or roles, set by a Custom Access Token Hook or in app_metadata; default: none.
   * Never `user_metadata`: the user writes it (`supabase.auth.updateUser({ data })`).
   */
  rolesClaim: z
    .string()
    .regex(/^[A-Za-z0-9_:-]+(?:\.[A-Za-z0-9_:-]+)*$/, 'must be a claim name or a dotted path')
    .refine((claim) => !isSupabaseUserWritableClaim(claim), {
      message:
        'must not be in user_metadata: users can write their own user_metadata, so they would choose their roles; put roles in app_metadata (e.g. "app_metadata.roles", set by the service role) or in a claim of a Custom Access Token Hook (e.g. "user_role")',
    })
    .optional(),
}

/** Whether a roles claim path lies in `user_metadata`, which the signed-in user can change. */
export function isSupabaseUserWritableClaim(claim: string): boolean {
  return claim === 'user_metadata' || claim.startsWith('user_metadata.')
}
