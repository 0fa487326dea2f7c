/**
 * Gatehouse's own signing keys: generated on first start, persisted in the store, rotated, and
 * published as a JWKS. Web Crypto through jose only, so this runs on any runtime.
 *
 * The whole key set lives in one store record, `signing-keys`, private parts included. Callers pass
 * an encrypted store (`storage/encrypted.ts`), so the private keys are encrypted at rest; this
 * module never encrypts on its own.
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose'
import type { JWK } from 'jose'

import { StoreError } from '../errors.js'
import { webCryptoSignatureSigner } from '../jwt/signer.js'
import type { SignatureSignerFactory, SignFunction } from '../jwt/signer.js'
import type { AuditSink } from '../audit-event.js'
import type { Store } from '../storage/store.js'
import { storageKey } from '../storage/keys.js'

/** The signature algorithms Gatehouse signs its access tokens with. */
export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA'

/** The key that signs new tokens: an imported, non-extractable private key kept in memory. */
export interface SigningKey {
  readonly kid: string
  readonly alg: SigningAlgorithm
  readonly key: CryptoKey
  /** Signs a JWS signing input with this key, through the configured `signer`. */
  readonly sign: SignFunction
}

/** A public key as published at the JWKS endpoint (RFC 7517), never with private members. */
export interface PublicJWK {
  kty: string
  kid: string
  alg: SigningAlgorithm
  use: 'sig'
  /** The public members: `n`, `e` (RSA); `crv`, `x`, `y` (EC); `crv`, `x` (OKP). */
  [member: string]: string
}

/** Options of {@link SigningKeys.load}. */
export interface SigningKeysOptions {
  /** Where the key set is kept (record `signing-keys`). Pass an encrypted store. */
  store: Store
  /** Algorithm of new keys; default `RS256` (see {@link SigningKeys}). */
  algorithm?: SigningAlgorithm
  /** Lifetime of the access tokens signed with these keys: how long a retired key stays published. */
  accessTokenTtlSeconds: number
  /** Rotate automatically when the current key is this old (checked by `load` and `refresh`). */
  rotateAfterSeconds?: number
  /** Clock in milliseconds since the epoch; default `Date.now`. */
  now?: () => number
  /** Told about every rotation this instance makes (`key_rotated`). */
  audit?: AuditSink
  /**
   * How `SigningKey.sign` signs: Web Crypto by default; `nodeSignatureSigner` from
   * `mcp-gatehouse/node` on Node (synchronous, no thread-pool hop).
   */
  signer?: SignatureSignerFactory
}

/** One key as stored; timestamps in seconds since the epoch. */
interface StoredKey {
  kid: string
  alg: SigningAlgorithm
  use: 'sig'
  createdAt: number
  retiredAt?: number
  privateJwk: JWK
}

interface StoredKeySet {
  keys: StoredKey[]
}

interface LoadedKey {
  stored: StoredKey
  signing: SigningKey
  publicJwk: PublicJWK
}

const RECORD = storageKey.signingKeys()
const ROTATION_LOCK_TTL_SECONDS = 30
const ROTATION_WAIT_MS = 5_000
const ROTATION_POLL_MS = 100
const ALGORITHMS: readonly string[] = ['RS256', 'ES256', 'EdDSA']
// Only these members go public; everything else (d, p, q, dp, dq, qi, oth ...) stays private.
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
}

/**
 * The signing key set of this authorization server, shared through the store by every instance.
 *
 * Default algorithm RS256: verification is ~3x cheaper than ES256 here (raw node:crypto 25.6 vs
 * 74.6 µs; `bench/signing.bench.mjs`), and RS256 is the algorithm every RFC 9068 resource server
 * must support. The price is paid at issuance, once per token: RS256 signing measured ~0.7 ms raw
 * and ~1.1 ms through jose against ~40 / ~150 µs for ES256, which caps issuance near 900 tokens/s
 * per core. Choose `ES256` when issuance volume matters more than verifier cost and reach.
 *
 * Instances pick up rotations made elsewhere only through {@link SigningKeys.refresh}: call it
 * periodically (well under `accessTokenTtlSeconds`). Throws `StoreError` when the store cannot
 * answer or the record is malformed.
 */
export class SigningKeys {
  readonly #store: Store
  readonly #audit: AuditSink | undefined
  readonly #algorithm: SigningAlgorithm
  readonly #ttlSeconds: number
  readonly #rotateAfterSeconds: number | undefined
  readonly #now: () => number
  readonly #signer: SignatureSignerFactory
  /** Imported keys by kid: a key is imported once per process, never per call. */
  #loaded = new Map<string, LoadedKey>()
  #current: LoadedKey | undefined

  private constructor(options: SigningKeysOptions) {
    this.#store = options.store
    this.#audit = options.audit
    this.#algorithm = options.algorithm ?? 'RS256'
    this.#ttlSeconds = options.accessTokenTtlSeconds
    this.#rotateAfterSeconds = options.rotateAfterSeconds
    this.#now = options.now ?? Date.now
    this.#signer = options.signer ?? webCryptoSignatureSigner
  }

  /**
   * Loads the key set, generating and persisting a first key when the store has none.
   *
   * Concurrent first starts on one store agree on one key (`setIfAbsent`, then re-read). Rotates at
   * once when the current key is older than `rotateAfterSeconds` or uses another algorithm than
   * `algorithm`. Throws `TypeError` for a bad option, `StoreError` as {@link SigningKeys} says.
   */
  static async load(options: SigningKeysOptions): Promise<SigningKeys> {
    const ttl = options.accessTokenTtlSeconds
    if (!Number.isFinite(ttl) || ttl <= 0) {
      throw new TypeError('accessTokenTtlSeconds must be a positive number')
    }
    const rotateAfter = options.rotateAfterSeconds
    if (rotateAfter !== undefined && (!Number.isFinite(rotateAfter) || rotateAfter <= 0)) {
      throw new TypeError('rotateAfterSeconds must be a positive number')
    }
    if (options.algorithm !== undefined && !ALGORITHMS.includes(options.algorithm)) {
      throw new TypeError(`unsupported signing algorithm: ${options.algorithm}`)
    }
    const keys = new SigningKeys(options)
    await keys.refresh()
    // Only at start: instances configured with different algorithms must not flip-flop on refresh.
    if (keys.#current?.stored.alg !== keys.#algorithm) await keys.#rotateOnce()
    return keys
  }

  /** The key that signs new tokens (synchronous: the key was imported at load or refresh). */
  current(): SigningKey {
    if (!this.#current) throw new Error('SigningKeys used before load()')
    return this.#current.signing
  }

  /**
   * The public JWKS: the current key plus retired keys until `retiredAt + accessTokenTtlSeconds`,
   * so tokens signed before a rotation verify until they expire.
   */
  jwks(): { keys: PublicJWK[] } {
    const nowSeconds = this.#nowSeconds()
    const keys: PublicJWK[] = []
    for (const { stored, publicJwk } of this.#loaded.values()) {
      if (isPublished(stored, nowSeconds, this.#ttlSeconds)) keys.push({ ...publicJwk })
    }
    return { keys }
  }

  /**
   * Re-reads the key set from the store to pick up other instances' rotations; creates the first
   * key when the record is missing, and rotates once the key is `rotateAfterSeconds` old.
   */
  async refresh(): Promise<void> {
    let set = await this.#store.get<unknown>(RECORD)
    if (set === undefined) {
      const first = await this.#generate()
      // Two instances starting at once: only one write wins and both adopt what is stored.
      if (!(await this.#store.setIfAbsent(RECORD, { keys: [first] } satisfies StoredKeySet))) {
        set = await this.#store.get<unknown>(RECORD)
        if (set === undefined) throw malformed('vanished right after it was created')
      } else {
        set = { keys: [first] } satisfies StoredKeySet
      }
    }
    await this.#adopt(parseKeySet(set))
    if (this.#rotationDue()) await this.#rotateOnce()
  }

  /**
   * Makes a new current key and retires the old one (now), then persists the set.
   *
   * Of instances rotating the same key at once, one generates the new key (a lock taken with
   * `setIfAbsent`) and the others adopt it; waits up to 5 s for that, then throws `StoreError`.
   */
  async rotate(): Promise<void> {
    // Start from what is stored, not from a possibly stale memory copy.
    const set = await this.#store.get<unknown>(RECORD)
    if (set === undefined) throw malformed('is missing')
    await this.#adopt(parseKeySet(set))
    await this.#rotateOnce()
  }

  async #rotateOnce(): Promise<void> {
    const old = this.#current
    if (!old) throw new Error('SigningKeys used before load()')
    const lock = storageKey.signingKeyRotationLock(old.stored.kid)
    const won = await this.#store.setIfAbsent(lock, this.#nowSeconds(), {
      ttlSeconds: ROTATION_LOCK_TTL_SECONDS,
    })
    if (!won) {
      await this.#awaitRotationBy(old.stored.kid)
      return
    }
    // The lock is ours; make sure nobody rotated between our read and the lock.
    const latest = await this.#store.get<unknown>(RECORD)
    if (latest === undefined) throw malformed('is missing')
    await this.#adopt(parseKeySet(latest))
    if (this.#current?.stored.kid !== old.stored.kid) return
    const nowSeconds = this.#nowSeconds()
    const next = await this.#generate()
    const keys: StoredKey[] = []
    for (const { stored } of this.#loaded.values()) {
      const retired = stored.retiredAt === undefined ? { ...stored, retiredAt: nowSeconds } : stored
      // Keys past their publication window are dropped from the record for good.
      if (isPublished(retired, nowSeconds, this.#ttlSeconds)) keys.push(retired)
    }
    keys.push(next)
    const set: StoredKeySet = { keys }
    await this.#store.set(RECORD, set)
    await this.#adopt(set)
    this.#audit?.emit({ event: 'key_rotated', outcome: 'success', kid: next.kid })
  }

  /** Another instance holds the rotation lock: wait until its new key is stored. */
  async #awaitRotationBy(oldKid: string): Promise<void> {
    const deadline = Date.now() + ROTATION_WAIT_MS
    for (;;) {
      const set = await this.#store.get<unknown>(RECORD)
      if (set !== undefined) {
        const parsed = parseKeySet(set)
        if (currentOf(parsed).kid !== oldKid) {
          await this.#adopt(parsed)
          return
        }
      }
      if (Date.now() >= deadline) {
        throw new StoreError('ERR_STORE_UNAVAILABLE', 'key rotation by another instance timed out')
      }
      await new Promise((resolve) => setTimeout(resolve, ROTATION_POLL_MS))
    }
  }

  /** Makes `set` the in-memory state, importing only keys not seen before. */
  async #adopt(set: StoredKeySet): Promise<void> {
    const loaded = new Map<string, LoadedKey>()
    for (const stored of set.keys) {
      const known = this.#loaded.get(stored.kid)
      loaded.set(
        stored.kid,
        known
          ? { ...known, stored }
          : await importKey(stored, this.#signer).catch(rethrowMalformed),
      )
    }
    this.#loaded = loaded
    this.#current = loaded.get(currentOf(set).kid)
  }

  #rotationDue(): boolean {
    const current = this.#current
    if (!current) return false
    const after = this.#rotateAfterSeconds
    return after !== undefined && this.#nowSeconds() - current.stored.createdAt >= after
  }

  async #generate(): Promise<StoredKey> {
    const alg = this.#algorithm
    const { privateKey } = await generateKeyPair(alg, { extractable: true })
    const privateJwk = await exportJWK(privateKey)
    const kid = await calculateJwkThumbprint(privateJwk, 'sha256')
    return { kid, alg, use: 'sig', createdAt: this.#nowSeconds(), privateJwk }
  }

  #nowSeconds(): number {
    return Math.floor(this.#now() / 1000)
  }
}

function isPublished(key: StoredKey, nowSeconds: number, ttlSeconds: number): boolean {
  return key.retiredAt === undefined || nowSeconds < key.retiredAt + ttlSeconds
}

/** The current key is the last one not retired. */
function currentOf(set: StoredKeySet): StoredKey {
  for (let i = set.keys.length - 1; i >= 0; i--) {
    const key = set.keys[i]
    if (key && key.retiredAt === undefined) return key
  }
  throw malformed('has no current key')
}

async function importKey(stored: StoredKey, signer: SignatureSignerFactory): Promise<LoadedKey> {
  const key = await importJWK(stored.privateJwk, stored.alg)
  const sign = await signer.importKey(stored.privateJwk, stored.alg)
  if (key instanceof Uint8Array) throw malformed('holds a symmetric key')
  const jwk = stored.privateJwk as Record<string, unknown>
  const kty = String(jwk.kty)
  const publicJwk: PublicJWK = { kty, kid: stored.kid, alg: stored.alg, use: 'sig' }
  for (const name of PUBLIC_MEMBERS[kty] ?? []) {
    const value = jwk[name]
    if (typeof value !== 'string') throw malformed(`key ${stored.kid} lacks "${name}"`)
    publicJwk[name] = value
  }
  return { stored, signing: { kid: stored.kid, alg: stored.alg, key, sign }, publicJwk }
}

function parseKeySet(value: unknown): StoredKeySet {
  if (!isObject(value) || !Array.isArray(value.keys)) throw malformed('is not a key set')
  const keys = value.keys.map((key: unknown): StoredKey => {
    if (
      !isObject(key) ||
      typeof key.kid !== 'string' ||
      typeof key.alg !== 'string' ||
      !ALGORITHMS.includes(key.alg) ||
      typeof key.createdAt !== 'number' ||
      (key.retiredAt !== undefined && typeof key.retiredAt !== 'number') ||
      !isObject(key.privateJwk) ||
      typeof key.privateJwk.kty !== 'string'
    ) {
      throw malformed('holds an invalid key')
    }
    return key as unknown as StoredKey
  })
  const set = { keys }
  currentOf(set)
  return set
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

function malformed(what: string): StoreError {
  return new StoreError('ERR_STORE_UNAVAILABLE', `the signing-keys record ${what}`)
}

function rethrowMalformed(error: unknown): never {
  if (error instanceof StoreError) throw error
  throw new StoreError(
    'ERR_STORE_UNAVAILABLE',
    'the signing-keys record holds a key that does not import',
    {
      cause: error,
    },
  )
}
