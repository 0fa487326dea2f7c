/**
 * The `kind: 'google'` member of the upstream union: Google accounts and Google Workspace as the
 * identity provider. Only shapes and the rules a user must fix in configuration are checked here;
 * `src/providers/google/` builds the profile. Every message names the option and the Google
 * setting to look at.
 */
import * as z from 'zod'
import { absoluteURL } from './urls.js'

export const GOOGLE_DISCOVERY_URL = 'https://accounts.google.com/.well-known/openid-configuration'

/** A DNS domain name (`example.com`), lower case after parsing. */
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/

/** Fields of the Google upstream besides those every upstream has. */
export const googleUpstreamFields = {
  kind: z.literal('google'),
  /** Google's discovery document; change it only for the local stand-in. */
  discoveryUrl: absoluteURL().default(GOOGLE_DISCOVERY_URL),
  /**
   * Google Workspace domains whose users may sign in, checked on the ID token's `hd` claim (one
   * domain is also sent as `hd` to pre-select the account). Unset: any Google account.
   */
  hostedDomains: z.array(z.string().transform((d) => d.toLowerCase())).optional(),
  /** Refuse users whose `email_verified` is not true (default true). */
  requireVerifiedEmail: z.boolean().default(true),
  /**
   * `access_type=offline` with `prompt=consent` (default true): Google returns a refresh token only
   * for offline access, and only on the first consent unless consent is asked again.
   */
  offlineAccess: z.boolean().default(true),
  /** `prompt` sent to Google (default `consent` with offline access, else none). */
  prompt: z.enum(['none', 'consent', 'select_account', 'select_account consent']).optional(),
  /** Google documents the secret in the form body. */
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'])
    .default('client_secret_post'),
}

interface GoogleRulesInput {
  hostedDomains?: string[] | undefined
  requireVerifiedEmail: boolean
  offlineAccess: boolean
  prompt?: string | undefined
  scopes?: string[] | undefined
}

const DOMAIN_HINT =
  'give the Google Workspace domain your users sign in with, e.g. example.com (Admin console → ' +
  'Account → Domains → Manage domains)'

/** The start-up checks of a Google upstream (paths relative to `upstream`). */
export function checkGoogleUpstream(g: GoogleRulesInput, ctx: z.RefinementCtx): void {
  if (g.hostedDomains?.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['hostedDomains'],
      message: `names no domain: ${DOMAIN_HINT}, or leave the option out to allow any account`,
    })
  }
  g.hostedDomains?.forEach((d, i) => {
    if (!DOMAIN.test(d)) {
      ctx.addIssue({
        code: 'custom',
        path: ['hostedDomains', i],
        message:
          d === '*'
            ? '"*" is not a domain (it would admit every Workspace organization): ' + DOMAIN_HINT
            : `"${d}" is not a domain: ${DOMAIN_HINT}`,
      })
    }
  })
  const scopes = g.scopes
  if (scopes === undefined) return
  if (scopes.includes('offline_access')) {
    ctx.addIssue({
      code: 'custom',
      path: ['scopes'],
      message:
        'Google refuses offline_access (invalid_scope): refresh tokens come with ' +
        'offlineAccess: true (access_type=offline)',
    })
  }
  if (!scopes.includes('openid')) {
    ctx.addIssue({
      code: 'custom',
      path: ['scopes'],
      message: 'must include openid: Gatehouse learns the user from Google’s ID token',
    })
  }
  if ((g.requireVerifiedEmail || g.hostedDomains !== undefined) && !scopes.includes('email')) {
    ctx.addIssue({
      code: 'custom',
      path: ['scopes'],
      message:
        'must include email: requireVerifiedEmail and hostedDomains read the email claims of ' +
        'the ID token (OAuth consent screen → Scopes: …/auth/userinfo.email)',
    })
  }
}
