/**
 * The in-memory session table of a stateful MCP endpoint: one SDK server and transport per
 * `Mcp-Session-Id`, owned by the principal that initialized it (MCP Sec-BP: sessions are bound to
 * the user and never authenticate anyone; the bearer token is checked on every request).
 * Idle sessions are evicted lazily (no timers, so it suits serverless runtimes too) and the table is
 * bounded: adding beyond `max` evicts the least recently used session, and adding beyond
 * `maxPerOwner` evicts the owner's own least recently used one (so one user cannot push everybody
 * else's sessions out).
 */
import type { StreamableTransport } from './transport.js'
import type { MCPServerLike } from './server-like.js'

/** One live session. */
export interface Session {
  readonly server: MCPServerLike
  readonly transport: StreamableTransport
  /** `principalKey` of the principal that initialized the session. */
  readonly owner: string
  /** Milliseconds since the epoch of the last request that used the session. */
  lastSeen: number
}

export interface SessionTableOptions {
  idleMs: number
  max: number
  maxPerOwner: number
  now: () => number
}

/** Sessions by id, least recently used first (a `Map` keeps insertion order; a touch re-inserts). */
export class SessionTable {
  readonly #sessions = new Map<string, Session>()
  readonly #perOwner = new Map<string, number>()
  readonly #options: SessionTableOptions

  constructor(options: SessionTableOptions) {
    this.#options = options
  }

  get size(): number {
    return this.#sessions.size
  }

  /** The live session for `id`; an idle one is closed and reported as absent. */
  get(id: string): Session | undefined {
    const session = this.#sessions.get(id)
    if (session && this.#idle(session, this.#options.now())) {
      this.#evict(id, session)
      return undefined
    }
    return session
  }

  /** Marks the session used now and makes it the most recently used. */
  touch(id: string, session: Session): void {
    session.lastSeen = this.#options.now()
    this.#sessions.delete(id)
    this.#sessions.set(id, session)
  }

  /**
   * Adds a session, evicting the owner's least recently used one while the owner is at its limit,
   * then the least recently used ones while the table is full.
   */
  add(id: string, session: Session): void {
    const { owner } = session
    if ((this.#perOwner.get(owner) ?? 0) >= this.#options.maxPerOwner) {
      for (const [oldId, old] of this.#sessions) {
        if (old.owner !== owner) continue
        this.#evict(oldId, old)
        break
      }
    }
    for (const [oldId, old] of this.#sessions) {
      if (this.#sessions.size < this.#options.max) break
      this.#evict(oldId, old)
    }
    this.#sessions.set(id, session)
    this.#perOwner.set(owner, (this.#perOwner.get(owner) ?? 0) + 1)
  }

  /** Forgets a session (it was closed); only if `id` still maps to that transport. */
  remove(id: string, transport: Session['transport']): void {
    const session = this.#sessions.get(id)
    if (session?.transport === transport) this.#delete(id, session)
  }

  /** Evicts idle sessions from the least recently used end; stops at the first live one. */
  sweep(): void {
    const now = this.#options.now()
    for (const [id, session] of this.#sessions) {
      if (!this.#idle(session, now)) break
      this.#evict(id, session)
    }
  }

  /** Closes every session. */
  async closeAll(): Promise<void> {
    const all = [...this.#sessions.values()]
    this.#sessions.clear()
    this.#perOwner.clear()
    await Promise.allSettled(all.map((s) => s.server.close()))
  }

  #idle(session: Session, now: number): boolean {
    return now - session.lastSeen > this.#options.idleMs
  }

  #evict(id: string, session: Session): void {
    this.#delete(id, session)
    session.server.close().catch(() => undefined)
  }

  #delete(id: string, session: Session): void {
    this.#sessions.delete(id)
    const left = (this.#perOwner.get(session.owner) ?? 1) - 1
    if (left > 0) this.#perOwner.set(session.owner, left)
    else this.#perOwner.delete(session.owner)
  }
}
