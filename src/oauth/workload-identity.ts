/**
 * Workload identity federation: a platform token (Kubernetes service-account token, SPIFFE
 * JWT-SVID, GitHub Actions OIDC token) authenticates a client with no secret and no key of its
 * own. It is RFC 7523 §2.2 client authentication (`client_assertion_type=urn:ietf:params:oauth:
 * client-assertion-type:jwt-bearer`) with the platform token as the assertion, whose issuer is a
 * third party (RFC 7521 §5.1), for a client that `workloadIdentity.policies` names — the shape
 * Entra's federated credentials and Google's workload identity federation use. The client then
 * uses any grant it registered: `client_credentials` (a token for the workload) or token exchange.
 *
 * Rules, in order (every refusal is `invalid_client`; the reason is a slug, never token content):
 * 1. An assertion whose `iss` is the client id is the client's own `private_key_jwt`: the usual
 *    verifier handles it. Otherwise the policies for this client with exactly that `iss` apply;
 *    none: refused before any key is fetched.
 * 2. Signature by the issuer's keys (JWKS or discovery, cached; asymmetric algorithms only), `aud`
 *    the policy's audience (default Gatehouse's issuer) and no other, `exp` required, `nbf`/`iat`
 *    not in the future, lifetime (`exp - iat`, and `exp` from now) within
 *    `maxTokenLifetimeSeconds`.
 * 3. `sub` matches the policy's subject (exact, or a glob: `*` within a `:`/`/` segment, `**`
 *    across), and each of the policy's `claims` equals the token's exactly. The first policy that
 *    matches applies.
 * 4. A token with a `jti` is single use: claimed once per (issuer, jti) in the shared store until
 *    it expires, so a replay fails on every instance. (A token without `jti`, as SPIFFE JWT-SVIDs
 *    often are, is bounded by its short `exp` only.)
 * 5. The policy's `scopes`, when set, narrow what the client may be granted (its registered
 *    `scope` for this request).
 */
import { decodeJwt } from 'jose'
import type { ResolvedConfig } from '../config/schema.js'
import type { WorkloadIdentityConfig } from '../config/token-exchange-schema.js'
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
import type { ClientAssertionVerifier } from './client-assertion.js'

type Policy = WorkloadIdentityConfig['policies'][number]

export interface WorkloadIdentityOptions {
  config: ResolvedConfig
  store: Store
  now: () => number
  /** The verifier of clients' own `private_key_jwt` assertions, for everything else. */
  own?: ClientAssertionVerifier
  fetch?: typeof fetch
  transport?: GuardedTransport
  signatureVerifier?: SignatureVerifierFactory
}

/** A client-assertion verifier that also accepts platform tokens under trust policies. */
export function createWorkloadIdentityVerifier(
  options: WorkloadIdentityOptions,
): ClientAssertionVerifier {
  const settings = options.config.workloadIdentity
  if (!settings) throw new TypeError('workloadIdentity is not configured')
  const caches = new Map<string, JWKSCache>()
  const policies = settings.policies.map((policy) => {
    let cache = caches.get(policy.issuer)
    if (!cache) {
      cache = new JWKSCache({
        now: options.now,
        maxIssuers: 1,
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.transport ? { transport: options.transport } : {}),
        // Key URLs are configuration, never request input: loopback http is the operator's choice.
        allowHttpLoopback: keyURLIsLoopback(policy),
        dangerouslyAllowPrivateNetwork: policy.allowPrivateNetwork,
      })
      caches.set(policy.issuer, cache)
    }
    return { policy, matches: subjectMatcher(policy.subject), verifier: verifierFor(policy, cache) }
  })
  const maxLifetime = settings.maxTokenLifetimeSeconds
  const tolerance = options.config.clockToleranceSeconds

  return {
    async verify(assertion, client) {
      let iss: unknown
      try {
        iss = decodeJwt(assertion).iss
      } catch {
        throw fail('assertion_malformed')
      }
      if (iss === client.client_id || typeof iss !== 'string') {
        if (!options.own) throw fail('assertion_unsupported')
        return options.own.verify(assertion, client)
      }
      const candidates = policies.filter(
        (p) => p.policy.clientId === client.client_id && p.policy.issuer === iss,
      )
      if (candidates.length === 0) throw fail('workload_untrusted_issuer')
      let reason = 'workload_no_policy'
      for (const candidate of candidates) {
        let claims: Readonly<Record<string, unknown>>
        try {
          claims = (await candidate.verifier.verify(assertion)).claims
        } catch (error) {
          reason = `workload_${error instanceof OAuthError ? (error.reason ?? 'jwt_invalid') : 'keys_unavailable'}`
          continue
        }
        const nowSeconds = options.now() / 1000
        const { exp, iat, sub, jti } = claims
        if (typeof exp !== 'number' || !Number.isFinite(exp)) throw fail('workload_no_exp')
        if (exp - nowSeconds > maxLifetime + tolerance) throw fail('workload_lifetime')
        if (iat !== undefined && (typeof iat !== 'number' || exp - iat > maxLifetime)) {
          throw fail('workload_lifetime')
        }
        if (typeof sub !== 'string' || !candidate.matches(sub)) {
          reason = 'workload_subject'
          continue
        }
        const claimsOk = Object.entries(candidate.policy.claims).every(([k, v]) => claims[k] === v)
        if (!claimsOk) {
          reason = 'workload_claims'
          continue
        }
        if (jti !== undefined) {
          if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw fail('workload_jti')
          const key = storageKey.workloadJti(await sha256(`${iss}\n${jti}`))
          const ttlSeconds = Math.max(1, Math.ceil(exp + tolerance - nowSeconds))
          if (!(await claimOnce(options.store, key, ttlSeconds))) {
            throw fail('workload_replay')
          }
        }
        const scopes = candidate.policy.scopes
        return scopes === undefined ? undefined : { scope: scopes.join(' ') }
      }
      throw fail(reason)
    },
  }

  function verifierFor(policy: Policy, jwksCache: JWKSCache): JWTVerifier {
    return new JWTVerifier({
      issuer: policy.issuer,
      audience: policy.audience ?? options.config.issuer,
      ...(policy.algorithms ? { algorithms: [...policy.algorithms] } : {}),
      jwksUri: policy.jwksUri,
      discoveryUrl: policy.discoveryUrl,
      jwks: policy.jwks,
      jwksCache,
      cache: false,
      clockToleranceSeconds: options.config.clockToleranceSeconds,
      now: options.now,
      ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
    })
  }
}

/**
 * The policy's subject as a predicate: exact, or a glob where `*` matches a run of characters
 * other than `:` and `/`, and `**` any run. Every other character matches itself.
 */
export function subjectMatcher(pattern: string): (subject: string) => boolean {
  if (!pattern.includes('*')) return (subject) => subject === pattern
  const source = pattern
    .split(/(\*\*|\*)/)
    .map((part) =>
      part === '**' ? '.*' : part === '*' ? '[^:/]*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('')
  const regex = new RegExp(`^${source}$`, 's')
  return (subject) => regex.test(subject)
}

function fail(reason: string): OAuthError {
  return new OAuthError('invalid_client', 'client authentication failed', { reason })
}

function keyURLIsLoopback(t: { jwksUri?: string | undefined; discoveryUrl?: string | undefined }) {
  const url = t.jwksUri ?? t.discoveryUrl
  return url !== undefined && isLoopbackHost(new URL(url).hostname)
}
