/**
 * The one configuration schema. Files, `GATEHOUSE_*` environment variables and code all go through
 * `resolveConfig`, which reports every problem at once with the path of the field.
 *
 * This file composes the sections and resolves the result. Each section is validated, its rules
 * against other sections included, in the file named after its key (`fooBar`: `foo-bar-schema.ts`):
 *
 *   issuer (its rules)                        issuer-schema.ts
 *   resources                                 resources-schema.ts (resources[].dpop: dpop-schema.ts)
 *   accessTokenTtlSeconds, refreshTokens, …   tokens-schema.ts (lifetimes, signing, tolerances)
 *   registration                              registration-schema.ts
 *   clientIdMetadataDocuments                 client-id-metadata-documents-schema.ts
 *   clients                                   clients-schema.ts
 *   identityAssertion                         identity-assertion-schema.ts
 *   clientCredentials                         client-credentials-schema.ts
 *   dpop                                      dpop-schema.ts
 *   tokenExchange, workloadIdentity           token-exchange-schema.ts
 *   upstream                                  upstream-schema.ts (kinds azure, github, auth0, google:
 *                                             also `<kind>-schema.ts`)
 *   upstreams, linkAccountsByEmail            upstreams-schema.ts
 *   log, audit, metrics, admin                ops-schema.ts
 *   gateway                                   gateway-schema.ts
 *
 * `secret`, `introspectionClients`, `rateLimits`, `maxBodyBytes` and
 * `dangerouslyAllowInsecureIssuer` are a few lines each and stay here.
 */
import * as z from 'zod'
import { ConfigError } from '../errors.js'
import { absoluteURL, canonicalResource, isLoopbackHost, parseURL } from './urls.js'
import { checkIssuer } from './issuer-schema.js'
import { checkResources, ResourceSchema } from './resources-schema.js'
import { tokenFields } from './tokens-schema.js'
import { RegistrationSchema } from './registration-schema.js'
import { ClientIDMetadataDocumentsSchema } from './client-id-metadata-documents-schema.js'
import { checkClients, StaticClientSchema } from './clients-schema.js'
import { checkIdentityAssertion, IdentityAssertionSchema } from './identity-assertion-schema.js'
import { ClientCredentialsSchema } from './client-credentials-schema.js'
import { TokenExchangeSchema, WorkloadIdentitySchema } from './token-exchange-schema.js'
import { checkUpstream, UpstreamSchema } from './upstream-schema.js'
import { checkQualifiedAuthority } from './qualified-authority.js'
import { checkSubjectPrefixes } from './subject-prefixes.js'
import { checkUpstreams, UpstreamsEntrySchema } from './upstreams-schema.js'
import { opsFields } from './ops-schema.js'
import { DPoPSchema } from './dpop-schema.js'
import {
  checkAzureOnBehalfOf,
  checkOwnAudiences,
  GatewaySchema,
  withGatewayResources,
} from './gateway-schema.js'

export { ResourceSchema } from './resources-schema.js'
export { StaticClientSchema } from './clients-schema.js'
export { IdentityAssertionSchema, TrustedIssuerSchema } from './identity-assertion-schema.js'
export { UpstreamSchema } from './upstream-schema.js'
export { LINKED_SUBJECT_PREFIX, UpstreamsEntrySchema } from './upstreams-schema.js'

export const ConfigSchema = z
  .strictObject({
    /** The authorization server's issuer identifier: stable, never derived from a Host header. */
    issuer: absoluteURL(),
    /** The protected MCP endpoints. */
    resources: z.array(ResourceSchema).min(1),
    /** Secret (32+ bytes) from which the storage encryption key is derived. */
    secret: z.string().min(32, 'must be at least 32 characters'),
    /** Token lifetimes, who gets refresh tokens, the signing algorithm (tokens-schema.ts). */
    ...tokenFields,
    /** Dynamic Client Registration (RFC 7591) at /register. */
    registration: RegistrationSchema.prefault({}),
    /**
     * Client ID Metadata Documents: a `client_id` that is an https URL is resolved by fetching
     * the client's metadata from it (no registration step). Needs an outbound `transport` that
     * checks resolved addresses (`createNodeTransport` from `mcp-gatehouse/node`).
     */
    clientIdMetadataDocuments: ClientIDMetadataDocumentsSchema.prefault({}),
    /** Confidential clients allowed to introspect tokens of the listed resources (RFC 7662). */
    introspectionClients: z
      .array(
        z.strictObject({ clientId: z.string().min(1), resources: z.array(absoluteURL()).min(1) }),
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
    // Refinements run even when a field failed its own schema: URLs are read with parseURL
    // (never `new URL`, whose throw would hide every other problem) and skipped when unparsable.
    checkIssuer(c, ctx)
    checkUpstream(c, ctx)
    checkUpstreams(c, ctx)
    checkClients(c, ctx)
    checkIdentityAssertion(c, ctx)
    checkSubjectPrefixes(c, ctx)
    checkQualifiedAuthority(c, ctx)
    checkAzureOnBehalfOf(c, ctx)
    checkOwnAudiences(c, ctx)
    checkResources(c, ctx)
  })

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

/** RFC 8414 §2: an https URL with no query or fragment (http only on loopback, for development). */
function isIssuerIdentifier(value: string): boolean {
  const u = parseURL(value)
  if (!u) return true // absoluteURL() reports it
  const scheme = u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname))
  return scheme && !value.includes('?') && !value.includes('#')
}
const ISSUER_IDENTIFIER = {
  message:
    'must be an issuer identifier: an https URL without query or fragment (http only on loopback)',
}

/** Configuration of a resource server whose tokens come from an external authorization server. */
export const RemoteAuthConfigSchema = z.strictObject({
  /** The protected MCP endpoints. */
  resources: z.array(ResourceSchema).min(1),
  /**
   * Issuer identifiers of the authorization servers clients should use (RFC 9728 §2), published
   * exactly as given: clients compare them with the AS metadata's `issuer` (RFC 8414 §3.3), so
   * Auth0's `https://{domain}/` keeps its slash.
   */
  authorizationServers: z.array(absoluteURL().refine(isIssuerIdentifier, ISSUER_IDENTIFIER)).min(1),
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
    authorizationServers: Object.freeze([...parsed.data.authorizationServers]),
  })
}
