/**
 * The `kind: 'auth0'` member of the upstream union: an Auth0 tenant (its own domain or a custom
 * domain) as the identity provider. Only shapes and the rules a user must fix in configuration are
 * checked here; `src/providers/auth0/` builds the profile. Messages name the option and the Auth0
 * Dashboard setting to look at.
 */
import * as z from 'zod'
import { absoluteURL } from './urls.js'

const HOSTNAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/i

/** Fields of the Auth0 upstream besides those every upstream has. */
export const auth0UpstreamFields = {
  kind: z.literal('auth0'),
  /** The tenant's domain (`acme.us.auth0.com`) or its custom domain (`login.acme.com`). */
  domain: z.string(),
  /** Replaces `https://{domain}` (the local stand-in; http on loopback only). */
  authority: absoluteURL().optional(),
  /**
   * The Identifier of your API in Auth0: sent as `audience`, so Auth0 issues a JWT access token
   * for it (without one Auth0 issues an opaque token). Required.
   */
  audience: z.string().optional(),
  /** The namespaced claim (set by an Auth0 Action) that lists the user's roles. */
  rolesClaim: z.string().min(1).optional(),
  /** Auth0's default for regular web applications ("Post"). */
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'])
    .default('client_secret_post'),
}

/** The start-up checks of an Auth0 upstream (paths relative to `upstream`). */
export function checkAuth0Upstream(
  a: { domain: string; audience?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (!HOSTNAME.test(a.domain)) {
    ctx.addIssue({
      code: 'custom',
      path: ['domain'],
      message:
        `"${a.domain}" is not a domain: give the domain only, e.g. acme.us.auth0.com (Auth0 ` +
        'Dashboard → Applications → your application → Settings → Domain), or your custom domain',
    })
  }
  if (a.audience === undefined || a.audience.trim() === '') {
    ctx.addIssue({
      code: 'custom',
      path: ['audience'],
      message:
        'is required: the Identifier of your API (Auth0 Dashboard → Applications → APIs → your ' +
        'API → Settings → Identifier); without it Auth0 issues opaque access tokens',
    })
  }
}
