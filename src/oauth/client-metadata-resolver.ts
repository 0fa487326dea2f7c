/**
 * Resolves `client_id` URLs to clients by fetching their Client ID Metadata Documents. Rules:
 * 1. The URL is checked first (`clientIDURLProblem`); a bad one is never fetched.
 * 2. One guarded fetch: no redirects, `maxDocumentBytes`, `timeoutSeconds`, resolved addresses
 *    checked and pinned by the transport, a few requests per host at a time, and at most
 *    `fetchesPerHostPerMinute` document fetches per host.
 * 3. Only a 200 with a valid document counts; anything else is `invalid_client` naming the URL
 *    and nothing the remote sent. Failures are never cached.
 * 4. A valid document is cached (in the store, so instances share it) for its `Cache-Control`
 *    max-age clamped to [`minCacheSeconds`, `maxCacheSeconds`]; concurrent misses share a fetch.
 * 5. For `private_key_jwt`, a `jwks_uri` is fetched with the document (same guard) and the keys
 *    become part of the client; the fingerprint covers redirect URIs and keys.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError, UpstreamError } from '../errors.js'
import type { GuardedFetch, GuardedResponse } from '../http/guarded-fetch.js'
import { sha256 } from '../http/random.js'
import { RateLimiter } from '../http/rate-limit.js'
import type { AuditSink } from '../audit-event.js'
import type { Store } from '../storage/store.js'
import { clientIDURLProblem } from '../contract/client-id-url.js'
import { parseClientMetadataDocument, parseJWKS } from './client-metadata-document.js'
import type { OAuthClientInformation } from '../contract/types.js'
import { storageKey } from '../storage/keys.js'

export interface ClientMetadataResolverOptions {
  config: ResolvedConfig
  store: Store
  /** Fetches documents (limits of `clientIdMetadataDocuments`). */
  fetchDocument: GuardedFetch
  /** Fetches a document's `jwks_uri` (same guard, a larger size cap). */
  fetchKeys: GuardedFetch
  now: () => number
  /** Told when a document cannot be used (`cimd_fetch_refused`). */
  audit?: AuditSink
}

interface CachedClient {
  client: OAuthClientInformation
  /** Milliseconds since the epoch. */
  expiresAt: number
}

const ACCEPT = 'application/json'
const SHOWN_URL_LENGTH = 200
const MAX_KNOWN_URLS = 10_000

/** Resolves metadata document URLs to clients; see the module comment for the rules. */
export class ClientMetadataResolver {
  readonly #options: ClientMetadataResolverOptions
  readonly #inflight = new Map<string, Promise<CachedClient>>()
  readonly #perHost: RateLimiter
  /** URLs this instance has loaded a usable document from (bounded, oldest dropped first). */
  readonly #known = new Set<string>()

  constructor(options: ClientMetadataResolverOptions) {
    this.#options = options
    this.#perHost = new RateLimiter({
      limit: options.config.clientIdMetadataDocuments.fetchesPerHostPerMinute,
      windowSeconds: 60,
      now: options.now,
    })
  }

  /** The client the document at `clientId` describes; throws `invalid_client` (or 429). */
  async resolve(clientId: string): Promise<OAuthClientInformation> {
    const settings = this.#options.config.clientIdMetadataDocuments
    const problem = clientIDURLProblem(clientId, settings.dangerouslyAllowLoopback)
    if (problem !== undefined) {
      throw new OAuthError('invalid_client', `client_id ${problem}`, { reason: 'cimd_bad_url' })
    }
    const key = storageKey.metadataDocument(await sha256(clientId))
    const cached = await this.#options.store.get<CachedClient>(key)
    if (cached && cached.expiresAt > this.#options.now()) return cached.client
    let pending = this.#inflight.get(clientId)
    if (!pending) {
      pending = this.#load(clientId, key).finally(() => this.#inflight.delete(clientId))
      this.#inflight.set(clientId, pending)
    }
    try {
      return (await pending).client
    } catch (error) {
      if (error instanceof OAuthError && error.reason?.startsWith('cimd_') === true) {
        this.#options.audit?.emit({
          event: 'cimd_fetch_refused',
          outcome: 'failure',
          clientId,
          reason: error.reason,
        })
      }
      throw error
    }
  }

  async #load(url: string, key: string): Promise<CachedClient> {
    const { config, now, store } = this.#options
    const settings = config.clientIdMetadataDocuments
    // The per-host budget applies to URLs never seen to work: made-up paths on a client's host
    // can use it up, but then cannot lock out the clients this instance already knows.
    if (!this.#known.has(url)) this.#perHost.hit(new URL(url).host)
    const response = await this.#get(this.#options.fetchDocument, url, url)
    const client = parseClientMetadataDocument(url, this.#json(response, url), config)
    if (client.jwks_uri !== undefined && client.token_endpoint_auth_method === 'private_key_jwt') {
      const keys = await this.#get(this.#options.fetchKeys, client.jwks_uri, url)
      client.jwks = parseJWKS(this.#json(keys, url))
    }
    client.metadata_document_fingerprint = await sha256(
      JSON.stringify([
        [...client.redirect_uris].sort(),
        client.jwks_uri ?? null,
        client.jwks ?? null,
      ]),
    )
    const ttl = cacheSeconds(response.headers, settings.minCacheSeconds, settings.maxCacheSeconds)
    this.#known.delete(url)
    if (this.#known.size >= MAX_KNOWN_URLS) {
      const oldest = this.#known.values().next()
      if (!oldest.done) this.#known.delete(oldest.value)
    }
    this.#known.add(url)
    const entry: CachedClient = { client, expiresAt: now() + ttl * 1000 }
    if (ttl > 0) await store.set(key, entry, { ttlSeconds: ttl })
    return entry
  }

  async #get(fetch: GuardedFetch, url: string, clientId: string): Promise<GuardedResponse> {
    let response: GuardedResponse
    try {
      response = await fetch(url, { headers: { accept: ACCEPT } })
    } catch (error) {
      const reason = error instanceof UpstreamError ? error.code : 'fetch_failed'
      throw unusable(clientId, `cimd_${reason}`, error)
    }
    // Draft §4: only 200 counts; the remote's status and body stay out of the error.
    if (response.status !== 200) throw unusable(clientId, 'cimd_status')
    return response
  }

  #json(response: GuardedResponse, clientId: string): unknown {
    try {
      return response.json()
    } catch (error) {
      throw unusable(clientId, 'cimd_not_json', error)
    }
  }
}

/** `max-age` (or `s-maxage`) of `Cache-Control`, clamped; `no-store`/`no-cache` give the minimum. */
export function cacheSeconds(headers: Headers, min: number, max: number): number {
  const directives = (headers.get('cache-control') ?? '').toLowerCase()
  if (/(^|,)\s*(no-store|no-cache)\b/.test(directives)) return min
  const match = /(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*"?(\d+)"?/.exec(directives)
  const declared = match?.[1] === undefined ? min : Number(match[1])
  return Math.min(max, Math.max(min, declared))
}

function unusable(clientId: string, reason: string, cause?: unknown): OAuthError {
  // Draft §6.4: when the document cannot be used, its URL is all the user may be shown.
  const shown =
    clientId.length > SHOWN_URL_LENGTH ? `${clientId.slice(0, SHOWN_URL_LENGTH)}…` : clientId
  return new OAuthError(
    'invalid_client',
    `the client metadata document at ${shown} could not be retrieved`,
    { reason, ...(cause === undefined ? {} : { cause }) },
  )
}
