/**
 * The resource subscriptions of the sessions that share one stdio process (stdio-bridge.ts). The
 * process knows one client, the bridge, so it must see one subscription per resource: the first
 * `resources/subscribe` reaches it, and only the last `resources/unsubscribe` does. Otherwise one
 * session's unsubscribe would end another's subscription. A subscribe that comes while the first
 * is still unanswered waits for that answer and gets the same outcome: when the process refuses,
 * or does not answer, nobody is subscribed. An unsubscribe for a resource no session subscribed
 * to goes to the process, which answers it as it would have without the gateway. A session that
 * cancels the first subscribe, or ends, while it is unanswered takes no part in its outcome; the
 * others still get it.
 */
type ID = string | number
const SUBSCRIBE = 'resources/subscribe'

/** A JSON-RPC error object, as the process (or the bridge) gave it. */
export type SubscribeError = unknown

interface Entry<S> {
  holders: Set<S>
  /** Subscribes that wait for the process's answer to the first one (absent once answered). */
  waiting?: { session: S; id: ID }[]
}

export interface SubscriptionDeps<S> {
  /** The bridge's own `resources/subscribe` or `unsubscribe` to the process (no one awaits it). */
  tell(uri: string, subscribe: boolean): void
  /** Answers a session's request (`method`) here: `{}`, or `error`. */
  answer(session: S, id: ID, method: string, error?: SubscribeError): void
}

export class ResourceSubscriptions<S> {
  readonly #entries = new Map<string, Entry<S>>()
  readonly #deps: SubscriptionDeps<S>

  constructor(deps: SubscriptionDeps<S>) {
    this.#deps = deps
  }

  /** A session's `resources/subscribe`; `true`: the first, to be sent on, then `settled`. */
  subscribe(session: S, id: ID, uri: string): boolean {
    const entry = this.#entries.get(uri)
    if (!entry) {
      this.#entries.set(uri, { holders: new Set([session]), waiting: [] })
      return true
    }
    if (entry.waiting) entry.waiting.push({ session, id })
    else {
      entry.holders.add(session)
      this.#deps.answer(session, id, SUBSCRIBE)
    }
    return false
  }

  /**
   * The process answered the first subscribe to `uri` (`error`: it refused, or did not answer;
   * `undo`: it may still subscribe, and is told to stop).
   */
  settled(uri: string, error?: SubscribeError, undo = false): void {
    const entry = this.#entries.get(uri)
    if (!entry?.waiting) return
    const waiting = entry.waiting
    delete entry.waiting
    if (error !== undefined) {
      this.#entries.delete(uri)
      for (const w of waiting) this.#deps.answer(w.session, w.id, SUBSCRIBE, error)
      if (undo) this.#deps.tell(uri, false)
      return
    }
    for (const w of waiting) {
      entry.holders.add(w.session)
      this.#deps.answer(w.session, w.id, SUBSCRIBE)
    }
    // Everyone left while the process was answering.
    if (entry.holders.size === 0) {
      this.#entries.delete(uri)
      this.#deps.tell(uri, false)
    }
  }

  /** A session's `resources/unsubscribe`; `true`: to be sent on (the last, or nobody's). */
  unsubscribe(session: S, id: ID, uri: string): boolean {
    const entry = this.#entries.get(uri)
    if (!entry) return true
    if (!this.#leave(entry, session) || entry.waiting || entry.holders.size > 0) {
      this.#deps.answer(session, id, 'resources/unsubscribe')
      return false
    }
    this.#entries.delete(uri)
    return true
  }

  /**
   * The session cancelled its subscribe to `uri` while the process had not answered it: it takes
   * no part in the outcome (which others may wait for).
   */
  withdraw(session: S, uri: string): void {
    const entry = this.#entries.get(uri)
    if (entry) this.#leave(entry, session)
  }

  /** The session ended: its subscriptions end, and the process is told of those nobody holds. */
  detach(session: S): void {
    for (const [uri, entry] of this.#entries) {
      if (!this.#leave(entry, session) || entry.waiting || entry.holders.size > 0) continue
      this.#entries.delete(uri)
      this.#deps.tell(uri, false)
    }
  }

  /**
   * The sessions an update of `uri` concerns: those subscribed to it, and with `within`, to a
   * resource it is in.
   */
  holdersOf(uri: string, inside: boolean): Set<S> {
    const out = new Set<S>()
    for (const [subscribed, entry] of this.#entries) {
      if (inside ? within(uri, subscribed) : uri === subscribed) {
        for (const s of entry.holders) out.add(s)
      }
    }
    return out
  }

  /** A restarted process knows no subscription: it is sent again each one it had confirmed. */
  resubscribe(): void {
    for (const [uri, entry] of this.#entries) if (!entry.waiting) this.#deps.tell(uri, true)
  }

  /** Takes `session` out of `entry`; whether it was in it. */
  #leave(entry: Entry<S>, session: S): boolean {
    let was = entry.holders.delete(session)
    if (entry.waiting) {
      const before = entry.waiting.length
      entry.waiting = entry.waiting.filter((w) => w.session !== session)
      was ||= entry.waiting.length < before
    }
    return was
  }
}

/**
 * Whether an update of `uri` concerns a subscription to `subscribed`: the same resource, or one
 * in it (MCP: the updated URI "might be a sub-resource of the one that the client actually
 * subscribed to"), where "in" means below it in the URI's path. Only for processes of one user:
 * on a shared one, a broad subscription would hear of other users' resources.
 */
export function within(uri: string, subscribed: string): boolean {
  if (uri === subscribed) return true
  if (!uri.startsWith(subscribed)) return false
  return subscribed.endsWith('/') || uri[subscribed.length] === '/'
}
