/**
 * Where an issuer's verification keys come from. A key source is configuration, never token
 * input: the JWKS URL, the discovery URL or the key function are fixed when the verifier is built.
 */

import { UpstreamError } from '../errors.js'
import type { GuardedFetch } from '../http/guarded-fetch.js'
import type { JWKSet } from './jwk.js'

/**
 * A configured source of JWKs for one issuer, loaded by `JWKSCache` at most once per TTL or per
 * cooldown. `id` is stable for equal configuration (two verifiers naming the same JWKS URL share
 * cached keys) and unique otherwise.
 */
export interface KeySource {
  readonly id: string
  /** Loads the current key set. Rejects with `UpstreamError` when the keys cannot be had. */
  load(fetch: GuardedFetch): Promise<unknown>
}

const JWKS_ACCEPT = 'application/jwk-set+json, application/json'

/** Keys from a JWKS URL (RFC 7517 §5), fetched through the guarded fetch; needs status 200. */
export function createJWKSURISource(jwksUri: string): KeySource {
  return {
    id: `jwks_uri ${jwksUri}`,
    async load(fetch) {
      const response = await fetch(jwksUri, { headers: { accept: JWKS_ACCEPT } })
      if (response.status !== 200) throw badStatus('JWKS', response.status)
      return response.json()
    },
  }
}

/**
 * Keys found through OpenID Connect Discovery 1.0 §4: the configuration document's `issuer` must
 * equal `issuer` exactly (§4.3) and its `jwks_uri` is then fetched. `discoveryUrl` may be the
 * document itself (ending in `/.well-known/openid-configuration` or
 * `/.well-known/oauth-authorization-server`) or the issuer base, to which
 * `/.well-known/openid-configuration` is appended. The document is read again on every load.
 */
export function createDiscoverySource(discoveryUrl: string, issuer: string): KeySource {
  const documentUrl = /\/\.well-known\/(?:openid-configuration|oauth-authorization-server)$/.test(
    new URL(discoveryUrl).pathname,
  )
    ? discoveryUrl
    : `${discoveryUrl.replace(/\/+$/, '')}/.well-known/openid-configuration`
  return {
    id: `discovery ${documentUrl} ${issuer}`,
    async load(fetch) {
      const response = await fetch(documentUrl, { headers: { accept: 'application/json' } })
      if (response.status !== 200) throw badStatus('discovery', response.status)
      const metadata = response.json()
      if (typeof metadata !== 'object' || metadata === null) throw invalid('discovery document')
      const { issuer: published, jwks_uri: jwksUri } = metadata as Record<string, unknown>
      if (published !== issuer) {
        throw new UpstreamError('ERR_UPSTREAM_RESPONSE', 'discovery document names another issuer')
      }
      if (typeof jwksUri !== 'string') throw invalid('discovery document')
      return createJWKSURISource(jwksUri).load(fetch)
    },
  }
}

let staticSources = 0

/** A fixed key set given in configuration; copied, so later changes to the object are not seen. */
export function createStaticSource(jwks: JWKSet): KeySource {
  const copy = JSON.parse(JSON.stringify(jwks)) as unknown
  staticSources++
  return { id: `static #${staticSources}`, load: () => Promise.resolve(copy) }
}

const functionIds = new WeakMap<object, string>()
let functionSources = 0

/** Keys from a local function (e.g. the server's own signing keys); same function, same id. */
export function createFunctionSource(keys: () => Promise<JWKSet>): KeySource {
  let id = functionIds.get(keys)
  if (id === undefined) {
    functionSources++
    id = `keys #${functionSources}`
    functionIds.set(keys, id)
  }
  return { id, load: () => keys() }
}

/**
 * Checks a loaded JWK Set's shape: an object with a `keys` array. Entries that are not objects are
 * dropped; key-level rules are applied at selection time.
 *
 * @throws {UpstreamError} `ERR_UPSTREAM_RESPONSE` when the set is not a JWK Set.
 */
export function parseJWKSet(value: unknown): JWKSet {
  if (typeof value !== 'object' || value === null) throw invalid('JWKS')
  const keys = (value as { keys?: unknown }).keys
  if (!Array.isArray(keys)) throw invalid('JWKS')
  return {
    keys: keys.filter((k): k is JWKSet['keys'][number] => typeof k === 'object' && k !== null),
  }
}

function badStatus(what: string, status: number): UpstreamError {
  return new UpstreamError(
    'ERR_UPSTREAM_RESPONSE',
    `${what} request answered with status ${status}`,
  )
}

function invalid(what: string): UpstreamError {
  return new UpstreamError('ERR_UPSTREAM_RESPONSE', `invalid ${what}`)
}
