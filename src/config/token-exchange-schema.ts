/**
 * The `tokenExchange` section (RFC 8693 token exchange at /token, src/grants/token-exchange.ts) and
 * the `workloadIdentity` section (platform tokens as client credentials, src/grants/workload-identity.ts),
 * with the external-issuer fields both share (issuer, where its keys are, algorithms).
 */
import * as z from 'zod'
import { absoluteURL, canonicalResource, parseURL } from './urls.js'
import { scopeToken } from './azure-schema.js'

/** RFC 8693 §2.1: the grant type value. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'

const ALGORITHMS = [
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

/** Where an external issuer's keys are: exactly one of a JWKS URL, a discovery URL, inline keys. */
export const externalIssuerFields = {
  /** The issuer identifier, compared exactly with the token's `iss`. */
  issuer: absoluteURL(),
  jwksUri: absoluteURL().optional(),
  discoveryUrl: absoluteURL().optional(),
  jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
  /** Accepted signature algorithms (asymmetric only); default all of them. */
  algorithms: z.array(z.enum(ALGORITHMS)).min(1).optional(),
  /** Reach a key URL on a private network (in-cluster issuers often live there). Default false. */
  allowPrivateNetwork: z.boolean().default(false),
}

/** Exactly one key source. */
export function oneKeySource(t: {
  jwksUri?: string | undefined
  discoveryUrl?: string | undefined
  jwks?: unknown
}): boolean {
  return [t.jwksUri, t.discoveryUrl, t.jwks].filter((v) => v !== undefined).length === 1
}
const ONE_KEY_SOURCE = { message: 'give exactly one of jwksUri, discoveryUrl or jwks' }

/** An issuer whose JWTs Gatehouse accepts as `subject_token`/`actor_token` (type `jwt`). */
export const ExchangeIssuerSchema = z
  .strictObject({
    ...externalIssuerFields,
    /** The `aud` the issuer's tokens must carry to be exchanged here. Default: Gatehouse's issuer. */
    audience: z.string().min(1).optional(),
    /**
     * Prepended to the token's `sub` as `{prefix}:{sub}` in Gatehouse's tokens, so that an
     * external subject never collides with a local user (proxy sign-ins, `email|…`, `<idp>|…`)
     * or with another issuer's. Required, and distinct per issuer (checked at load).
     */
    subjectPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,64}$/, 'use 1-64 letters, digits or . _ ~ -')
      .optional(),
  })
  .refine(oneKeySource, ONE_KEY_SOURCE)

/** A client allowed to exchange tokens, and the most it may get. */
export const ExchangeClientSchema = z.strictObject({
  /** One of `clients[]` (confidential, with the token-exchange grant in `grantTypes`). */
  clientId: z.string().min(1),
  /** Scopes this client may obtain (further narrowed by the subject token's). Unset: no cap. */
  scopes: z.array(scopeToken).optional(),
  /** Resources (canonical URLs of `resources[]`) it may obtain tokens for. Unset: all of them. */
  resources: z.array(absoluteURL()).optional(),
})

export const TokenExchangeSchema = z.strictObject({
  /** Serve `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (and advertise it). */
  enabled: z.boolean().default(false),
  /** The clients that may exchange; nobody else may, whatever its `grantTypes` say. */
  clients: z.array(ExchangeClientSchema).default([]),
  /** Accept Gatehouse's own access tokens as subject and actor tokens. Default true. */
  acceptOwnTokens: z.boolean().default(true),
  /** External issuers whose JWTs are accepted as subject and actor tokens (type `jwt`). */
  trustedIssuers: z.array(ExchangeIssuerSchema).default([]),
  /** Longest accepted external token lifetime (`exp - iat`, and `exp` from now). Default 1 hour. */
  maxSubjectTokenLifetimeSeconds: z.number().int().min(30).max(86_400).default(3600),
  /**
   * Longest lifetime of an issued token (never past the subject token's `exp` either). Default:
   * `accessTokenTtlSeconds`.
   */
  maxTokenLifetimeSeconds: z.number().int().min(30).max(86_400).optional(),
})

/** A trust policy: which platform tokens authenticate as which client (no client secret). */
export const TrustPolicySchema = z
  .strictObject({
    ...externalIssuerFields,
    /**
     * The platform token's `sub`: exact, or a glob where `*` matches any run of characters but
     * `:` and `/`, and `**` any run at all (`repo:acme/api:ref:refs/heads/*`).
     */
    subject: z.string().min(1).max(512),
    /** The `aud` the platform token must carry, and nothing else beside it. Default: Gatehouse's issuer. */
    audience: z.string().min(1).optional(),
    /** Further claims that must equal these values exactly (`repository_owner`, `environment`). */
    claims: z.record(z.string(), z.union([z.string(), z.boolean(), z.number()])).default({}),
    /** The client (`clients[]`, `tokenEndpointAuthMethod: private_key_jwt`, no `jwks`) it maps to. */
    clientId: z.string().min(1),
    /** The most this workload may be granted; narrows the client's own allow-lists. Unset: no narrowing. */
    scopes: z.array(scopeToken).optional(),
  })
  .refine(oneKeySource, ONE_KEY_SOURCE)

export const WorkloadIdentitySchema = z
  .strictObject({
    policies: z.array(TrustPolicySchema).min(1),
    /** Longest accepted platform-token lifetime (`exp - iat`, and `exp` from now). Default 1 hour. */
    maxTokenLifetimeSeconds: z.number().int().min(30).max(86_400).default(3600),
  })
  .superRefine((w, ctx) => {
    // One issuer, one set of keys: the policies of an issuer share its key cache, so two key
    // sources (or network settings) for one issuer would let one policy's keys sign for another.
    const first = new Map<string, { at: number; source: string }>()
    w.policies.forEach((p, i) => {
      const source = JSON.stringify([p.jwksUri, p.discoveryUrl, p.jwks, p.allowPrivateNetwork])
      const seen = first.get(p.issuer)
      if (!seen) first.set(p.issuer, { at: i, source })
      else if (seen.source !== source) {
        ctx.addIssue({
          code: 'custom',
          path: ['policies', i, 'issuer'],
          message: `policies of one issuer must name the same keys (jwksUri, discoveryUrl or jwks, and allowPrivateNetwork) as policies.${String(seen.at)}`,
        })
      }
    })
  })

export type TokenExchangeConfig = z.output<typeof TokenExchangeSchema>
export type WorkloadIdentityConfig = z.output<typeof WorkloadIdentitySchema>

/** `tokenExchange` and `workloadIdentity` name clients of `clients[]` that fit them. */
export function checkTokenExchange(
  c: {
    clients: readonly {
      clientId: string
      tokenEndpointAuthMethod: string
      grantTypes: readonly string[]
    }[]
    resources: readonly { url: string }[]
    tokenExchange?: z.output<typeof TokenExchangeSchema> | undefined
    workloadIdentity?: z.output<typeof WorkloadIdentitySchema> | undefined
  },
  ctx: z.RefinementCtx,
): void {
  const te = c.tokenExchange
  const canonical = (u: string) => (parseURL(u) ? canonicalResource(u) : u)
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
