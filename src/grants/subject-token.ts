/**
 * The tokens an RFC 8693 token exchange presents (`subject_token`, `actor_token`), verified into
 * one shape. Two kinds are accepted, each only when configured (`tokenExchange`):
 * - Gatehouse's own access tokens (type `access_token`, or `jwt` with Gatehouse's `iss`): the own
 *   verifier's checks (signature, issuer, audience one of the resources, expiry), then the grant
 *   must be live in the store at this moment (no cached liveness), so a revoked token is refused;
 * - JWTs of configured external issuers (type `jwt`): the issuer is looked up before any key is
 *   fetched (an unknown `iss` causes no fetch), then signature by that issuer's keys (JWKS cache,
 *   asymmetric only), `aud` the configured audience (default: Gatehouse's issuer), `exp` and `iat`
 *   present and the lifetime within `maxSubjectTokenLifetimeSeconds`, `sub` present; the subject
 *   becomes `<subjectPrefix>:<sub>` (every external issuer has a prefix, so no external subject
 *   is ever a local user's).
 *
 * Every refusal is `invalid_grant` with one description; the failed check is the `reason` slug,
 * never the token's content.
 */
import { decodeJwt } from 'jose'
import type { ResolvedConfig } from '../config/schema.js'
import { parseScope } from '../contract/scopes.js'
import { isLoopbackHost } from '../config/urls.js'
import { OAuthError } from '../errors.js'
import type { GuardedTransport } from '../http/guarded-fetch.js'
import { JWKSCache } from '../jwt/jwks-cache.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import { JWTVerifier } from '../jwt/verifier.js'
import type { TokenVerifier } from '../jwt/access-token.js'
import type { Grants } from './grant-store.js'

/** RFC 8693 §3 token type identifiers. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

/** A presented token that passed every check. */
export interface PresentedToken {
  /** Gatehouse's issuer for its own tokens, else the external issuer. */
  issuer: string
  /** `sub`, after the issuer's `subjectPrefix` when one is set. */
  subject: string
  /** `sub` as the issuer wrote it (its own namespace), for `act` and `may_act` next to `issuer`. */
  issuedSubject: string
  /** The scopes it carries (`scope`, space-separated), possibly empty. */
  scopes: string[]
  /** Seconds since the epoch. */
  expiresAt: number
  /** Whether Gatehouse issued it. */
  own: boolean
  /** For Gatehouse tokens, the asserting IdP (`idp`) when there was one; roles when carried. */
  identityProvider?: string
  roles?: string[]
  /** For Gatehouse tokens from a proxy sign-in: the user at the IdP (`upstream` claim). */
  upstream?: { issuer: string; tenantId?: string; objectId?: string }
  /** RFC 8693 §4.1 and §4.4: `act` and `may_act`, as the token carries them. */
  act?: Record<string, unknown>
  mayAct?: Record<string, unknown>
}

export interface SubjectTokenOptions {
  config: ResolvedConfig
  /** Gatehouse's own token verifier. */
  ownTokens: TokenVerifier
  grants: Grants
  now: () => number
  fetch?: typeof fetch
  transport?: GuardedTransport
  signatureVerifier?: SignatureVerifierFactory
}

/** Verifies subject and actor tokens for one Gatehouse; see the module comment. */
export class SubjectTokenVerifier {
  readonly #config: ResolvedConfig
  readonly #own: TokenVerifier | undefined
  readonly #grants: Grants
  readonly #now: () => number
  readonly #maxLifetime: number
  readonly #external = new Map<string, { verifier: JWTVerifier; prefix?: string }>()

  constructor(options: SubjectTokenOptions) {
    const settings = options.config.tokenExchange
    if (!settings) throw new TypeError('tokenExchange is not configured')
    this.#config = options.config
    this.#own = settings.acceptOwnTokens ? options.ownTokens : undefined
    this.#grants = options.grants
    this.#now = options.now
    this.#maxLifetime = settings.maxSubjectTokenLifetimeSeconds
    for (const trusted of settings.trustedIssuers) {
      this.#external.set(trusted.issuer, {
        verifier: externalVerifier(trusted, trusted.audience ?? options.config.issuer, options),
        ...(trusted.subjectPrefix !== undefined ? { prefix: trusted.subjectPrefix } : {}),
      })
    }
  }

  /**
   * Verifies `token` of `type` (an RFC 8693 token type URI). `invalid_request` for a type not
   * accepted here; `invalid_grant` for a token that fails a check; `UpstreamError` passes through
   * when an issuer's keys cannot be loaded.
   */
  async verify(token: string, type: string, role: 'subject' | 'actor'): Promise<PresentedToken> {
    if (type !== ACCESS_TOKEN_TYPE && type !== JWT_TOKEN_TYPE) {
      throw new OAuthError('invalid_request', `the ${role}_token_type is not supported`, {
        reason: `exchange_${role}_token_type`,
      })
    }
    let iss: unknown
    try {
      iss = decodeJwt(token).iss
    } catch {
      throw refused(role, 'malformed')
    }
    if (iss === this.#config.issuer) return this.#verifyOwn(token, role)
    // `access_token` means Gatehouse's own tokens: other servers' access tokens are not for us.
    if (type === ACCESS_TOKEN_TYPE) throw refused(role, 'foreign_access_token')
    const trusted = typeof iss === 'string' ? this.#external.get(iss) : undefined
    if (!trusted) throw refused(role, 'untrusted_issuer')
    let verified
    try {
      verified = await trusted.verifier.verify(token)
    } catch (error) {
      if (error instanceof OAuthError) throw refused(role, error.reason ?? 'jwt_invalid')
      throw error
    }
    const { claims } = verified
    // A sender-constrained token (RFC 9449 / RFC 8705 `cnf`) is usable only with its key: an
    // exchange would strip the constraint, so such tokens are never exchanged.
    if (claims.cnf !== undefined) throw refused(role, 'sender_constrained')
    const { exp, iat, sub } = claims
    const nowSeconds = this.#now() / 1000
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw refused(role, 'no_exp')
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refused(role, 'no_iat')
    const tolerance = this.#config.clockToleranceSeconds
    if (exp - iat > this.#maxLifetime || exp - nowSeconds > this.#maxLifetime + tolerance) {
      throw refused(role, 'lifetime_too_long')
    }
    if (typeof sub !== 'string' || sub === '') throw refused(role, 'no_sub')
    return {
      issuer: verified.issuer ?? String(iss),
      subject: trusted.prefix === undefined ? sub : `${trusted.prefix}:${sub}`,
      issuedSubject: sub,
      scopes: scopeClaim(claims.scope, role),
      expiresAt: exp,
      own: false,
      ...delegation(claims, role, {
        external: verified.issuer ?? String(iss),
        own: this.#config.issuer,
      }),
    }
  }

  async #verifyOwn(token: string, role: 'subject' | 'actor'): Promise<PresentedToken> {
    if (!this.#own) throw refused(role, 'own_tokens_not_accepted')
    const verified = await this.#own.verifyToken(token)
    if (!verified?.subject || verified.expiresAt === undefined) throw refused(role, 'own_invalid')
    // The cached liveness may be up to `revocationCheckSeconds` old: read the store now.
    if (verified.grantId === undefined || !(await this.#grants.isActiveNow(verified.grantId))) {
      throw refused(role, 'grant_revoked')
    }
    const { claims } = verified
    // A DPoP-bound Gatehouse token is usable only with its key: never exchanged for an unbound one.
    if (claims.cnf !== undefined) throw refused(role, 'sender_constrained')
    return {
      issuer: this.#config.issuer,
      subject: verified.subject,
      issuedSubject: verified.subject,
      scopes: [...verified.scopes],
      expiresAt: verified.expiresAt,
      own: true,
      ...(typeof claims.idp === 'string' ? { identityProvider: claims.idp } : {}),
      ...(verified.roles ? { roles: [...verified.roles] } : {}),
      ...(verified.upstream
        ? {
            upstream: {
              issuer: verified.upstream.issuer,
              ...(verified.upstream.tenantId !== undefined
                ? { tenantId: verified.upstream.tenantId }
                : {}),
              ...(verified.upstream.objectId !== undefined
                ? { objectId: verified.upstream.objectId }
                : {}),
            },
          }
        : {}),
      ...delegation(claims, role),
    }
  }
}

function externalVerifier(
  trusted: NonNullable<ResolvedConfig['tokenExchange']>['trustedIssuers'][number],
  audience: string,
  options: SubjectTokenOptions,
): JWTVerifier {
  const jwksCache = new JWKSCache({
    now: options.now,
    maxIssuers: 1,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.transport ? { transport: options.transport } : {}),
    // Key URLs are configuration, never request input: loopback http is the operator's choice.
    allowHttpLoopback: keyURLIsLoopback(trusted),
    dangerouslyAllowPrivateNetwork: trusted.allowPrivateNetwork,
  })
  return new JWTVerifier({
    issuer: trusted.issuer,
    audience,
    allowExtraAudiences: true,
    ...(trusted.algorithms ? { algorithms: [...trusted.algorithms] } : {}),
    jwksUri: trusted.jwksUri,
    discoveryUrl: trusted.discoveryUrl,
    jwks: trusted.jwks,
    jwksCache,
    cache: false,
    clockToleranceSeconds: options.config.clockToleranceSeconds,
    now: options.now,
    ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
  })
}

/** Longest delegation chain (`act` nesting) a token may carry. */
export const MAX_ACTOR_DEPTH = 5

/**
 * `act` and `may_act` when they are JSON objects with a string `sub` (RFC 8693 §4.1, §4.4); an
 * `act` at most `MAX_ACTOR_DEPTH` deep. An external token's `act` (`external`: its issuer) speaks
 * for its own issuer only: each level without `iss` gets that issuer, since once Gatehouse issues
 * the new token a level without `iss` would read as one of Gatehouse's users (RFC 8693 §4.1:
 * `sub` is relative to the issuer), and a level naming Gatehouse (`own`) as its issuer is refused.
 */
function delegation(
  claims: Readonly<Record<string, unknown>>,
  role: 'subject' | 'actor',
  issuers?: { external: string; own: string },
): Pick<PresentedToken, 'act' | 'mayAct'> {
  const out: Pick<PresentedToken, 'act' | 'mayAct'> = {}
  for (const [name, field] of [
    ['act', 'act'],
    ['may_act', 'mayAct'],
  ] as const) {
    const value = claims[name]
    if (value === undefined) continue
    if (!isActor(value)) throw refused(role, `bad_${name}`)
    if (name === 'act' && actDepth(value) > MAX_ACTOR_DEPTH) throw refused(role, 'act_too_deep')
    out[field] = name === 'act' && issuers !== undefined ? issuedBy(value, issuers, role) : value
  }
  return out
}

/** How many levels an `act` chain has (`act` within `act`). */
export function actDepth(act: Record<string, unknown>): number {
  let n = 0
  let current: unknown = act
  while (typeof current === 'object' && current !== null) {
    n++
    current = (current as Record<string, unknown>).act
  }
  return n
}

/** An external `act` with every level's `iss` explicit, none of them Gatehouse. */
function issuedBy(
  level: Record<string, unknown>,
  issuers: { external: string; own: string },
  role: 'subject' | 'actor',
): Record<string, unknown> {
  const iss = typeof level.iss === 'string' ? level.iss : issuers.external
  if (iss === issuers.own) throw refused(role, 'bad_act')
  const nested = level.act as Record<string, unknown> | undefined
  return {
    ...level,
    iss,
    ...(nested !== undefined ? { act: issuedBy(nested, issuers, role) } : {}),
  }
}

/** An `act`/`may_act` value: an object whose `sub` (and `iss`, when present) are strings. */
export function isActor(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const record = value as Record<string, unknown>
  if (typeof record.sub !== 'string') return false
  if (record.iss !== undefined && typeof record.iss !== 'string') return false
  return record.act === undefined || isActor(record.act)
}

/** The token's `scope`: RFC 6749 §3.3 scope tokens only, as Gatehouse would sign them again. */
function scopeClaim(claim: unknown, role: 'subject' | 'actor'): string[] {
  if (claim === undefined) return []
  if (typeof claim !== 'string') throw refused(role, 'bad_scope')
  try {
    return parseScope(claim)
  } catch {
    throw refused(role, 'bad_scope')
  }
}

function refused(role: 'subject' | 'actor', reason: string): OAuthError {
  return new OAuthError('invalid_grant', `the ${role} token is not valid for this exchange`, {
    reason: `exchange_${role}_${reason}`,
  })
}

function keyURLIsLoopback(t: { jwksUri?: string | undefined; discoveryUrl?: string | undefined }) {
  const url = t.jwksUri ?? t.discoveryUrl
  return url !== undefined && isLoopbackHost(new URL(url).hostname)
}
