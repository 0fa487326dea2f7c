/**
 * The `kind: 'oci'` member of the upstream union: an OCI IAM identity domain (Oracle Cloud
 * Infrastructure; formerly IDCS) as the OpenID provider. `src/providers/oci/` builds the profile.
 * Messages name the option and the OCI Console setting to look at.
 */
import * as z from 'zod'
import { absoluteURL } from './urls.js'

/** The issuer every identity domain's tokens and discovery document name. */
export const OCI_ISSUER = 'https://identity.oraclecloud.com/'

/** Fields of the OCI upstream besides those every upstream has. */
export const ociUpstreamFields = {
  kind: z.literal('oci'),
  /**
   * The identity domain's URL, `https://idcs-<id>.identity.oraclecloud.com` (OCI Console →
   * Identity & Security → Domains → your domain → Details → Domain URL); http on loopback only.
   */
  domainUrl: absoluteURL(),
  /**
   * The issuer the domain's discovery document and tokens name: the same for every domain
   * (default `https://identity.oraclecloud.com/`). Change it only for a stand-in.
   */
  issuer: absoluteURL().default(OCI_ISSUER),
  /** The ID-token claim listing the user's groups (default `groups`); they become Gatehouse roles. */
  groupsClaim: z.string().min(1).default('groups'),
}

/** The start-up checks of an OCI upstream (paths relative to `upstream`). */
export function checkOCIUpstream(o: { domainUrl: string }, ctx: z.RefinementCtx): void {
  const url = new URL(o.domainUrl)
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    ctx.addIssue({
      code: 'custom',
      path: ['domainUrl'],
      message:
        'is the domain URL only, e.g. https://idcs-0123456789abcdef.identity.oraclecloud.com ' +
        '(OCI Console → Identity & Security → Domains → your domain → Domain URL), no path',
    })
  }
}
