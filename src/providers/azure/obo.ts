/**
 * Microsoft Entra On-Behalf-Of: trades the signed-in user's Entra access token (for this API) for
 * a token of a downstream API (Graph …). Request (Entra's OBO profile of RFC 7523):
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, `requested_token_use=on_behalf_of`,
 * `assertion`, `scope`, client id and secret. Answers are cached per (SHA-256 of the assertion,
 * sorted scopes) until `marginSeconds` before they expire, in a bounded LRU; `close()` clears it.
 */
import { UpstreamError } from '../../errors.js'
import {
  createGuardedFetch,
  type GuardedFetch,
  type GuardedTransport,
} from '../../http/guarded-fetch.js'
import { outboundOptions } from './outbound.js'
import { sha256 } from '../../http/random.js'
import { AzureOBOError } from '../../obo-error.js'

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

export interface OBOClientOptions {
  tokenEndpoint: string
  clientId: string
  clientSecret: string | undefined
  /** Signs a client assertion (certificate credential); replaces the secret when set. */
  clientAssertion?: (() => Promise<string>) | undefined
  /**
   * How the secret is sent (default `client_secret_post`, as Entra documents OBO); Basic encodes
   * id and secret as the code exchange does (form-urlencoded, RFC 6749 §2.3.1).
   */
  authMethod?: 'client_secret_basic' | 'client_secret_post'
  timeoutMs: number
  fetch?: typeof fetch | undefined
  /** Checks resolved addresses and pins connections (Node: `createNodeTransport`). */
  transport?: GuardedTransport | undefined
  now: () => number
  /** Cached tokens are used until this long before they expire. Default 120 s. */
  marginSeconds?: number
  /** Cache bound. Default 1000 entries. */
  maxEntries?: number
}

/** A downstream token from On-Behalf-Of. */
export interface OBOToken {
  accessToken: string
  /** Seconds since the epoch. */
  expiresAt: number
  scope: string | undefined
}

export class OBOClient {
  readonly #options: OBOClientOptions
  readonly #fetch: GuardedFetch
  readonly #cache = new Map<string, OBOToken>()
  readonly #inflight = new Map<string, Promise<OBOToken>>()

  constructor(options: OBOClientOptions) {
    this.#options = options
    this.#fetch = createGuardedFetch({
      ...outboundOptions(options.tokenEndpoint, options),
      timeoutMs: options.timeoutMs,
    })
  }

  /** Number of cached tokens. */
  get size(): number {
    return this.#cache.size
  }

  /** A downstream token for `scopes`, from the cache when still fresh. */
  async token(assertion: string, scopes: readonly string[]): Promise<OBOToken> {
    if (scopes.length === 0) throw new TypeError('On-Behalf-Of needs at least one scope')
    const sorted = [...new Set(scopes)].sort()
    const key = `${await sha256(assertion)} ${sorted.join(' ')}`
    const now = Math.floor(this.#options.now() / 1000)
    const hit = this.#cache.get(key)
    if (hit !== undefined) {
      if (hit.expiresAt - (this.#options.marginSeconds ?? 120) > now) {
        this.#cache.delete(key)
        this.#cache.set(key, hit)
        return hit
      }
      this.#cache.delete(key)
    }
    const pending = this.#inflight.get(key)
    if (pending) return pending
    const call = this.#exchange(assertion, sorted).finally(() => this.#inflight.delete(key))
    this.#inflight.set(key, call)
    const fresh = await call
    this.#cache.set(key, fresh)
    const max = this.#options.maxEntries ?? 1000
    while (this.#cache.size > max) {
      const oldest = this.#cache.keys().next().value
      if (oldest === undefined) break
      this.#cache.delete(oldest)
    }
    return fresh
  }

  /** Forgets every cached token. */
  close(): void {
    this.#cache.clear()
  }

  async #exchange(assertion: string, scopes: readonly string[]): Promise<OBOToken> {
    const o = this.#options
    const body = new URLSearchParams({
      grant_type: JWT_BEARER_GRANT,
      requested_token_use: 'on_behalf_of',
      assertion,
      scope: scopes.join(' '),
    })
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    }
    body.set('client_id', o.clientId)
    if (o.clientAssertion !== undefined) {
      body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      body.set('client_assertion', await o.clientAssertion())
    } else if (o.clientSecret !== undefined) {
      if (o.authMethod === 'client_secret_basic') {
        body.delete('client_id')
        // RFC 6749 §2.3.1: both form-urlencoded first, exactly as the code exchange sends them.
        const id = formURLEncode(o.clientId)
        headers.authorization = `Basic ${btoa(`${id}:${formURLEncode(o.clientSecret)}`)}`
      } else {
        body.set('client_secret', o.clientSecret)
      }
    }
    let status: number
    let json: unknown
    try {
      const response = await this.#fetch(o.tokenEndpoint, { method: 'POST', headers, body })
      status = response.status
      json = response.json()
    } catch (error) {
      throw new AzureOBOError(
        'ERR_OBO_UNAVAILABLE',
        `Entra could not be reached for On-Behalf-Of (${error instanceof UpstreamError ? error.code : 'ERR_UPSTREAM'})`,
      )
    }
    const r = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>
    if (status !== 200) {
      if (typeof r.error !== 'string') {
        throw new AzureOBOError(
          'ERR_OBO_UNAVAILABLE',
          `Entra answered On-Behalf-Of with status ${status}`,
        )
      }
      const upstreamCode = slug(r.error)
      const codes = Array.isArray(r.error_codes)
        ? r.error_codes.filter((c): c is number => Number.isInteger(c)).slice(0, 8)
        : []
      const suberror = typeof r.suberror === 'string' ? slug(r.suberror) : undefined
      const aadsts = codes.map((c) => `AADSTS${c}`).join(', ')
      throw new AzureOBOError(
        'ERR_OBO_REFUSED',
        `Entra refused the On-Behalf-Of exchange (${upstreamCode}${suberror ? `/${suberror}` : ''}${aadsts ? `, ${aadsts}` : ''})`,
        {
          upstreamCode,
          ...(suberror !== undefined ? { suberror } : {}),
          entraCodes: codes,
          ...(typeof r.claims === 'string' && r.claims.length <= 4096 ? { claims: r.claims } : {}),
        },
      )
    }
    if (typeof r.access_token !== 'string' || typeof r.expires_in !== 'number') {
      throw new AzureOBOError('ERR_OBO_UNAVAILABLE', 'Entra answered On-Behalf-Of without a token')
    }
    return {
      accessToken: r.access_token,
      expiresAt: Math.floor(o.now() / 1000) + r.expires_in,
      scope: typeof r.scope === 'string' ? r.scope : undefined,
    }
  }
}

/**
 * `application/x-www-form-urlencoded` encoding of one value (RFC 6749 §2.3.1, Appendix B), as
 * oauth4webapi's `ClientSecretBasic` does it: only letters and digits stay, space becomes `+`.
 */
export function formURLEncode(value: string): string {
  return encodeURIComponent(value).replace(/[-_.!~*'()]|%20/g, (c) =>
    c === '%20' ? '+' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

function slug(value: string): string {
  return value.replace(/[^\w.-]/g, '').slice(0, 64)
}
