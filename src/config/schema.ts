/**
 * The one configuration schema. Files, `GATEHOUSE_*` environment variables and code all go through
 * `resolveConfig`, which reports every problem at once with the path of the field.
 */
import * as z from 'zod'
import { ConfigError } from '../errors.js'
import {
  ASYMMETRIC_ALGORITHMS,
  CLIENT_CREDENTIALS_GRANT,
  JWT_BEARER_GRANT,
  redirectUriProblem,
} from './protocol.js'
import { absoluteUrl, canonicalResource, isLoopbackHost, parseUrl } from './urls.js'
import { azureUpstreamFields, isSecureOrLoopbackUrl, scopeToken } from './azure-schema.js'
import { auth0UpstreamFields, checkAuth0Upstream } from './auth0-schema.js'
import { checkGitHubUpstream, githubUpstreamFields } from './github-schema.js'
import { checkGoogleUpstream, googleUpstreamFields } from './google-schema.js'
import { checkDiscordUpstream, discordUpstreamFields } from './discord-schema.js'
import { checkHuggingFaceUpstream, huggingFaceUpstreamFields } from './huggingface-schema.js'
import { checkOciUpstream, ociUpstreamFields } from './oci-schema.js'
import { ClientCredentialsSchema } from './client-credentials-schema.js'
import {
  TOKEN_EXCHANGE_GRANT,
  TokenExchangeSchema,
  WorkloadIdentitySchema,
} from './token-exchange-schema.js'
import { opsFields } from './ops-schema.js'
import { workosUpstreamFields } from './workos-schema.js'
import { descopeUpstreamFields } from './descope-schema.js'
import { scalekitUpstreamFields } from './scalekit-schema.js'
import { supabaseUpstreamFields } from './supabase-schema.js'
import { clerkUpstreamFields } from './clerk-schema.js'
import { propelauthUpstreamFields } from './propelauth-schema.js'
import { DPoPSchema, ResourceDPoPSchema } from './dpop-schema.js'
import { GatewaySchema, withGatewayResources } from './gateway-schema.js'

export const ResourceSchema = z.strictObject({
  /** The MCP endpoint's canonical URL, the `aud` of its tokens (RFC 8707). */
  url: absoluteUrl(),
  /** Scopes this resource understands; advertised in its metadata and challenges. */
  scopes: z.array(scopeToken).default([]),
  /** Scopes every request must carry; default none beyond a valid token. */
  requiredScopes: z.array(scopeToken).default([]),
  /** Scopes granted when a client asks for none; default: `scopes`. */
  defaultScopes: z.array(scopeToken).optional(),
  /** Human-readable name for the protected-resource metadata. */
  name: z.string().max(200).optional(),
  /**
   * Origins whose browser requests may reach the endpoint (MCP transports: an invalid `Origin`
   * gets 403). The resource's own origin is always allowed; `'*'` allows any. Requests without
   * an `Origin` header (non-browser clients) are not affected.
   */
  allowedOrigins: z.array(z.union([z.literal('*'), absoluteUrl()])).default([]),
  /** DPoP at this resource (RFC 9449): optional (default) or required; see dpop-schema.ts. */
  dpop: ResourceDPoPSchema.prefault({}),
})

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
    configUrl: absoluteUrl(),
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
    issuer: absoluteUrl(),
    authorizationEndpoint: absoluteUrl(),
    tokenEndpoint: absoluteUrl(),
    revocationEndpoint: absoluteUrl().optional(),
    /** Verifies the IdP's JWT access tokens to learn the user (`sub`). */
    jwksUri: absoluteUrl(),
    /** Expected `aud` of the IdP's access tokens (default: the client id). */
    accessTokenAudience: z.string().optional(),
    ...upstreamCommon,
  }),
  // Keycloak (src/providers/keycloak/, docs/providers/keycloak.md).
  z.strictObject({
    kind: z.literal('keycloak'),
    /** The Keycloak server's URL (`https://sso.example.com`; `…/auth` for Keycloak before 17). */
    url: absoluteUrl(),
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
      endpoint: absoluteUrl().optional(),
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
      if (c.endpoint !== undefined && !isSecureOrLoopbackUrl(c.endpoint, isLoopbackHost)) {
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
      if (a.authority !== undefined && !isSecureOrLoopbackUrl(a.authority, isLoopbackHost)) {
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
        if (value !== undefined && !isSecureOrLoopbackUrl(value, isLoopbackHost)) {
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
      if (a.authority !== undefined && !isSecureOrLoopbackUrl(a.authority, isLoopbackHost)) {
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
      if (!isSecureOrLoopbackUrl(g.discoveryUrl, isLoopbackHost)) {
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
    if (d.serverUrl !== undefined && !isSecureOrLoopbackUrl(d.serverUrl, isLoopbackHost)) {
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
    if (h.url !== undefined && !isSecureOrLoopbackUrl(h.url, isLoopbackHost)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'must be https (http is allowed on loopback only)',
      })
    }
  }),
  // OCI IAM identity domains (src/providers/oci/, docs/providers/oci.md).
  z.strictObject({ ...upstreamCommon, ...ociUpstreamFields }).superRefine((o, ctx) => {
    checkOciUpstream(o, ctx)
    for (const key of ['domainUrl', 'issuer'] as const) {
      if (!isSecureOrLoopbackUrl(o[key], isLoopbackHost)) {
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

/** The callback path every `upstream` member has unless it names another. */
const DEFAULT_REDIRECT_PATH = '/auth/callback'

/**
 * One identity provider of several (`upstreams`, docs/providers/multiple.md): its id (in the
 * chooser form, the callback path and the subjects' prefix), the label on its button, and its
 * `upstream` member as a single `upstream` would be written. Its callback is
 * `/auth/callback/<id>` unless `upstream.redirectPath` names another path.
 */
export const UpstreamsEntrySchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'use 1-32 lower-case letters, digits, _ or -'),
    /** The chooser's button: "Continue with <label>" (default: the id). */
    label: z.string().min(1).max(64).optional(),
    /** Put before the IdP's `sub` to make the user's subject (default `<id>|`). */
    subjectPrefix: z.string().max(64).optional(),
    /**
     * The IdP's `email_verified: true` proves the address belongs to the user (it owns the
     * domain or checks addresses): only such IdPs take part in `linkAccountsByEmail`.
     */
    emailAuthoritative: z.boolean().default(false),
    upstream: UpstreamSchema,
  })
  .transform((e) => ({
    ...e,
    label: e.label ?? e.id,
    subjectPrefix: e.subjectPrefix ?? `${e.id}|`,
    upstream:
      e.upstream.redirectPath === DEFAULT_REDIRECT_PATH
        ? { ...e.upstream, redirectPath: `${DEFAULT_REDIRECT_PATH}/${e.id}` }
        : e.upstream,
  }))

/** The subject prefix of users linked by verified email (`linkAccountsByEmail`). */
export const LINKED_SUBJECT_PREFIX = 'email|'

/** A client the operator registers in configuration (no dynamic registration needed). */
export const StaticClientSchema = z.strictObject({
  /** Chosen by the operator; must not look like a URL (those are Client ID Metadata Documents). */
  clientId: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'use 1-128 letters, digits or . _ ~ -'),
  /** Plain secret (from a file or the environment). Stored nowhere; compared in constant time. */
  clientSecret: z.string().min(32, 'must be at least 32 characters').optional(),
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
    .default('client_secret_basic'),
  /** The client's public keys, for `private_key_jwt` (RFC 7523 client assertions). */
  jwks: z
    .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(20) })
    .optional(),
  redirectUris: z.array(absoluteUrl()).default([]),
  grantTypes: z
    .array(
      z.enum([
        'authorization_code',
        'refresh_token',
        JWT_BEARER_GRANT,
        CLIENT_CREDENTIALS_GRANT,
        TOKEN_EXCHANGE_GRANT,
      ]),
    )
    .min(1)
    .default(['authorization_code', 'refresh_token']),
  /**
   * The most this client may be granted through the client credentials grant (intersected with
   * the resource's scopes). Unset: none (tokens without scopes).
   */
  clientCredentialsScopes: z.array(scopeToken).optional(),
  /**
   * The most this client may be granted through an identity assertion (SEP-990): the ID-JAG's
   * scopes are intersected with these. Unset: whatever the resource knows.
   */
  assertionScopes: z.array(scopeToken).optional(),
  name: z.string().max(200).optional(),
})

/** An enterprise identity provider whose ID-JAGs Gatehouse accepts (SEP-990). */
export const TrustedIssuerSchema = z
  .strictObject({
    /** The IdP's issuer identifier, compared exactly with the ID-JAG's `iss`. */
    issuer: absoluteUrl(),
    /** Where its keys are: one of a JWKS URL, a discovery URL, or an inline JWKS. */
    jwksUri: absoluteUrl().optional(),
    discoveryUrl: absoluteUrl().optional(),
    jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
    /** Accepted signature algorithms (asymmetric only); default all of them. */
    algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).optional(),
    /** Reach a key URL on a private network (enterprise IdPs often live there). Default false. */
    allowPrivateNetwork: z.boolean().default(false),
    /**
     * Prepended to the ID-JAG's `sub` as `{prefix}:{sub}` in Gatehouse's tokens, so users of two
     * IdPs never share a subject. Required on every issuer when several are trusted.
     */
    subjectPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,64}$/, 'use 1-64 letters, digits or . _ ~ -')
      .optional(),
  })
  .refine((t) => [t.jwksUri, t.discoveryUrl, t.jwks].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of jwksUri, discoveryUrl or jwks',
  })

/** The SEP-990 identity-assertion grant: ID-JAGs from trusted enterprise IdPs at /token. */
export const IdentityAssertionSchema = z
  .strictObject({
    trustedIssuers: z.array(TrustedIssuerSchema).min(1),
    /** Longest accepted ID-JAG lifetime (`exp - iat`, and `exp` from now). Default 5 minutes. */
    maxAssertionLifetimeSeconds: z.number().int().min(30).max(3600).default(300),
  })
  .superRefine((ia, ctx) => {
    const issuers = new Set<string>()
    const prefixes = new Set<string>()
    ia.trustedIssuers.forEach((t, i) => {
      if (issuers.has(t.issuer)) {
        ctx.addIssue({
          code: 'custom',
          path: ['trustedIssuers', i, 'issuer'],
          message: 'is listed twice',
        })
      }
      issuers.add(t.issuer)
      if (
        ia.trustedIssuers.length > 1 &&
        (t.subjectPrefix === undefined || prefixes.has(t.subjectPrefix))
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['trustedIssuers', i, 'subjectPrefix'],
          message: 'must be set, and differ between issuers, when several issuers are trusted',
        })
      }
      if (t.subjectPrefix !== undefined) prefixes.add(t.subjectPrefix)
    })
  })

export const ConfigSchema = z
  .strictObject({
    /** The authorization server's issuer identifier: stable, never derived from a Host header. */
    issuer: absoluteUrl(),
    /** The protected MCP endpoints. */
    resources: z.array(ResourceSchema).min(1),
    /** Secret (32+ bytes) from which the storage encryption key is derived. */
    secret: z.string().min(32, 'must be at least 32 characters'),
    accessTokenTtlSeconds: z.number().int().min(60).max(86_400).default(3600),
    /** Idle lifetime of a refresh token; each rotation starts a new window. */
    refreshTokenTtlSeconds: z
      .number()
      .int()
      .min(300)
      .max(365 * 86_400)
      .default(30 * 86_400),
    /** Which clients get refresh tokens, and for how long at most (src/grants/refresh-policy.ts). */
    refreshTokens: z
      .strictObject({
        /**
         * Among the clients that registered the `refresh_token` grant: `all`, `confidential`
         * (clients that authenticate at /token), or `none`. Default `all`.
         */
        issueTo: z.enum(['all', 'confidential', 'none']).default('all'),
        /**
         * Absolute lifetime of a sign-in's refresh tokens, from the grant's creation: rotations
         * never reach past it. Unset: only the idle lifetime (`refreshTokenTtlSeconds`) applies.
         */
        absoluteLifetimeSeconds: z
          .number()
          .int()
          .min(300)
          .max(365 * 86_400)
          .optional(),
      })
      .prefault({}),
    authorizationCodeTtlSeconds: z.number().int().min(30).max(600).default(300),
    signingAlgorithm: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256'),
    /** Upper bound on how long a revoked grant's access tokens keep working at the guard. */
    revocationCheckSeconds: z.number().int().min(0).max(60).default(5),
    clockToleranceSeconds: z.number().int().min(0).max(60).default(30),
    /**
     * The bearer guard's in-memory caches, per instance. `tokens`: verified access tokens kept
     * (least recently used dropped first, each at most until its `exp`); 0 verifies the signature
     * on every request. `grants`: grant liveness answers kept (each
     * trusted for `revocationCheckSeconds`). See docs/deployment.md.
     */
    guardCache: z
      .strictObject({
        tokens: z.number().int().min(0).max(1_000_000).default(10_000),
        grants: z.number().int().min(1).max(10_000_000).default(100_000),
      })
      .prefault({}),
    registration: z
      .strictObject({
        enabled: z.boolean().default(true),
        maxRedirectUris: z.number().int().min(1).max(100).default(10),
        /**
         * Redirect URIs clients may register, as patterns (`https://*.example.com/cb`,
         * `http://127.0.0.1:*`, `http://localhost/callback`). Unset: any URI the base rules allow;
         * `[]`: none (registration closed to redirects). Checked at registration and authorization.
         */
        allowedRedirectUris: z.array(z.string().min(1)).optional(),
        /**
         * Let registering clients choose `token_endpoint_auth_method: private_key_jwt` (RFC 7523
         * client assertions) with exactly one of `jwks` (public keys inline) or `jwks_uri` (an
         * https URL, fetched through the outbound `transport` and cached). Default false (machine
         * clients may anyway under `clientCredentials.allowRegistration`).
         */
        allowPrivateKeyJwt: z.boolean().default(false),
        /** Development only: also accept an http `jwks_uri` on a loopback host. Never in production. */
        dangerouslyAllowLoopbackJwksUri: z.boolean().default(false),
      })
      .prefault({}),
    /**
     * Client ID Metadata Documents: a `client_id` that is an https URL is resolved by fetching
     * the client's metadata from it (no registration step). Needs an outbound `transport` that
     * checks resolved addresses (`createNodeTransport` from `mcp-gatehouse/node`).
     */
    clientIdMetadataDocuments: z
      .strictObject({
        enabled: z.boolean().default(false),
        /**
         * Development only: also accept documents on loopback hosts, over http too
         * (`gatehouse dev` and tests). Never in production.
         */
        dangerouslyAllowLoopback: z.boolean().default(false),
        /** Cache lifetime bounds; within them the document's Cache-Control max-age applies. */
        minCacheSeconds: z.number().int().min(0).max(3600).default(60),
        maxCacheSeconds: z
          .number()
          .int()
          .min(60)
          .max(7 * 86_400)
          .default(86_400),
        /** Largest document accepted (the draft recommends 5 KB). */
        maxDocumentBytes: z.number().int().min(1024).max(65_536).default(5120),
        /** Deadline of one document fetch. */
        timeoutSeconds: z.number().min(0.5).max(10).default(3),
        /** Document fetches per target host per minute, per instance. */
        fetchesPerHostPerMinute: z.number().int().min(1).default(60),
      })
      .prefault({}),
    /** Confidential clients allowed to introspect tokens of the listed resources (RFC 7662). */
    introspectionClients: z
      .array(
        z.strictObject({ clientId: z.string().min(1), resources: z.array(absoluteUrl()).min(1) }),
      )
      .default([]),
    /** Per-instance limits (per minute) against floods and credential guessing. */
    rateLimits: z
      .strictObject({
        /** Registrations per client address. */
        registrationsPerMinute: z.number().int().min(1).default(20),
        /** Failed client authentications per client id. */
        failedClientAuthPerMinute: z.number().int().min(1).default(20),
      })
      .prefault({}),
    /** Clients registered by the operator (confidential ones may use the ID-JAG grant). */
    clients: z.array(StaticClientSchema).default([]),
    /** Accept SEP-990 ID-JAGs at /token (jwt-bearer) from these enterprise IdPs. */
    identityAssertion: IdentityAssertionSchema.optional(),
    /** The client credentials grant for machine clients (off by default). */
    clientCredentials: ClientCredentialsSchema.prefault({}),
    /** DPoP (RFC 9449) at the token endpoint and the resources; see dpop-schema.ts. */
    dpop: DPoPSchema.prefault({}),
    /** RFC 8693 token exchange at /token (off by default; src/grants/token-exchange.ts). */
    tokenExchange: TokenExchangeSchema.optional(),
    /** Platform tokens (Kubernetes, SPIFFE, CI OIDC) as client credentials under trust policies. */
    workloadIdentity: WorkloadIdentitySchema.optional(),
    /** Sign users in at this identity provider (OAuth/OIDC proxy). */
    upstream: UpstreamSchema.optional(),
    /** Or at one of several, chosen by the user after consent (docs/providers/multiple.md). */
    upstreams: z.array(UpstreamsEntrySchema).min(1).max(20).optional(),
    /**
     * With `upstreams`: a user whose verified email (`email_verified: true`) comes from an IdP
     * marked `emailAuthoritative` is the same user at every such IdP (subject `email|<address>`).
     */
    linkAccountsByEmail: z.boolean().default(false),
    /** Largest request body read by any endpoint. */
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(10 * 1024 * 1024)
      .default(64 * 1024),
    /** Permit an http issuer that is not loopback (never in production). */
    dangerouslyAllowInsecureIssuer: z.boolean().default(false),
    ...opsFields,
    /** `gatehouse serve`: routes to existing MCP servers (see gateway-schema.ts). */
    gateway: GatewaySchema.optional(),
  })
  .superRefine((c, ctx) => {
    // Refinements run even when a field failed its own schema: URLs are read with parseUrl
    // (never `new URL`, whose throw would hide every other problem) and skipped when unparsable.
    const issuer = parseUrl(c.issuer)
    if (issuer) {
      const loopback = isLoopbackHost(issuer.hostname)
      if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && loopback)) {
        if (!c.dangerouslyAllowInsecureIssuer) {
          ctx.addIssue({
            code: 'custom',
            path: ['issuer'],
            message: 'must be https (http is allowed on loopback only)',
          })
        }
      }
      if (issuer.search || issuer.hash || c.issuer.includes('?') || c.issuer.includes('#')) {
        ctx.addIssue({
          code: 'custom',
          path: ['issuer'],
          message: 'must have no query or fragment',
        })
      }
    }
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
    checkUpstreams(c, ctx)
    checkClients(c, ctx)
    // Entra On-Behalf-Of needs users signed in at Entra (one IdP, not B2C): refused here, at
    // load, rather than on a user's first call.
    const entra = c.upstream?.kind === 'azure' && c.upstream.b2c === undefined
    c.gateway?.routes.forEach((route, i) => {
      if (
        route.upstream.kind !== 'stdio' &&
        route.upstream.credential.kind === 'entra-obo' &&
        !entra
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['gateway', 'routes', i, 'upstream', 'credential', 'kind'],
          message:
            'entra-obo needs upstream.kind azure (Microsoft Entra ID, not B2C) as the identity provider',
        })
      }
    })
    c.resources.forEach((r, i) => {
      const url = parseUrl(r.url)
      if (url && (url.hash || r.url.includes('#'))) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', i, 'url'],
          message: 'must have no fragment',
        })
      }
      if (
        url &&
        url.protocol !== 'https:' &&
        !(url.protocol === 'http:' && isLoopbackHost(url.hostname)) &&
        !c.dangerouslyAllowInsecureIssuer
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', i, 'url'],
          message: 'must be https (http is allowed on loopback only)',
        })
      }
      if (!c.dpop.enabled && (r.dpop.required || r.dpop.nonce)) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', i, 'dpop'],
          message: 'needs dpop.enabled',
        })
      }
      for (const s of r.requiredScopes) {
        if (r.scopes.length > 0 && !r.scopes.includes(s)) {
          ctx.addIssue({
            code: 'custom',
            path: ['resources', i, 'requiredScopes'],
            message: `"${s}" is not one of the resource's scopes`,
          })
        }
      }
    })
  })

/**
 * `upstreams`: not beside `upstream`; ids, callback paths and subject prefixes distinct (no prefix
 * may start another, or two IdPs' users could share a subject); client secrets where needed.
 */
function checkUpstreams(
  c: {
    upstream?: unknown
    upstreams?: z.output<typeof UpstreamsEntrySchema>[] | undefined
    linkAccountsByEmail: boolean
  },
  ctx: z.RefinementCtx,
): void {
  const list = c.upstreams
  if (list === undefined) {
    if (c.linkAccountsByEmail) {
      ctx.addIssue({ code: 'custom', path: ['linkAccountsByEmail'], message: 'needs upstreams' })
    }
    return
  }
  if (c.upstream !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['upstreams'],
      message: 'give upstream (one identity provider) or upstreams (several), not both',
    })
  }
  const ids = new Set<string>()
  const paths = new Set<string>()
  const prefixes: { prefix: string; at: number | 'linked' }[] = c.linkAccountsByEmail
    ? [{ prefix: LINKED_SUBJECT_PREFIX, at: 'linked' }]
    : []
  list.forEach((e, i) => {
    // Refinements also run when an entry failed its own schema: skip what is not well-formed.
    if (typeof e.upstream !== 'object' || typeof e.subjectPrefix !== 'string') return
    if (ids.has(e.id)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'id'],
        message: `duplicate id "${e.id}"`,
      })
    }
    ids.add(e.id)
    if (paths.has(e.upstream.redirectPath)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'upstream', 'redirectPath'],
        message: `${e.upstream.redirectPath} is another identity provider's callback`,
      })
    }
    paths.add(e.upstream.redirectPath)
    for (const other of prefixes) {
      if (other.prefix.startsWith(e.subjectPrefix) || e.subjectPrefix.startsWith(other.prefix)) {
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', i, 'subjectPrefix'],
          message:
            other.at === 'linked'
              ? `"${e.subjectPrefix}" overlaps "${LINKED_SUBJECT_PREFIX}", the prefix of linked accounts`
              : `"${e.subjectPrefix}" overlaps upstreams.${String(other.at)}.subjectPrefix`,
        })
      }
    }
    prefixes.push({ prefix: e.subjectPrefix, at: i })
    const up = e.upstream
    if (
      up.tokenEndpointAuthMethod !== 'none' &&
      up.clientSecret === undefined &&
      !(up.kind === 'azure' && up.clientCertificate !== undefined)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'upstream', 'clientSecret'],
        message: `is required for ${up.tokenEndpointAuthMethod}`,
      })
    }
  })
}

function checkClients(
  c: {
    clients: z.output<typeof StaticClientSchema>[]
    identityAssertion?: z.output<typeof IdentityAssertionSchema> | undefined
    clientCredentials: z.output<typeof ClientCredentialsSchema>
    resources: z.output<typeof ResourceSchema>[]
    tokenExchange?: z.output<typeof TokenExchangeSchema> | undefined
    workloadIdentity?: z.output<typeof WorkloadIdentitySchema> | undefined
  },
  ctx: z.RefinementCtx,
): void {
  checkTokenExchange(c, ctx)
  const federated = new Set(c.workloadIdentity?.policies.map((p) => p.clientId) ?? [])
  const seen = new Set<string>()
  c.clients.forEach((client, i) => {
    const at = (field: string) => ['clients', i, field]
    if (seen.has(client.clientId)) {
      ctx.addIssue({ code: 'custom', path: at('clientId'), message: 'is listed twice' })
    }
    seen.add(client.clientId)
    const confidential = client.tokenEndpointAuthMethod !== 'none'
    const keyAuth = client.tokenEndpointAuthMethod === 'private_key_jwt'
    if (confidential && !keyAuth !== (client.clientSecret !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: at('clientSecret'),
        message: keyAuth
          ? 'must not be set for private_key_jwt'
          : `is required for ${client.tokenEndpointAuthMethod}`,
      })
    }
    if (!confidential && client.clientSecret !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: at('clientSecret'),
        message: 'must not be set for a public client',
      })
    }
    if (client.jwks?.keys.some((k) => 'd' in k || 'k' in k)) {
      ctx.addIssue({
        code: 'custom',
        path: at('jwks'),
        message: 'must hold public keys only (a key has private or symmetric material)',
      })
    }
    if (federated.has(client.clientId)) {
      // Workload identity: the platform token is the client's credential; no keys of its own.
      if (!keyAuth || client.jwks !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at('tokenEndpointAuthMethod'),
          message:
            'a client named by a workloadIdentity policy uses private_key_jwt with no jwks (the platform token is its assertion)',
        })
      }
    } else if (keyAuth !== (client.jwks !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: at('jwks'),
        message: keyAuth ? 'is required for private_key_jwt' : 'is used only with private_key_jwt',
      })
    }
    if (client.grantTypes.includes(CLIENT_CREDENTIALS_GRANT)) {
      if (!confidential) {
        ctx.addIssue({
          code: 'custom',
          path: at('grantTypes'),
          message: 'the client_credentials grant is for confidential clients only',
        })
      }
      if (!c.clientCredentials.enabled) {
        ctx.addIssue({
          code: 'custom',
          path: at('grantTypes'),
          message: 'the client_credentials grant needs clientCredentials.enabled',
        })
      }
    } else if (client.clientCredentialsScopes !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: at('clientCredentialsScopes'),
        message: 'is used only with the client_credentials grant',
      })
    }
    if (client.grantTypes.includes(JWT_BEARER_GRANT)) {
      if (!confidential) {
        ctx.addIssue({
          code: 'custom',
          path: at('grantTypes'),
          message: 'the jwt-bearer grant is for confidential clients only',
        })
      }
      if (!c.identityAssertion) {
        ctx.addIssue({
          code: 'custom',
          path: at('grantTypes'),
          message: 'the jwt-bearer grant needs identityAssertion to be configured',
        })
      }
    }
    client.redirectUris.forEach((uri, j) => {
      // Operators may list native-app (custom scheme) URIs; the other rules are the registration's.
      const problem = redirectUriProblem(uri, 'native')
      if (problem) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'redirectUris', j], message: problem })
      }
    })
    if (client.grantTypes.includes('authorization_code') && client.redirectUris.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: at('redirectUris'),
        message: 'the authorization_code grant needs at least one redirect URI',
      })
    }
  })
}

/** `tokenExchange` and `workloadIdentity` name clients of `clients[]` that fit them. */
function checkTokenExchange(
  c: {
    clients: z.output<typeof StaticClientSchema>[]
    resources: z.output<typeof ResourceSchema>[]
    tokenExchange?: z.output<typeof TokenExchangeSchema> | undefined
    workloadIdentity?: z.output<typeof WorkloadIdentitySchema> | undefined
  },
  ctx: z.RefinementCtx,
): void {
  const te = c.tokenExchange
  const canonical = (u: string) => (parseUrl(u) ? canonicalResource(u) : u)
  const served = new Set(c.resources.map((r) => canonical(r.url)))
  te?.clients.forEach((x, i) => {
    x.resources?.forEach((r, j) => {
      if (!served.has(canonical(r))) {
        ctx.addIssue({
          code: 'custom',
          path: ['tokenExchange', 'clients', i, 'resources', j],
          message: 'must be one of resources[].url',
        })
      }
    })
  })
  const exchangers = new Set(te?.enabled === true ? te.clients.map((x) => x.clientId) : [])
  c.clients.forEach((client, i) => {
    if (client.grantTypes.includes(TOKEN_EXCHANGE_GRANT)) {
      if (client.tokenEndpointAuthMethod === 'none') {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'grantTypes'],
          message: 'the token-exchange grant is for confidential clients only',
        })
      }
      if (!exchangers.has(client.clientId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'grantTypes'],
          message:
            'the token-exchange grant needs tokenExchange.enabled and the client in tokenExchange.clients',
        })
      }
    }
  })
  te?.clients.forEach((x, i) => {
    const client = c.clients.find((k) => k.clientId === x.clientId)
    if (!client?.grantTypes.includes(TOKEN_EXCHANGE_GRANT)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenExchange', 'clients', i, 'clientId'],
        message: `must name a client of clients[] with "${TOKEN_EXCHANGE_GRANT}" in its grantTypes`,
      })
    }
  })
  const issuers = new Set<string>()
  const prefixes = new Set<string>()
  te?.trustedIssuers.forEach((t, i) => {
    if (issuers.has(t.issuer)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenExchange', 'trustedIssuers', i, 'issuer'],
        message: 'is listed twice',
      })
    }
    issuers.add(t.issuer)
    // Without a prefix an external issuer's `sub` would land in Gatehouse's own subject space
    // (users signed in through the proxy, `email|…`, `<idp>|…`): a token of that issuer with a
    // chosen `sub` would be that user. Fail closed: every external issuer gets its own namespace.
    if (t.subjectPrefix === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenExchange', 'trustedIssuers', i, 'subjectPrefix'],
        message:
          'is required: external subjects become "<subjectPrefix>:<sub>" so they never share a subject with local users',
      })
    } else if (prefixes.has(t.subjectPrefix)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tokenExchange', 'trustedIssuers', i, 'subjectPrefix'],
        message: 'must differ between issuers',
      })
    }
    if (t.subjectPrefix !== undefined) prefixes.add(t.subjectPrefix)
  })
  c.workloadIdentity?.policies.forEach((p, i) => {
    // A subject of wildcards and separators only (`*`, `**`, `*:*`, `**/**`) matches any workload
    // of the issuer: on a shared issuer (GitHub Actions, a public cluster) anyone's token. Such a
    // policy must pin the workload with `claims`.
    if (p.subject.replace(/[*:/]/g, '') === '' && Object.keys(p.claims).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['workloadIdentity', 'policies', i, 'subject'],
        message: `"${p.subject}" matches every subject of the issuer: name the workload (e.g. "repo:acme/api:*"), or require a claim with workloadIdentity.policies.${String(i)}.claims`,
      })
    }
    const client = c.clients.find((k) => k.clientId === p.clientId)
    if (!client) {
      ctx.addIssue({
        code: 'custom',
        path: ['workloadIdentity', 'policies', i, 'clientId'],
        message: 'must name a client of clients[]',
      })
    }
  })
}

export type ConfigInput = z.input<typeof ConfigSchema>
type ParsedConfig = z.output<typeof ConfigSchema>

export interface ResolvedResource extends Readonly<
  Omit<ParsedConfig['resources'][number], 'url' | 'dpop'>
> {
  /** Canonical form: lower-case scheme and host, no default port, no trailing slash. */
  readonly url: string
  /** `resources[].dpop`, plus the proof algorithms the guard accepts (empty: DPoP is off here). */
  readonly dpop: ResolvedResourceDPoP
  /** Path of the protected-resource metadata document for this resource (RFC 9728 §3.1). */
  readonly metadataPath: string
  readonly metadataUrl: string
}

/** How one resource treats DPoP (RFC 9449), resolved. */
export interface ResolvedResourceDPoP {
  readonly required: boolean
  readonly nonce: boolean
  /** `dpop.algorithms` when `dpop.enabled`, else empty (the DPoP scheme is refused). */
  readonly algorithms: readonly string[]
}

export interface ResolvedConfig extends Readonly<Omit<ParsedConfig, 'issuer' | 'resources'>> {
  /** The issuer exactly as clients must see it (no trailing slash). */
  readonly issuer: string
  /** The issuer's path (`''` at the root), under which the endpoints live. */
  readonly basePath: string
  readonly resources: readonly ResolvedResource[]
}

/** Validates configuration; throws `ConfigError` listing every problem (secret values never echoed). */
export function resolveConfig(input: unknown): ResolvedConfig {
  const parsed = ConfigSchema.safeParse(withGatewayResources(input))
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  }
  const c = parsed.data
  const issuer = c.issuer.replace(/\/+$/, '')
  const basePath = new URL(issuer).pathname.replace(/\/+$/, '')
  // Compared with tokens' canonical audiences: canonical here, once.
  const introspectionClients = c.introspectionClients.map((ic) => ({
    ...ic,
    resources: ic.resources.map(canonicalResource),
  }))
  return Object.freeze({
    ...c,
    issuer,
    basePath,
    resources: resolveResources(c.resources, c.dpop.enabled ? c.dpop.algorithms : []),
    introspectionClients,
  })
}

/** Canonical URLs and metadata locations (RFC 9728 §3.1) for parsed resources. */
function resolveResources(
  list: readonly z.output<typeof ResourceSchema>[],
  dpopAlgorithms: readonly string[],
): readonly ResolvedResource[] {
  const resources = list.map((r): ResolvedResource => {
    const url = canonicalResource(r.url)
    const u = new URL(url)
    const path = u.pathname === '/' ? '' : u.pathname
    const metadataPath = `/.well-known/oauth-protected-resource${path}`
    const dpop = Object.freeze({ ...r.dpop, algorithms: Object.freeze([...dpopAlgorithms]) })
    return Object.freeze({
      ...r,
      url,
      dpop,
      metadataPath,
      metadataUrl: `${u.origin}${metadataPath}`,
    })
  })
  return Object.freeze(resources)
}

/** Configuration of a resource server whose tokens come from an external authorization server. */
export const RemoteAuthConfigSchema = z.strictObject({
  /** The protected MCP endpoints. */
  resources: z.array(ResourceSchema).min(1),
  /** Issuer identifiers of the authorization servers clients should use (RFC 9728 §2). */
  authorizationServers: z.array(absoluteUrl()).min(1),
})

export interface ResolvedRemoteAuthConfig {
  readonly resources: readonly ResolvedResource[]
  readonly authorizationServers: readonly string[]
}

/** Validates a remote-auth configuration; throws `ConfigError` listing every problem. */
export function resolveRemoteAuthConfig(input: unknown): ResolvedRemoteAuthConfig {
  const parsed = RemoteAuthConfigSchema.safeParse(input)
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    )
  }
  // The remote-auth guard has no store for proof replay: DPoP is not offered there (yet).
  const dpopIssues = parsed.data.resources.flatMap((r, i) =>
    r.dpop.required || r.dpop.nonce
      ? [`resources.${String(i)}.dpop: DPoP is not supported with an external authorization server`]
      : [],
  )
  if (dpopIssues.length > 0) throw new ConfigError(dpopIssues)
  return Object.freeze({
    resources: resolveResources(parsed.data.resources, []),
    authorizationServers: Object.freeze(
      parsed.data.authorizationServers.map((a) => a.replace(/\/+$/, '')),
    ),
  })
}
