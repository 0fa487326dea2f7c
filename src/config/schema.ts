/**
 * The one configuration schema. Files, `GATEHOUSE_*` environment variables and code all go through
 * `resolveConfig`, which reports every problem at once with the path of the field.
 */
import * as z from 'zod'
import { ConfigError } from '../errors.js'
import { redirectUriProblem } from '../oauth/redirect-uri.js'
import { absoluteUrl, canonicalResource, isLoopbackHost, parseUrl } from './urls.js'
import { azureUpstreamFields, isSecureOrLoopbackUrl, scopeToken } from './azure-schema.js'
import { CLIENT_CREDENTIALS_GRANT, ClientCredentialsSchema } from './client-credentials-schema.js'
import { opsFields } from './ops-schema.js'
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
})

/** The JWS algorithms accepted from identity providers: asymmetric only. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const

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
  // Auth0 (src/providers/auth0/, docs/providers/auth0.md).
  z
    .strictObject({
      kind: z.literal('auth0'),
      /**
       * The tenant's domain (`tenant.us.auth0.com`) or its custom domain (`login.example.com`);
       * the issuer is `https://{domain}/`. `http://127.0.0.1:PORT` for a local stand-in only.
       */
      domain: z
        .string()
        .regex(
          /^(?:(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5})$/,
          'must be a domain name such as tenant.us.auth0.com (no https://, no path)',
        ),
      /** The Identifier of the Auth0 API: sent as `audience`, so Auth0 issues JWT access tokens. */
      audience: z.string().min(1).optional(),
      /** The custom claim an Action sets with the user's roles (`https://example.com/roles`). */
      rolesClaim: z.string().min(1).optional(),
      /** The token that carries `rolesClaim` (default `id_token`; `access_token` needs `audience`). */
      rolesFrom: z.enum(['id_token', 'access_token']).default('id_token'),
      /** ID-token algorithm; default: what the tenant advertises (asymmetric only). */
      algorithm: z.enum(ASYMMETRIC_ALGORITHMS).optional(),
      ...upstreamCommon,
    })
    .superRefine((a, ctx) => {
      if (a.rolesFrom === 'access_token' && a.audience === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['audience'],
          message:
            'is required with rolesFrom access_token: without it Auth0 issues an opaque access ' +
            'token; set it to the Identifier of your API (Auth0 Dashboard > Applications > APIs)',
        })
      }
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
  // Microsoft Entra ID / Azure AD B2C (src/azure/).
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
])

/** RFC 7523 jwt-bearer: the grant type an ID-JAG is presented with (SEP-990). */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

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
      z.enum(['authorization_code', 'refresh_token', JWT_BEARER_GRANT, CLIENT_CREDENTIALS_GRANT]),
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
    /** Sign users in at this identity provider (OAuth/OIDC proxy). */
    upstream: UpstreamSchema.optional(),
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
    checkClients(c, ctx)
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

function checkClients(
  c: {
    clients: z.output<typeof StaticClientSchema>[]
    identityAssertion?: z.output<typeof IdentityAssertionSchema> | undefined
    clientCredentials: z.output<typeof ClientCredentialsSchema>
  },
  ctx: z.RefinementCtx,
): void {
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
    if (keyAuth !== (client.jwks !== undefined)) {
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

export type ConfigInput = z.input<typeof ConfigSchema>
type ParsedConfig = z.output<typeof ConfigSchema>

export interface ResolvedResource extends Readonly<Omit<ParsedConfig['resources'][number], 'url'>> {
  /** Canonical form: lower-case scheme and host, no default port, no trailing slash. */
  readonly url: string
  /** Path of the protected-resource metadata document for this resource (RFC 9728 §3.1). */
  readonly metadataPath: string
  readonly metadataUrl: string
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
    resources: resolveResources(c.resources),
    introspectionClients,
  })
}

/** Canonical URLs and metadata locations (RFC 9728 §3.1) for parsed resources. */
function resolveResources(
  list: readonly z.output<typeof ResourceSchema>[],
): readonly ResolvedResource[] {
  const resources = list.map((r): ResolvedResource => {
    const url = canonicalResource(r.url)
    const u = new URL(url)
    const path = u.pathname === '/' ? '' : u.pathname
    const metadataPath = `/.well-known/oauth-protected-resource${path}`
    return Object.freeze({ ...r, url, metadataPath, metadataUrl: `${u.origin}${metadataPath}` })
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
  return Object.freeze({
    resources: resolveResources(parsed.data.resources),
    authorizationServers: Object.freeze(
      parsed.data.authorizationServers.map((a) => a.replace(/\/+$/, '')),
    ),
  })
}
