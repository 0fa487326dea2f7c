/**
 * DPoP proof checking (RFC 9449 §4.3), shared by the token endpoint and the resource guard. Web
 * Crypto and jose only. The caller says what the proof must match (method, URL, access token,
 * nonce) and how to spend a `jti` (a store port, so replay is refused across instances); the
 * answer is the proof's key thumbprint (RFC 7638) or the RFC's error code with an internal reason.
 *
 * Checks, in order (a failure stops at the first; nothing is spent before the last):
 * 1. exactly one `DPoP` header, one compact JWS of bounded size;
 * 2. header: `typ` `dpop+jwt`, `alg` asymmetric and on the allow-list (never `none` or HMAC),
 *    `jwk` a public RSA/EC/OKP key with no private or symmetric member;
 * 3. the signature verifies with that `jwk`;
 * 4. claims: `jti` (string), `htm` equal to the request method, `htu` equal to the request URL
 *    without query and fragment (after RFC 3986 scheme-based normalisation), `iat` within
 *    [now - maxAge, now + tolerance];
 * 5. with an access token: `ath` = base64url(SHA-256(token));
 * 6. with nonces on: a nonce the server issued and still accepts (else `use_dpop_nonce`);
 * 7. the `jti` was not used before by this key (spent now, remembered until the proof is stale).
 */
import { sha256 } from '../http/random.js'
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify } from 'jose'
import type { JWK, JWTPayload } from 'jose'
import type { DPoPNonces } from './dpop-nonce.js'

/** Largest proof accepted (bytes of the header value); an RSA-4096 proof is about 1.5 KB. */
const MAX_PROOF = 8192
/** Longest `jti` accepted. */
const MAX_JTI = 256
/** JWK members that only private or symmetric keys have (RFC 7518 §6). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const
const KEY_TYPES = new Set(['RSA', 'EC', 'OKP'])

/** What the proof must match and how its `jti` is spent. */
export interface DPoPProofOptions {
  /** Accepted `alg` values (asymmetric only; anything else is refused regardless). */
  algorithms: readonly string[]
  /** The request's method (`htm`). */
  method: string
  /** The request's URL (`htu`); its query and fragment are ignored, as the proof's are. */
  url: string
  /** The access token the proof accompanies (resource requests): `ath` is then required. */
  accessToken?: string
  /** How old `iat` may be, in seconds. */
  maxAgeSeconds: number
  /** How far `iat` may lie in the future, in seconds. */
  clockToleranceSeconds: number
  /** Milliseconds since the epoch. */
  now: () => number
  /** Present when a server nonce is required: whether `nonce` is one the server still accepts. */
  checkNonce?: (nonce: string) => Promise<boolean>
  /**
   * Records the proof's replay key for `ttlSeconds`; `true` when it was not recorded before
   * (atomic, shared by every instance: `Store.setIfAbsent`).
   */
  spendJti: (key: string, ttlSeconds: number) => Promise<boolean>
}

/**
 * What both sides share: the accepted algorithms, the `iat` window, the replay port and, when
 * nonces are on anywhere, the nonce source. Built once per server (`createDPoPPolicy`).
 */
export interface DPoPPolicy {
  readonly algorithms: readonly string[]
  readonly maxAgeSeconds: number
  readonly clockToleranceSeconds: number
  readonly now: () => number
  readonly spendJti: DPoPProofOptions['spendJti']
  /** Present when nonces are on at the token endpoint or at some resource. */
  readonly nonces?: DPoPNonces
  /** Whether the token endpoint requires nonces. */
  readonly nonceAtToken: boolean
}

/**
 * Checks `request`'s `DPoP` header under `policy` for `url` (the URL the server is known by,
 * not the Host header), `accessToken` (resource requests) and `nonce` (required or not).
 */
export function verifyRequestProof(
  request: Request,
  policy: DPoPPolicy,
  target: { url: string; accessToken?: string; nonce: boolean },
): Promise<DPoPProofResult> {
  const nonces = policy.nonces
  // Fail closed: a nonce that is required but cannot be checked is a configuration bug.
  if (target.nonce && !nonces) throw new TypeError('DPoP nonces are required but not configured')
  return verifyDPoPProof(request.headers.get('dpop'), {
    algorithms: policy.algorithms,
    method: request.method,
    url: target.url,
    ...(target.accessToken !== undefined ? { accessToken: target.accessToken } : {}),
    maxAgeSeconds: policy.maxAgeSeconds,
    clockToleranceSeconds: policy.clockToleranceSeconds,
    now: policy.now,
    ...(target.nonce && nonces ? { checkNonce: (n: string) => nonces.check(n) } : {}),
    spendJti: policy.spendJti,
  })
}

/** A proof that passed every check. */
export interface VerifiedDPoPProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key (the token's `cnf.jkt`). */
  jkt: string
  /** The proof's public key. */
  jwk: JWK
  /** The proof's `alg`. */
  alg: string
}

/** The RFC 9449 error codes a proof can earn. */
export type DPoPProofErrorCode = 'invalid_dpop_proof' | 'use_dpop_nonce'

/** The outcome: the verified proof, or the error code, a safe description and a log reason. */
export type DPoPProofResult =
  | { readonly ok: true; readonly proof: VerifiedDPoPProof }
  | {
      readonly ok: false
      readonly code: DPoPProofErrorCode
      readonly description: string
      /** Snake_case slug for logs and metrics; never sent. */
      readonly reason: string
    }

/**
 * Checks the `DPoP` header value `header` (as `Headers.get` returns it: `null` when absent,
 * several headers joined by `, `) against `options`. Never throws for a bad proof; rejects only
 * when `spendJti` or `checkNonce` cannot answer (a store fault: nothing was accepted).
 */
export async function verifyDPoPProof(
  header: string | null,
  options: DPoPProofOptions,
): Promise<DPoPProofResult> {
  const bad = (reason: string, description = 'the DPoP proof is invalid'): DPoPProofResult => ({
    ok: false,
    code: 'invalid_dpop_proof',
    description,
    reason,
  })
  if (header === null) return bad('dpop_missing', 'a DPoP proof is required')
  // A JWS holds no ',' or space: either means several headers (RFC 9449 §4.3 check 1).
  if (header === '' || /[\s,]/.test(header)) return bad('dpop_not_one_header')
  if (header.length > MAX_PROOF) return bad('dpop_too_large')
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(header)) {
    return bad('dpop_syntax')
  }

  let protectedHeader: ReturnType<typeof decodeProtectedHeader>
  try {
    protectedHeader = decodeProtectedHeader(header)
  } catch {
    return bad('dpop_header_syntax')
  }
  const { typ, alg, jwk } = protectedHeader
  if (typeof typ !== 'string' || typ.toLowerCase() !== 'dpop+jwt') return bad('dpop_typ')
  if (typeof alg !== 'string' || !isAsymmetric(alg) || !options.algorithms.includes(alg)) {
    return bad('dpop_alg', 'the DPoP proof algorithm is not accepted')
  }
  const keyProblem = publicKeyProblem(jwk)
  if (keyProblem !== undefined) return bad(keyProblem)

  let payload: JWTPayload
  try {
    // jose checks the signature with the embedded key and refuses a key that is not public.
    ;({ payload } = await jwtVerify(header, EmbeddedJWK, {
      algorithms: [alg],
      typ: 'dpop+jwt',
      currentDate: new Date(options.now()),
      clockTolerance: options.clockToleranceSeconds,
    }))
  } catch {
    return bad('dpop_signature')
  }

  const { jti, htm, htu, iat } = payload
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) return bad('dpop_jti')
  if (typeof htm !== 'string' || htm !== options.method) return bad('dpop_htm')
  if (typeof htu !== 'string' || !sameTarget(htu, options.url)) return bad('dpop_htu')
  if (typeof iat !== 'number' || !Number.isFinite(iat)) return bad('dpop_iat')
  const nowSeconds = options.now() / 1000
  if (iat > nowSeconds + options.clockToleranceSeconds) return bad('dpop_iat_future')
  if (iat < nowSeconds - options.maxAgeSeconds) return bad('dpop_iat_stale')

  if (options.accessToken !== undefined) {
    const expected = await sha256(options.accessToken)
    if (typeof payload.ath !== 'string' || payload.ath !== expected) return bad('dpop_ath')
  }

  if (options.checkNonce) {
    const nonce = payload.nonce
    if (typeof nonce !== 'string' || nonce === '' || !(await options.checkNonce(nonce))) {
      return {
        ok: false,
        code: 'use_dpop_nonce',
        description: 'a DPoP nonce from the server is required',
        reason: typeof nonce === 'string' ? 'dpop_nonce_stale' : 'dpop_nonce_missing',
      }
    }
  }

  const publicJwk = jwk as JWK
  const jkt = await calculateJwkThumbprint(publicJwk, 'sha256')
  // Replay: one use per key and jti, for as long as the proof could pass the iat check.
  const ttl = Math.ceil(options.maxAgeSeconds + options.clockToleranceSeconds) + 1
  if (!(await options.spendJti(await sha256(`${jkt}.${jti}`), ttl))) return bad('dpop_replay')
  return { ok: true, proof: { jkt, jwk: publicJwk, alg } }
}

/** The `cnf.jkt` of verified token claims (RFC 9449 §6.1), or `undefined` when not DPoP-bound. */
export function confirmedJkt(claims: Readonly<Record<string, unknown>>): string | undefined {
  const cnf = claims.cnf
  if (typeof cnf !== 'object' || cnf === null) return undefined
  const jkt = (cnf as Record<string, unknown>).jkt
  return typeof jkt === 'string' ? jkt : undefined
}

/** Whether `value` looks like an RFC 7638 SHA-256 thumbprint (43 base64url characters). */
export function isJWKThumbprint(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value)
}

function isAsymmetric(alg: string): boolean {
  return /^(?:RS|PS|ES)(?:256|384|512)$/.test(alg) || alg === 'EdDSA' || alg === 'Ed25519'
}

/** Why `jwk` cannot be a proof key, or `undefined` when it is a public RSA/EC/OKP key. */
function publicKeyProblem(jwk: unknown): string | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'dpop_jwk_missing'
  const key = jwk as Record<string, unknown>
  if (typeof key.kty !== 'string' || !KEY_TYPES.has(key.kty)) return 'dpop_jwk_kty'
  if (PRIVATE_MEMBERS.some((m) => m in key)) return 'dpop_jwk_private'
  return undefined
}

/**
 * RFC 9449 §4.3 check 9: `htu` names the request's URI, ignoring query and fragment, after
 * syntax- and scheme-based normalisation (RFC 3986 §6.2.2-6.2.3: case of scheme and host, default
 * port, percent-encoding case; the URL parser does these).
 */
function sameTarget(htu: string, url: string): boolean {
  const a = target(htu)
  return a !== undefined && a === target(url)
}

function target(value: string): string | undefined {
  let u: URL
  try {
    u = new URL(value)
  } catch {
    return undefined
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined
  return `${u.protocol}//${u.host}${u.pathname.replace(/%[0-9a-f]{2}/g, (m) => m.toUpperCase())}`
}
