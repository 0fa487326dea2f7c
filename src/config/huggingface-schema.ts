/**
 * The `kind: 'huggingface'` member of the upstream union: "Sign in with Hugging Face" (OpenID
 * Connect at https://huggingface.co). `src/providers/huggingface/` builds the profile. Messages
 * name the option and the Hugging Face setting to look at.
 */
import * as z from 'zod'
import { absoluteURL } from './urls.js'

/** An organization's name as in `huggingface.co/{org}`. */
const HF_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/

/** Fields of the Hugging Face upstream besides those every upstream has. */
export const huggingFaceUpstreamFields = {
  kind: z.literal('huggingface'),
  /** Replaces the issuer `https://huggingface.co` (a local stand-in: http on loopback only). */
  url: absoluteURL().optional(),
  /** Only members of one of these organizations (by name) may sign in. */
  allowedOrganizations: z.array(z.string()).optional(),
  /**
   * Organization name → Gatehouse roles. Set: only mapped organizations give roles. Unset: each
   * organization of the user becomes the role `org:{name}` (never the bare name).
   */
  organizationRoles: z.record(z.string(), z.array(z.string().min(1)).min(1)).optional(),
  /** Hugging Face shows the secret as one to send with HTTP Basic; the form body works too. */
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'])
    .default('client_secret_basic'),
}

/** The start-up checks of a Hugging Face upstream (paths relative to `upstream`). */
export function checkHuggingFaceUpstream(
  h: {
    allowedOrganizations?: string[] | undefined
    organizationRoles?: Record<string, string[]> | undefined
  },
  ctx: z.RefinementCtx,
): void {
  const hint = 'an organization name, as in huggingface.co/{org}'
  if (h.allowedOrganizations?.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['allowedOrganizations'],
      message: `names no organization: give at least one (${hint}) or leave it out`,
    })
  }
  for (const [i, o] of (h.allowedOrganizations ?? []).entries()) {
    if (!HF_NAME.test(o)) {
      ctx.addIssue({ code: 'custom', path: ['allowedOrganizations', i], message: `is not ${hint}` })
    }
  }
  for (const o of Object.keys(h.organizationRoles ?? {})) {
    if (!HF_NAME.test(o)) {
      ctx.addIssue({
        code: 'custom',
        path: ['organizationRoles', o],
        message: `the key is not ${hint}`,
      })
    }
  }
}
