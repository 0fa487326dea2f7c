/**
 * The grant store. Grants: one per successful authorization (the refresh-token family). Revoking a
 * grant stops its refresh tokens at once and its access tokens at the guard within
 * `revocationCheckSeconds`, without a store read on every request: liveness answers are cached for
 * that long.
 */
import { randomToken } from '../http/random.js'
import { storageKey } from '../storage/keys.js'
import type { AtomicStep, StepExpire, StepWrite, Store } from '../storage/store.js'

/** What a grant records. Upstream tokens (proxy) live here too, in the encrypted store. */
export interface GrantRecord {
  clientId: string
  subject: string
  scopes: string[]
  resource: string
  /** Seconds since the epoch. */
  createdAt: number
  claims?: Record<string, unknown>
  upstream?: unknown
  /** The enterprise IdP whose identity assertion (SEP-990 ID-JAG) created the grant. */
  identityProvider?: string
  /** The client's `metadata_document_fingerprint` at authorization (CIMD clients). */
  clientFingerprint?: string
  /**
   * Set for a grant with no user: the client credentials grant (the subject is the client); and
   * for a grant from an RFC 8693 token exchange (the token-exchange URN).
   */
  grantType?: 'client_credentials' | 'urn:ietf:params:oauth:grant-type:token-exchange'
  /** RFC 8693 §4.1: the `act` claim of the grant's tokens (the acting party, nested for chains). */
  actor?: Record<string, unknown>
  /**
   * Seconds since the epoch. Set for a grant that can never be refreshed: when it ends (its access
   * token's expiry plus the clock tolerance), so that rewriting the record keeps that end.
   */
  endsAt?: number
}

export interface GrantsOptions {
  store: Store
  /** How long an unused grant lives; extended by every token issue. */
  ttlSeconds: number
  revocationCheckSeconds: number
  /** Added to the lifetime of a grant that cannot be refreshed, as verifiers add it to `exp`. */
  clockToleranceSeconds?: number
  now: () => number
  /** Most liveness answers kept in memory. */
  maxCached?: number
}

/** How long a new grant lives. */
export interface GrantLifetime {
  /**
   * For a grant that can never be refreshed (no refresh token was issued): the lifetime of its
   * access token. The grant then lives that long plus the clock tolerance, not the refresh
   * lifetime: once its token has expired nothing can use it.
   */
  accessTokenSeconds?: number
}

interface Liveness {
  active: boolean
  checkedAt: number
}

/** Grant records in the store plus a bounded, short-lived cache of liveness answers. */
export class Grants {
  readonly #store: Store
  readonly #ttl: number
  readonly #tolerance: number
  readonly #checkMs: number
  readonly #now: () => number
  readonly #max: number
  readonly #liveness = new Map<string, Liveness>()

  constructor(options: GrantsOptions) {
    this.#store = options.store
    this.#ttl = options.ttlSeconds
    this.#tolerance = options.clockToleranceSeconds ?? 0
    this.#checkMs = options.revocationCheckSeconds * 1000
    this.#now = options.now
    this.#max = options.maxCached ?? 100_000
  }

  /** Stores a new grant (one atomic step) and returns its id (128 bits, random). */
  async create(record: GrantRecord, options: GrantLifetime = {}): Promise<string> {
    const id = this.newId()
    await this.#store.commit({ set: [this.creation(id, record, options)] })
    this.#remember(id, true)
    return id
  }

  /** A fresh grant id (128 bits, random), for a grant created inside a larger atomic step. */
  newId(): string {
    return randomToken(16)
  }

  /**
   * The write that creates grant `id` inside a `Store.commit` step (the grant exists exactly when
   * the step applies). Call {@link created} once the step has applied.
   */
  creation(id: string, record: GrantRecord, options: GrantLifetime = {}): StepWrite {
    const seconds = options.accessTokenSeconds
    if (seconds === undefined) return { key: key(id), value: record, ttlSeconds: this.#ttl }
    const ttlSeconds = seconds + this.#tolerance
    const endsAt = Math.floor(this.#now() / 1000) + ttlSeconds
    return { key: key(id), value: { ...record, endsAt }, ttlSeconds }
  }

  /** Records that a grant made through {@link creation} now exists (this instance's liveness). */
  created(id: string): void {
    this.#remember(id, true)
  }

  /**
   * The conditions and renewal that tie a `Store.commit` step to grant `id`: the step applies only
   * while the grant exists and is not revoked, and restarts its lifetime (an issue of tokens keeps
   * the grant alive) without rewriting the record.
   */
  liveness(
    id: string,
  ): Required<Pick<AtomicStep, 'require' | 'absent'>> & { expire: StepExpire[] } {
    return {
      require: [key(id)],
      absent: [tombstone(id)],
      expire: [{ key: key(id), ttlSeconds: this.#ttl }],
    }
  }

  /**
   * Ends grant `id` `ttlSeconds` from now instead of when its lifetime would (one atomic step that
   * requires the record and no tombstone); `false` when the grant is gone or revoked.
   */
  expireIn(id: string, ttlSeconds: number): Promise<boolean> {
    return this.#store.commit({
      require: [key(id)],
      absent: [tombstone(id)],
      expire: [{ key: key(id), ttlSeconds }],
    })
  }

  get(id: string): Promise<GrantRecord | undefined> {
    return this.#store.get<GrantRecord>(key(id))
  }

  /**
   * Rewrites the record, restarting its lifetime (a grant that cannot be refreshed keeps its end,
   * `endsAt`); `false` when the grant was revoked meanwhile. One atomic step that requires the
   * record and no tombstone, so a revoked grant never comes back and a failed write changes
   * nothing.
   */
  update(id: string, record: GrantRecord): Promise<boolean> {
    const ttlSeconds =
      record.endsAt === undefined
        ? this.#ttl
        : Math.max(1, record.endsAt - Math.floor(this.#now() / 1000))
    return this.#store.commit({
      require: [key(id)],
      absent: [tombstone(id)],
      set: [{ key: key(id), value: record, ttlSeconds }],
    })
  }

  /**
   * Revokes the grant: a tombstone and the record's deletion in one atomic step (a tombstone
   * outlives any in-flight update); this instance forgets the grant at once.
   */
  async revoke(id: string): Promise<void> {
    this.#remember(id, false)
    await this.#store.commit({
      delete: [key(id)],
      set: [{ key: tombstone(id), value: true, ttlSeconds: this.#ttl }],
    })
  }

  /**
   * Whether the grant is live now, read from the store (no cached answer): for answers that must be
   * authoritative, such as introspection (RFC 7662 §2.2). Refreshes the cached answer.
   */
  async isActiveNow(id: string): Promise<boolean> {
    const [record, revoked] = await Promise.all([
      this.#store.get(key(id)),
      this.#store.get(tombstone(id)),
    ])
    const active = record !== undefined && revoked === undefined
    this.#remember(id, active)
    return active
  }

  /**
   * Whether the grant still exists. Answers from memory when the last check is younger than
   * `revocationCheckSeconds`; otherwise reads the store. A store error propagates (fail closed).
   */
  isActive(id: string): boolean | Promise<boolean> {
    const cached = this.#liveness.get(id)
    if (cached && this.#now() - cached.checkedAt < this.#checkMs) return cached.active
    const started = this.#now()
    return this.#store.get(key(id)).then((record) => {
      // A local revocation that happened while the read was in flight wins over its answer.
      const latest = this.#liveness.get(id)
      if (latest && !latest.active && latest.checkedAt >= started) return false
      const active = record !== undefined
      this.#remember(id, active)
      return active
    })
  }

  #remember(id: string, active: boolean): void {
    if (this.#liveness.size >= this.#max && !this.#liveness.has(id)) {
      // Maps iterate in insertion order: drop the oldest answer.
      const oldest = this.#liveness.keys().next()
      if (!oldest.done) this.#liveness.delete(oldest.value)
    }
    this.#liveness.delete(id)
    this.#liveness.set(id, { active, checkedAt: this.#now() })
  }
}

function key(id: string): string {
  return storageKey.grant(id)
}

function tombstone(id: string): string {
  return storageKey.revokedGrant(id)
}
