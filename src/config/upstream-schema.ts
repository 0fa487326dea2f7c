/**
 * The `upstream` section: the identity provider Gatehouse signs users in at, one member of a union
 * per `kind`. The fields every kind has are here (`upstreamCommon`), and so are the members
 * written inline (oidc, oauth, keycloak, okta, cognito); the fields of azure, github, auth0 and
 * google are in their own `<kind>-schema.ts`.
 */
import * as z from 'zod'
import { ASYMMETRIC_ALGORITHMS } from './protocol.js'
import { absoluteURL, isLoopbackHost } from './urls.js'
import { azureUpstreamFields, isSecureOrLoopbackURL, scopeToken } from './azure-schema.js'
import { auth0UpstreamFields, checkAuth0Upstream } from './auth0-schema.js'
import { checkGitHubUpstream, githubUpstreamFields } from './github-schema.js'
import { checkGoogleUpstream, googleUpstreamFields } from './google-schema.js'
import { checkDiscordUpstream, discordUpstreamFields } from './discord-schema.js'
import { checkHuggingFaceUpstream, huggingFaceUpstreamFields } from './huggingface-schema.js'
import { checkOCIUpstream, ociUpstreamFields } from './oci-schema.js'
import { workosUpstreamFields } from './workos-schema.js'
import { descopeUpstreamFields } from './descope-schema.js'
import { scalekitUpstreamFields } from './scalekit-schema.js'
import { supabaseUpstreamFields } from './supabase-schema.js'
import { clerkUpstreamFields } from './clerk-schema.js'
import { propelauthUpstreamFields } from './propelauth-schema.js'

const upstreamCommon = {
  clientId: z.string().min(1),
  /** From the environment or a file, never the command line. */
  clientSecret: z.string().min(1).optional(),
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'])
    .default('client_secret_basic'),
  /** Scopes Gatehouse asks the IdP for (default: openid profile email offline_access for OIDC). */
  scopes: z.array(scopeToken).optional(),
  /** Path of the IdP callback under the issuer; register `{issuer}{redirectPath}` at the IdP. */
  redirectPath: z
    .string()
    .regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be a path starting with /')
    .default('/auth/callback'),
  extraAuthorizeParams: z.record(z.string(), z.string()).default({}),
  extraTokenParams: z.record(z.string(), z.string()).default({}),
  timeoutSeconds: z.number().min(1).max(60).default(10),
  /**
   * The IdP runs on an internal network: its key URLs may resolve to private addresses. Applies
   * only to URLs from this configuration, never to URLs clients name.
   */
  dangerouslyAllowPrivateNetwork: z.boolean().default(false),
}

/** The identity provider Gatehouse signs users in at (the OAuth or OIDC proxy). */
export const UpstreamSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('oidc'),
    /** The discovery document URL (`…/.well-known/openid-configuration`). */
    configUrl: absoluteURL(),
    /** Require a complete discovery document whose issuer matches the URL (default true). */
    strict: z.boolean().default(true),
    /** Sent as `audience` upstream (Auth0-style APIs). */
    audience: z.string().optional(),
    /** ID-token algorithm; default: what the IdP advertises (asymmetric only). */
    algorithm: z.enum(ASYMMETRIC_ALGORITHMS).optional(),
    ...upstreamCommon,
  }),
  z.strictObject({
    kind: z.literal('oauth'),
    issuer: absoluteURL(),
    authorizationEndpoint: absoluteURL(),
    tokenEndpoint: absoluteURL(),
    revocationEndpoint: absoluteURL().optional(),
    /** Verifies the IdP's JWT access tokens to learn the user (`sub`). */
    jwksUri: absoluteURL(),
    /** Expected `aud` of the IdP's access tokens (default: the client id). */
    accessTokenAudience: z.string().optional(),
    ...upstreamCommon,
  }),
  // Keycloak (src/providers/keycloak/, docs/providers/keycloak.md).
  z.strictObject({
    kind: z.literal('keycloak'),
    /** The Keycloak server's URL (`https://sso.example.com`; `…/auth` for Keycloak before 17). */
    url: absoluteURL(),
    /** The realm; the issuer is `{url}/realms/{realm}`. */
    realm: z.string().regex(/^[A-Za-z0-9._~-]{1,255}$/, 'use letters, digits or . _ ~ -'),
    /** Realm roles (`realm_access.roles`) become Gatehouse roles (default true). */
    realmRoles: z.boolean().default(true),
    /** Clients whose roles (`resource_access.{client}.roles`) become Gatehouse roles (default: clientId). */
    clientRoles: z.array(z.string().min(1)).optional(),
    /** ID-token algorithm; default: what the realm advertises (asymmetric only). */
    algorithm: z.enum(ASYMMETRIC_ALGORITHMS).optional(),
    ...upstreamCommon,
  }),
  // Okta (src/providers/okta/, docs/providers/okta.md).
  z.strictObject({
    kind: z.literal('okta'),
    /** The Okta org's domain (`acme.okta.com`) or its custom domain; `http://127.0.0.1:PORT` for a stand-in. */
    domain: z
      .string()
      .regex(
        /^(?:(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5})$/,
        'must be a domain name such as acme.okta.com (no https://, no path)',
      ),
    /**
     * A custom authorization server's ID (`default`, `aus…`): issuer `https://{domain}/oauth2/{id}`.
     * Unset: the org authorization server, issuer `https://{domain}`.
     */
    authorizationServer: z
      .string()
      .regex(/^[A-Za-z0-9]{1,64}$/, 'is the ID of the authorization server (default, aus…)')
      .optional(),
    /** The ID-token claim listing the user's groups (default `groups`); they become Gatehouse roles. */
    groupsClaim: z.string().min(1).default('groups'),
    /** ID-token algorithm; default: what the server advertises (asymmetric only). */
    algorithm: z.enum(ASYMMETRIC_ALGORITHMS).optional(),
    ...upstreamCommon,
  }),
  // Amazon Cognito (src/providers/cognito/, docs/providers/cognito.md).
  z
    .strictObject({
      kind: z.literal('cognito'),
      /** The user pool's AWS region, e.g. `eu-west-1`. */
      region: z
        .string()
        .regex(/^[a-z]{2}(?:-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'),
      /** The user pool ID, `{region}_{id}`; the issuer is `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`. */
      userPoolId: z
        .string()
        .regex(
          /^[a-z]{2}(?:-[a-z]+)+-\d_[A-Za-z0-9]+$/,
          'must be a user pool ID such as eu-west-1_AbC123',
        ),
      /**
       * The user pool domain: its prefix (`myapp`, for `https://myapp.auth.{region}.amazoncognito.com`)
       * or a custom domain (`auth.example.com`); `http://127.0.0.1:PORT` for a stand-in.
       */
      domain: z
        .string()
        .regex(
          /^(?:[A-Za-z0-9-]+|(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5})$/,
          'must be the domain prefix (myapp) or a custom domain name (no https://, no path)',
        ),
      /** Replaces `https://cognito-idp.{region}.amazonaws.com` (a local stand-in: http loopback only). */
      endpoint: absoluteURL().optional(),
      /** The claim whose groups become Gatehouse roles (default `cognito:groups`). */
      groupsClaim: z.string().min(1).default('cognito:groups'),
      ...upstreamCommon,
    })
    .superRefine((c, ctx) => {
      const poolRegion = c.userPoolId.slice(0, c.userPoolId.indexOf('_'))
      if (poolRegion !== c.region) {
        ctx.addIssue({
          code: 'custom',
          path: ['userPoolId'],
          message:
            `is a user pool of ${poolRegion}, not of upstream.region ${c.region} (Amazon ` +
            'Cognito console > User pools: the pool ID starts with its region)',
        })
      }
      if (c.endpoint !== undefined && !isSecureOrLoopbackURL(c.endpoint, isLoopbackHost)) {
        ctx.addIssue({
          code: 'custom',
          path: ['endpoint'],
          message: 'must be https (http on loopback only)',
        })
      }
    }),
  // Microsoft Entra ID / Azure AD B2C (src/providers/azure/).
  z
    .strictObject({
      ...azureUpstreamFields,
      ...upstreamCommon,
      // Entra documents the secret in the form body (code exchange and On-Behalf-Of alike).
      tokenEndpointAuthMethod: azureUpstreamFields.tokenEndpointAuthMethod,
    })
    .superRefine((a, ctx) => {
      if ((a.tenantId === undefined) === (a.b2c === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['tenantId'], message: 'give tenantId or b2c (one)' })
      }
      if (a.clientSecret !== undefined && a.clientCertificate !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clientCertificate'],
          message: 'give clientSecret or clientCertificate, not both',
        })
      }
      if (a.authority !== undefined && !isSecureOrLoopbackURL(a.authority, isLoopbackHost)) {
        ctx.addIssue({
          code: 'custom',
          path: ['authority'],
          message: 'must be https (http is allowed on loopback only)',
        })
      }
    }),
  // GitHub OAuth apps and GitHub Apps (src/providers/github/).
  z
    .strictObject({
      ...upstreamCommon,
      ...githubUpstreamFields,
    })
    .superRefine((g, ctx) => {
      checkGitHubUpstream(g, ctx)
      for (const key of ['serverUrl', 'apiUrl'] as const) {
        const value = g[key]
        if (value !== undefined && !isSecureOrLoopbackURL(value, isLoopbackHost)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'must be https (http is allowed on loopback only)',
          })
        }
      }
    }),
  // Auth0 tenants, custom domains included (src/providers/auth0/).
  z
    .strictObject({
      ...upstreamCommon,
      ...auth0UpstreamFields,
    })
    .superRefine((a, ctx) => {
      checkAuth0Upstream(a, ctx)
      if (a.authority !== undefined && !isSecureOrLoopbackURL(a.authority, isLoopbackHost)) {
        ctx.addIssue({
          code: 'custom',
          path: ['authority'],
          message: 'must be https (http is allowed on loopback only)',
        })
      }
    }),
  // Google accounts and Google Workspace (src/providers/google/).
  z
    .strictObject({
      ...upstreamCommon,
      ...googleUpstreamFields,
    })
    .superRefine((g, ctx) => {
      checkGoogleUpstream(g, ctx)
      if (!isSecureOrLoopbackURL(g.discoveryUrl, isLoopbackHost)) {
        ctx.addIssue({
          code: 'custom',
          path: ['discoveryUrl'],
          message: 'must be https (http is allowed on loopback only)',
        })
      }
    }),
  // Discord (src/providers/discord/, docs/providers/discord.md).
  z.strictObject({ ...upstreamCommon, ...discordUpstreamFields }).superRefine((d, ctx) => {
    checkDiscordUpstream(d, ctx)
    if (d.serverUrl !== undefined && !isSecureOrLoopbackURL(d.serverUrl, isLoopbackHost)) {
      ctx.addIssue({
        code: 'custom',
        path: ['serverUrl'],
        message: 'must be https (http is allowed on loopback only)',
      })
    }
  }),
  // Hugging Face (src/providers/huggingface/, docs/providers/huggingface.md).
  z.strictObject({ ...upstreamCommon, ...huggingFaceUpstreamFields }).superRefine((h, ctx) => {
    checkHuggingFaceUpstream(h, ctx)
    if (h.url !== undefined && !isSecureOrLoopbackURL(h.url, isLoopbackHost)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'must be https (http is allowed on loopback only)',
      })
    }
  }),
  // OCI IAM identity domains (src/providers/oci/, docs/providers/oci.md).
  z.strictObject({ ...upstreamCommon, ...ociUpstreamFields }).superRefine((o, ctx) => {
    checkOCIUpstream(o, ctx)
    for (const key of ['domainUrl', 'issuer'] as const) {
      if (!isSecureOrLoopbackURL(o[key], isLoopbackHost)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: 'must be https (http is allowed on loopback only)',
        })
      }
    }
  }),
  // WorkOS AuthKit (src/providers/workos/, docs/providers/workos.md).
  z.strictObject({ ...upstreamCommon, ...workosUpstreamFields }),
  // Descope (src/providers/descope/, docs/providers/descope.md).
  z.strictObject({ ...upstreamCommon, ...descopeUpstreamFields }),
  // Scalekit (src/providers/scalekit/, docs/providers/scalekit.md).
  z.strictObject({ ...upstreamCommon, ...scalekitUpstreamFields }),
  // Supabase Auth (src/providers/supabase/, docs/providers/supabase.md).
  z.strictObject({ ...upstreamCommon, ...supabaseUpstreamFields }),
  // Clerk (src/providers/clerk/, docs/providers/clerk.md).
  z.strictObject({ ...upstreamCommon, ...clerkUpstreamFields }),
  // PropelAuth (src/providers/propelauth/, docs/providers/propelauth.md).
  z.strictObject({ ...upstreamCommon, ...propelauthUpstreamFields }),
])

/** The one `upstream`: a client secret unless the method is `none` (or Entra signs with a certificate). */
export function checkUpstream(
  c: { upstream?: z.output<typeof UpstreamSchema> | undefined },
  ctx: z.RefinementCtx,
): void {
  if (
    c.upstream &&
    c.upstream.tokenEndpointAuthMethod !== 'none' &&
    c.upstream.clientSecret === undefined &&
    !(c.upstream.kind === 'azure' && c.upstream.clientCertificate !== undefined)
  ) {
    ctx.addIssue({
      code: 'custom',
      path: ['upstream', 'clientSecret'],
      message: `is required for ${c.upstream.tokenEndpointAuthMethod}`,
    })
  }
}
