/**
 * `AzureJWTVerifier`: checks Entra access tokens for this API, locally, through the JWKS cache.
 * Rules, in order:
 * 1. the (not yet trusted) payload names an issuer this configuration accepts: `{authority}/{GUID}/v2.0`
 *    of the configured tenant; for `organizations`/`common` the one of the token's own `tid` (a GUID,
 *    and in `allowedTenants` when that is set); `https://sts.windows.net/{tid}/` only with
 *    `allowV1Tokens`; for B2C the configured `tokenIssuer`, or (unset) any issuer on the B2C host,
 *    and always the configured policy in `tfp` (or the legacy `acr`), case-insensitively;
 * 2. a `JWTVerifier` for exactly that issuer checks signature (keys of the configured JWKS URL,
 *    cached once for all issuers), time, audience (the client id or the identifier URI) and the
 *    required scopes in `scp` (short form; OIDC scopes are never required there);
 * 3. `scp` becomes the token's scopes (short form), `roles` its roles; with `refuseAppOnlyTokens`
 *    an app-only token (no user) is refused.
 * `verifyToken` answers `undefined` for everything that fails (a `TokenVerifier` never throws for an
 * invalid token); `checkToken` tells a genuine token of this API that lacks a required scope
 * (`insufficient_scope`, naming the full-URI scopes to ask Entra for) from an invalid one.
 */
import { decodeBase64URL } from '../../jwt/base64url.js'
import { JWKSCache } from '../../jwt/jwks-cache.js'
import type { SignatureVerifierFactory } from '../../jwt/signature.js'
import { freezeAccessToken } from '../../jwt/claims.js'
import { VerifiedTokenCache } from '../../jwt/verified-token-cache.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import type {
  AccessToken,
  TokenCheck,
  TokenVerifier,
  UpstreamIdentity,
} from '../../jwt/access-token.js'
import type { GuardedTransport } from '../../http/guarded-fetch.js'
import { outboundOptions } from './outbound.js'
import {
  CONSUMERS_TENANT_ID,
  isB2CPolicy,
  isTenantGUID,
  resolveAuthority,
  v1Issuer,
  v2Issuer,
  type AzureAuthority,
  type AzureAuthorityInput,
} from './authority.js'
import { AzureScopeRules } from './scopes.js'

export interface AzureJWTVerifierOptions extends AzureAuthorityInput {
  /** The app registration's Application (client) id. */
  clientId: string
  /** Application ID URI (default `api://{clientId}`). */
  identifierUri?: string | undefined
  /** Scopes every token must carry, short form (`read`); OIDC scopes are ignored here. */
  requiredScopes?: readonly string[] | undefined
  /** Multi-tenant: the only tenant GUIDs accepted. */
  allowedTenants?: readonly string[] | undefined
  /** Accept v1.0 tokens (`https://sts.windows.net/{tid}/`). Default false. */
  allowV1Tokens?: boolean | undefined
  /**
   * Refuse app-only tokens (client credentials: no user): `idtyp` `app`, or no `scp` with `oid`
   * equal to `sub`. Default false (a resource server may serve daemons); the proxy sets it, as
   * it signs users in.
   */
  refuseAppOnlyTokens?: boolean | undefined
  /**
   * The tenant's GUID when `tenantId` is a domain (start-up discovery learns it); required then.
   */
  tenantGuid?: string | undefined
  /**
   * Resource servers: the MCP resource URL this app registration stands for. Entra's audience
   * (client id or identifier URI) names the app, not the URL; a token that passed is reported as
   * being for `resource`, so the guard's audience binding holds.
   */
  resource?: string | undefined
  /** Replaces the JWKS URL derived from the authority (discovery's `jwks_uri`). */
  jwksUri?: string | undefined
  clockToleranceSeconds?: number | undefined
  fetch?: typeof fetch | undefined
  /** Checks resolved addresses and pins connections (Node: `createNodeTransport`). */
  transport?: GuardedTransport | undefined
  now?: (() => number) | undefined
  signatureVerifier?: SignatureVerifierFactory | undefined
}

const MAX_ISSUERS = 256
/** Longest time a verified token is served from the cache (as `JWTVerifier` does). */
const CACHE_MAX_TTL_MS = 3_600_000

export class AzureJWTVerifier implements TokenVerifier {
  readonly authority: AzureAuthority
  readonly scopeRules: AzureScopeRules
  readonly #options: AzureJWTVerifierOptions
  readonly #jwksUri: string
  readonly #tenantGuid: string | undefined
  readonly #allowed: ReadonlySet<string> | undefined
  readonly #organizationsOnly: boolean
  readonly #keys: JWKSCache
  readonly #verifiers = new Map<string, JWTVerifier>()
  readonly #cache = new VerifiedTokenCache()

  constructor(options: AzureJWTVerifierOptions) {
    this.#options = options
    this.authority = resolveAuthority(options)
    this.scopeRules = new AzureScopeRules({
      identifierUri: options.identifierUri ?? defaultIdentifierURI(options),
      requiredScopes: options.requiredScopes ?? [],
      additionalAuthorizeScopes: [],
    })
    this.#jwksUri = options.jwksUri ?? this.authority.jwksUri
    const tenant = options.tenantId?.toLowerCase()
    this.#tenantGuid =
      options.tenantGuid?.toLowerCase() ??
      (tenant === 'consumers' ? CONSUMERS_TENANT_ID : isTenantGUID(tenant) ? tenant : undefined)
    if (
      !this.authority.b2c &&
      this.#tenantGuid === undefined &&
      !(this.authority.multiTenant && tenant !== 'consumers')
    ) {
      throw new TypeError(
        'tenantId must be a GUID or organizations/common/consumers (or give tenantGuid)',
      )
    }
    this.#organizationsOnly = tenant === 'organizations'
    this.#allowed = options.allowedTenants
      ? new Set(options.allowedTenants.map((t) => t.toLowerCase()))
      : undefined
    this.#keys = new JWKSCache({
      ...(options.now ? { now: options.now } : {}),
      ...outboundOptions(this.#jwksUri, options),
    })
  }

  /** Full-URI scopes for metadata: what clients must ask Entra for (`api://…/read`). */
  get scopesSupported(): string[] {
    return this.scopeRules.requiredScopes.map((s) => this.scopeRules.toEntra(s))
  }

  /** Short-form scopes each token must carry in `scp`. */
  get requiredScopes(): readonly string[] {
    return this.scopeRules.validationScopes
  }

  /** The verified token, or `undefined` for any token that may not pass (a missing scope too). */
  async verifyToken(token: string): Promise<AccessToken | undefined> {
    const check = await this.checkToken(token)
    return check.status === 'valid' ? check.token : undefined
  }

  /**
   * The token's `TokenCheck`. `insufficient_scope` only for a token that passed every other rule
   * (issuer, signature, time, audience, app-only refusal) and lacks a required `scp` entry; its
   * `scopes` are the required ones in the form clients ask Entra for (`api://…/read`).
   */
  async checkToken(token: string): Promise<TokenCheck> {
    // One cache for every tenant's verifier, asked before the token is even decoded.
    const nowMs = (this.#options.now ?? Date.now)()
    const hit = this.#cache.get(token, nowMs)
    if (hit !== undefined) return { status: 'valid', token: hit }
    const payload = peekPayload(token)
    if (payload === undefined) return { status: 'invalid', reason: 'malformed' }
    const issuer = this.#acceptedIssuer(payload)
    if (issuer === undefined) return { status: 'invalid', reason: 'wrong_issuer' }
    const check = await this.#verifierFor(issuer).checkToken(token)
    if (check.status === 'invalid') return check
    const verified = check.token
    if (this.#options.refuseAppOnlyTokens === true && isAppOnly(verified.claims)) {
      return { status: 'invalid', reason: 'app_only_token' }
    }
    const resource = this.#options.resource
    const result = freezeAccessToken({
      ...verified,
      ...(resource !== undefined ? { resource } : {}),
      ...upstreamOf(verified),
    })
    if (check.status === 'insufficient_scope') {
      const rules = this.scopeRules
      const scopes = rules.validationScopes.map((s) => rules.toEntra(s))
      return { status: 'insufficient_scope', token: result, scopes }
    }
    if (verified.expiresAt !== undefined) {
      const until = Math.min(verified.expiresAt * 1000, nowMs + CACHE_MAX_TTL_MS)
      this.#cache.set(token, result, until, nowMs)
    }
    return { status: 'valid', token: result }
  }

  /** The issuer this configuration accepts for the token, or undefined. */
  #acceptedIssuer(payload: Record<string, unknown>): string | undefined {
    const { iss, tid } = payload
    if (typeof iss !== 'string') return undefined
    const a = this.authority
    if (a.b2c) {
      // The signature is checked next: a forged `tfp` cannot pass.
      if (!isB2CPolicy(a, payload)) return undefined
      if (a.b2cTokenIssuer !== undefined) return iss === a.b2cTokenIssuer ? iss : undefined
      // Issuer not checked (B2C issuers embed a GUID): at least it must be on the B2C host.
      return URL.canParse(iss) && new URL(iss).origin === new URL(a.base).origin ? iss : undefined
    }
    if (!isTenantGUID(tid)) return undefined
    const t = tid.toLowerCase()
    if (this.#tenantGuid !== undefined && t !== this.#tenantGuid) return undefined
    if (this.#allowed !== undefined && !this.#allowed.has(t)) return undefined
    // `organizations` means work and school accounts: never the personal-accounts directory.
    if (this.#organizationsOnly && t === CONSUMERS_TENANT_ID) return undefined
    if (iss === v2Issuer(a, tid)) return iss
    if (this.#options.allowV1Tokens === true && iss === v1Issuer(a, tid)) return iss
    return undefined
  }

  #verifierFor(issuer: string): JWTVerifier {
    let verifier = this.#verifiers.get(issuer)
    if (verifier !== undefined) {
      this.#verifiers.delete(issuer)
      this.#verifiers.set(issuer, verifier)
      return verifier
    }
    const rules = this.scopeRules
    verifier = new JWTVerifier({
      issuer,
      audience: [this.#options.clientId, rules.identifierUri],
      jwksUri: this.#jwksUri,
      jwksCache: this.#keys,
      // All of Entra's issuers share the tenant's key set: cached once, whatever `iss` says.
      keyCacheName: `entra ${this.#jwksUri}`,
      // Verified tokens are cached once, above, not per tenant.
      cache: false,
      algorithms: ['RS256'],
      requiredScopes: [...rules.validationScopes],
      claimsToScopes: (claims) => {
        const scp = claims.scp
        if (typeof scp !== 'string') return []
        return rules
          .translateEchoed(scp)
          .split(' ')
          .filter((s) => s !== '')
      },
      ...(this.#options.clockToleranceSeconds !== undefined
        ? { clockToleranceSeconds: this.#options.clockToleranceSeconds }
        : {}),
      ...(this.#options.now ? { now: this.#options.now } : {}),
      ...(this.#options.signatureVerifier
        ? { signatureVerifier: this.#options.signatureVerifier }
        : {}),
    })
    this.#verifiers.set(issuer, verifier)
    if (this.#verifiers.size > MAX_ISSUERS) {
      const oldest = this.#verifiers.keys().next().value
      if (oldest !== undefined) this.#verifiers.delete(oldest)
    }
    return verifier
  }
}

/** The Entra user behind a verified token: its issuer, `sub`, `tid` and `oid` (when present). */
function upstreamOf(token: AccessToken): { upstream?: UpstreamIdentity } {
  const { tid, oid } = token.claims
  if (token.issuer === undefined || token.subject === undefined) return {}
  return {
    upstream: Object.freeze({
      issuer: token.issuer,
      subject: token.subject,
      ...(typeof tid === 'string' ? { tenantId: tid } : {}),
      ...(typeof oid === 'string' ? { objectId: oid } : {}),
    }),
  }
}

/** `api://{clientId}`, or B2C's `https://{tenant}.onmicrosoft.com/{clientId}`. */
export function defaultIdentifierURI(options: {
  clientId: string
  b2c?: { tenantName: string } | undefined
}): string {
  return options.b2c
    ? `https://${options.b2c.tenantName}.onmicrosoft.com/${options.clientId}`
    : `api://${options.clientId}`
}

/**
 * Whether Entra's token was issued to an app for itself (client credentials), not for a user:
 * `idtyp: app` (optional claim), or, without it, no `scp` and `oid` equal to `sub` (Microsoft's
 * documented test).
 */
export function isAppOnly(claims: Readonly<Record<string, unknown>>): boolean {
  if (claims.idtyp === 'app') return true
  if (claims.idtyp === 'user') return false
  return claims.scp === undefined && typeof claims.oid === 'string' && claims.oid === claims.sub
}

/** The payload of a compact JWS, not verified: only used to choose the issuer rules. */
function peekPayload(token: string): Record<string, unknown> | undefined {
  if (token.length > 16_384) return undefined
  const parts = token.split('.')
  if (parts.length !== 3 || parts[1] === undefined) return undefined
  const bytes = decodeBase64URL(parts[1])
  if (bytes === undefined) return undefined
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes))
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
