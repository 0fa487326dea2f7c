/**
 * SEP-990 identity assertions: the checks an ID-JAG (Identity Assertion JWT Authorization Grant,
 * draft-ietf-oauth-identity-assertion-authz-grant) must pass before Gatehouse issues a token for it.
 *
 * RFC 7523 §3 and the ID-JAG processing rules, in order: the `iss` is one of the configured
 * trusted issuers (an unknown issuer causes no key fetch); signature by that issuer's key (JWKS
 * cache), asymmetric algorithms only; header `typ` `oauth-id-jag+jwt`; `aud` exactly this
 * server's issuer (a string, or an array of that one value); `exp` in the future and no further
 * than the maximum lifetime; `iat` present and not in the future; `sub`, `jti` and `client_id`
 * present; `client_id` equal to the authenticated client; no `cnf` (a key-bound ID-JAG is not
 * honoured); `act`, when present, well formed, at most five deep and never naming the subject
 * (each level without `iss` gets the ID-JAG's); `resource` (one URI, or an array of URIs per
 * draft -04) naming at least one of this server's resources: the others are left out (the draft
 * lets the server grant a subset), a value with dot segments refuses the whole assertion. Last,
 * the `jti` is claimed once in the shared store for as long as the assertion lives, so a replay
 * fails on every instance.
 *
 * Every refusal is `invalid_grant` with the same description; the failed check is the error's
 * `reason` (for logs and the `onError` hook) and never names the assertion's content.
 */
import { decodeJwt } from 'jose'
import type { ResolvedConfig, ResolvedResource } from '../config/schema.js'
import { isLoopbackHost } from '../config/urls.js'
import { OAuthError } from '../errors.js'
import type { GuardedTransport } from '../http/guarded-fetch.js'
import { sha256 } from '../http/random.js'
import { JWKSCache } from '../jwt/jwks-cache.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import { JWTVerifier } from '../jwt/verifier.js'
import { claimOnce } from '../storage/claim-once.js'
import { storageKey } from '../storage/keys.js'
import type { Store } from '../storage/store.js'
import { resolveResource } from '../contract/resource-indicators.js'
import { parseScope } from '../contract/scopes.js'
import type { OAuthClientInformation } from '../contract/types.js'
import { isActor } from './subject-token.js'
import { MAX_ACTOR_DEPTH } from './token-exchange.js'

/** The ID-JAG media type (draft §3). */
export const ID_JAG_TYP = 'oauth-id-jag+jwt'
/** The profile identifier advertised in `authorization_grant_profiles_supported` (draft -04 §7.2). */
export const ID_JAG_PROFILE = 'urn:ietf:params:oauth:grant-profile:id-jag'

/** What a valid ID-JAG establishes. */
export interface VerifiedAssertion {
  /** The enterprise IdP that asserted the user (`iss`). */
  issuer: string
  /** The user at that IdP: its `sub`, after the issuer's `subjectPrefix` when one is set. */
  subject: string
  /** This server's resources among those the ID-JAG names (at least one, in claim order). */
  resources: ResolvedResource[]
  /** The scopes the ID-JAG delegates (`scope`), possibly empty. */
  scopes: string[]
  /** Identity claims worth keeping with the grant (`email`, `tenant`, `acr`, `amr`, `auth_time`). */
  claims: Record<string, unknown>
  /**
   * The ID-JAG's `act` (draft -04 §3.1, RFC 8693 §4.1): who acts for the subject, each level
   * without an `iss` qualified with the ID-JAG's issuer (its namespace). Absent when none.
   */
  actor?: Record<string, unknown>
}

export interface IdentityAssertionOptions {
  config: ResolvedConfig
  store: Store
  now: () => number
  fetch?: typeof fetch
  /** Checks resolved addresses and pins connections (Node: `createNodeTransport`). */
  transport?: GuardedTransport
  signatureVerifier?: SignatureVerifierFactory
}

const KEPT_CLAIMS = ['email', 'tenant', 'acr', 'amr', 'auth_time'] as const

/** Validates ID-JAGs for one Gatehouse; see the module comment for the rules. */
export class IdentityAssertionVerifier {
  readonly #config: ResolvedConfig
  readonly #store: Store
  readonly #now: () => number
  readonly #maxLifetime: number
  readonly #verifiers = new Map<string, JWTVerifier>()
  readonly #prefixes = new Map<string, string>()

  constructor(options: IdentityAssertionOptions) {
    const settings = options.config.identityAssertion
    if (!settings) throw new TypeError('identityAssertion is not configured')
    this.#config = options.config
    this.#store = options.store
    this.#now = options.now
    this.#maxLifetime = settings.maxAssertionLifetimeSeconds
    for (const trusted of settings.trustedIssuers) {
      if (trusted.subjectPrefix !== undefined) {
        this.#prefixes.set(trusted.issuer, trusted.subjectPrefix)
      }
      const jwksCache = new JWKSCache({
        now: options.now,
        maxIssuers: 1,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.transport ? { transport: options.transport } : {}),
        // Key URLs are configuration, never request input: loopback http is the operator's choice.
        allowHttpLoopback: keyURLIsLoopback(trusted),
        dangerouslyAllowPrivateNetwork: trusted.allowPrivateNetwork,
      })
      this.#verifiers.set(
        trusted.issuer,
        new JWTVerifier({
          issuer: trusted.issuer,
          audience: options.config.issuer,
          typ: ID_JAG_TYP,
          ...(trusted.algorithms ? { algorithms: [...trusted.algorithms] } : {}),
          jwksUri: trusted.jwksUri,
          discoveryUrl: trusted.discoveryUrl,
          jwks: trusted.jwks,
          jwksCache,
          cache: false,
          clockToleranceSeconds: options.config.clockToleranceSeconds,
          now: options.now,
          ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
        }),
      )
    }
  }

  /**
   * Checks `assertion` for `client`, lets `decide` apply the request's own rules (it throws to
   * refuse), then claims the `jti` and returns what `decide` returned: a request refused for any
   * reason leaves the assertion unspent. Throws `OAuthError` `invalid_grant` for an invalid
   * assertion and lets `UpstreamError` through when a trusted issuer's keys cannot be loaded (a
   * temporary failure, not a verdict on the assertion).
   */
  async verify<T>(
    assertion: string,
    client: OAuthClientInformation,
    decide: (verified: VerifiedAssertion) => T,
  ): Promise<T> {
    const { decision, replay } = await this.check(assertion, client, decide)
    if (!(await claimOnce(this.#store, replay.key, replay.ttlSeconds))) {
      throw replayRefusal()
    }
    return decision
  }

  /**
   * {@link verify} without spending the assertion: returns the decision and the replay claim for
   * the caller to write in the same atomic step as what the assertion buys (`Store.commit` with
   * `absent: [replay.key]` and the key set for `replay.ttlSeconds`), so that a request that fails
   * after the checks, a storage fault included, leaves the `jti` unspent. When the step finds the
   * key present, refuse with {@link replayRefusal}.
   */
  async check<T>(
    assertion: string,
    client: OAuthClientInformation,
    decide: (verified: VerifiedAssertion) => T,
  ): Promise<{ decision: T; replay: ReplayClaim }> {
    let unverifiedIssuer: unknown
    try {
      unverifiedIssuer = decodeJwt(assertion).iss
    } catch {
      throw refused('malformed')
    }
    const verifier =
      typeof unverifiedIssuer === 'string' ? this.#verifiers.get(unverifiedIssuer) : undefined
    if (!verifier) throw refused('untrusted_issuer')
    let verified
    try {
      verified = await verifier.verify(assertion)
    } catch (error) {
      if (error instanceof OAuthError) throw refused(error.reason ?? 'jwt_invalid')
      throw error
    }
    const claims = verified.claims
    const nowSeconds = this.#now() / 1000
    const tolerance = this.#config.clockToleranceSeconds
    const { exp, iat, jti, sub } = claims
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refused('no_iat')
    if (typeof exp !== 'number') throw refused('no_exp')
    if (exp - iat > this.#maxLifetime || exp - nowSeconds > this.#maxLifetime + tolerance) {
      throw refused('lifetime_too_long')
    }
    if (typeof sub !== 'string' || sub === '') throw refused('no_sub')
    if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw refused('no_jti')
    if (typeof claims.client_id !== 'string') throw refused('no_client_id')
    if (claims.client_id !== client.client_id) throw refused('client_mismatch')
    if (claims.cnf !== undefined) throw refused('sender_constrained')
    // RAR in an ID-JAG must be processed (draft §4.4.1); Gatehouse cannot, so it refuses rather
    // than issue a token that ignores the restrictions the IdP expressed.
    if (claims.authorization_details !== undefined) throw refused('authorization_details')
    if (Array.isArray(claims.aud) && claims.aud.length !== 1) throw refused('wrong_audience')
    const kept: Record<string, unknown> = {}
    for (const name of KEPT_CLAIMS) if (claims[name] !== undefined) kept[name] = claims[name]
    const issuer = verified.issuer ?? ''
    const prefix = this.#prefixes.get(issuer)
    const actor = claims.act === undefined ? undefined : actorOf(claims.act, sub, issuer)
    const decision = decide({
      issuer,
      subject: prefix === undefined ? sub : `${prefix}:${sub}`,
      resources: this.#resourcesOf(claims.resource),
      scopes: parseScopeClaim(claims.scope),
      claims: kept,
      ...(actor !== undefined ? { actor } : {}),
    })

    // Replay (RFC 7523 §3 item 7): one atomic claim per (issuer, jti), kept until the assertion
    // could no longer pass the expiry check anywhere.
    const ttlSeconds = Math.max(1, Math.ceil(exp + tolerance - nowSeconds))
    const key = storageKey.identityAssertionJti(await sha256(`${verified.issuer ?? ''}\n${jti}`))
    return { decision, replay: { key, ttlSeconds } }
  }

  #resourcesOf(claim: unknown): ResolvedResource[] {
    // The MCP profile requires the resource; draft -04 allows one URI or an array of URIs.
    const values: unknown[] = Array.isArray(claim) ? claim : [claim]
    if (values.length === 0 || values.some((v) => typeof v !== 'string')) {
      throw refused('no_resource')
    }
    const ours: ResolvedResource[] = []
    for (const value of values as string[]) {
      try {
        const resource = resolveResource(value, this.#config)
        if (!ours.some((r) => r.url === resource.url)) ours.push(resource)
      } catch (error) {
        if (error instanceof OAuthError && error.reason === 'resource_dot_segment') {
          throw refused('resource_dot_segment')
        }
      }
    }
    if (ours.length === 0) throw refused('unknown_resource')
    return ours
  }
}

/** Where an ID-JAG's `jti` is claimed, and for how long (until it could no longer pass `exp`). */
export interface ReplayClaim {
  key: string
  ttlSeconds: number
}

/** The refusal for an ID-JAG whose `jti` was already spent (RFC 7523 §3 item 7). */
export function replayRefusal(): OAuthError {
  return refused('jti_replay')
}

function refused(reason: string): OAuthError {
  return new OAuthError('invalid_grant', 'the identity assertion is not valid for this server', {
    reason: `id_jag_${reason}`,
  })
}

/**
 * The ID-JAG's `act`, checked and qualified. Draft -04 defines `act` as RFC 8693 §4.1's actor
 * claim and asks (§8.5) that the actor stay distinct from the resource owner (`sub`) and that the
 * authenticated client not stand in for it. So: a JSON object with a string `sub` (and a string
 * `iss` when present) at every level, at most `MAX_ACTOR_DEPTH` deep, no level naming the subject
 * itself; each level without `iss` gets the ID-JAG's issuer, whose namespace its `sub` is in.
 */
function actorOf(claim: unknown, sub: string, issuer: string): Record<string, unknown> {
  if (!isActor(claim)) throw refused('bad_act')
  let depth = 0
  const qualify = (level: Record<string, unknown>): Record<string, unknown> => {
    depth++
    if (depth > MAX_ACTOR_DEPTH) throw refused('act_too_deep')
    const iss = typeof level.iss === 'string' ? level.iss : issuer
    if (level.sub === sub && iss === issuer) throw refused('act_is_subject')
    const nested = level.act as Record<string, unknown> | undefined
    return { ...level, iss, ...(nested !== undefined ? { act: qualify(nested) } : {}) }
  }
  return qualify(claim)
}

function parseScopeClaim(claim: unknown): string[] {
  if (claim === undefined) return []
  if (typeof claim !== 'string') throw refused('bad_scope')
  try {
    return parseScope(claim)
  } catch {
    throw refused('bad_scope')
  }
}

function keyURLIsLoopback(t: { jwksUri?: string | undefined; discoveryUrl?: string | undefined }) {
  const url = t.jwksUri ?? t.discoveryUrl
  return url !== undefined && isLoopbackHost(new URL(url).hostname)
}
