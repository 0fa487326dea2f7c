/**
 * Which principal opened each MCP session. Kept in the Gatehouse store (key
 * `gw-session:{sha256(route, session id)}`, value a hash of the principal), so every gateway
 * instance on one Redis or PostgreSQL sees the same owners. A session id never authenticates
 * anyone: the token is checked on every request, and a session used by another principal is
 * answered as unknown (404), exactly as a session that does not exist.
 */
import { createHash } from 'node:crypto'
import type { AccessToken } from '../jwt/access-token.js'
import { principalKey, principalOf } from '../jwt/access-token.js'
import type { Store } from '../storage/store.js'
import { storageKey } from '../storage/keys.js'

interface Binding {
  owner: string
  /** Seconds since the epoch of the last renewal. */
  at: number
}

/** `foreign`: bound to another principal (answered like `unknown`, but audited). */
export type BindingCheck = 'owner' | 'unknown' | 'foreign'

export class SessionBindings {
  readonly #store: Store
  readonly #ttl: number
  readonly #now: () => number

  constructor(store: Store, ttlSeconds: number, now: () => number = Date.now) {
    this.#store = store
    this.#ttl = ttlSeconds
    this.#now = now
  }

  /**
   * Records that `token`'s principal opened `sessionId` on `route`. `false` when the id is already
   * bound to someone else (an upstream reusing ids): the binding is never taken over.
   */
  async bind(route: string, sessionId: string, token: AccessToken): Promise<boolean> {
    const value: Binding = { owner: ownerOf(token), at: this.#seconds() }
    const k = key(route, sessionId)
    if (await this.#store.setIfAbsent(k, value, { ttlSeconds: this.#ttl })) return true
    return (await this.#store.get<Binding>(k))?.owner === value.owner
  }

  /** `owner` when the session is `token`'s; `unknown` when absent; `foreign`: someone else's. */
  async check(route: string, sessionId: string, token: AccessToken): Promise<BindingCheck> {
    const k = key(route, sessionId)
    const found = await this.#store.get<Binding>(k)
    if (found === undefined) return 'unknown'
    if (found.owner !== ownerOf(token)) return 'foreign'
    // Renew now and then, not on every request: sessions in use stay bound.
    if (this.#seconds() - found.at > this.#ttl / 4) {
      await this.#store.set(k, { ...found, at: this.#seconds() }, { ttlSeconds: this.#ttl })
    }
    return 'owner'
  }

  async unbind(route: string, sessionId: string): Promise<void> {
    await this.#store.delete(key(route, sessionId))
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000)
  }
}

function key(route: string, sessionId: string): string {
  return storageKey.gatewaySession(sha256(`${route} ${sessionId}`))
}

function ownerOf(token: AccessToken): string {
  return sha256(principalKey(principalOf(token)))
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}
