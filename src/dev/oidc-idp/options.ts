/**
 * Validation of the dev IdP's options: each problem is a `TypeError` naming the option.
 */
import { isIPv4, isIPv6 } from 'node:net'
import type { ClientMetadata } from 'oidc-provider'

import { SCOPE_TOKEN } from '../../config/protocol.js'
import {
  DEV_IDP_SIGNING_ALGORITHMS,
  type DevIdPAccount,
  type DevIdPClient,
  type DevIdPSettings,
  type DevIdPSigningAlgorithm,
  type DevIdPUser,
} from './types.js'
export { DEV_IDP_SIGNING_ALGORITHMS, type DevIdPSigningAlgorithm } from './types.js'

const BASE_SCOPES = ['openid', 'profile', 'email', 'offline_access']
/** Claims the IdP sets itself; users may not override them through `claims`. */
const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'nonce',
  'auth_time',
  'acr',
  'amr',
  'azp',
  'at_hash',
  'c_hash',
  's_hash',
  'sid',
  'cnf',
  'name',
  'preferred_username',
  'email',
  'email_verified',
])

/** The host as it appears in the issuer URL; a `TypeError` unless it is a loopback address. */
export function loopbackURLHost(host: string): string {
  if (isIPv4(host) && host.startsWith('127.')) return host
  if (isIPv6(host) && URL.parse(`http://[${host}]/`)?.hostname === '[::1]') return '[::1]'
  throw new TypeError(
    `the dev identity provider listens on a loopback address only (e.g. 127.0.0.1), not ${JSON.stringify(host)}`,
  )
}

/** The `idTokenSigningAlg` option, default RS256; a `TypeError` for anything not offered. */
export function signingAlgorithm(value: string | undefined): DevIdPSigningAlgorithm {
  if (value === undefined) return 'RS256'
  const known = DEV_IDP_SIGNING_ALGORITHMS.find((alg) => alg === value)
  if (known === undefined) {
    throw new TypeError(
      `idTokenSigningAlg must be one of ${DEV_IDP_SIGNING_ALGORITHMS.join(', ')}, not ${JSON.stringify(value)}`,
    )
  }
  return known
}

/** A lifetime option in seconds, or `fallback` when absent. */
export function ttl(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value <= 0) {
    throw new TypeError(`${name} must be a positive integer`)
  }
  return value
}

/** The users with their defaults applied, and the custom claim names they carry. */
export function accountsFrom(
  users: readonly DevIdPUser[],
): Pick<DevIdPSettings, 'accounts' | 'customClaims'> {
  if (users.length === 0) throw new TypeError('the dev identity provider needs at least one user')
  const usernames = new Set<string>()
  const subs = new Set<string>()
  const customClaims = new Set<string>()
  const accounts = users.map((user, index): DevIdPAccount => {
    if (user.username === '' || user.password === '') {
      throw new TypeError(`users[${index}] needs a username and a password`)
    }
    const sub = user.sub ?? user.username
    if (sub === '') throw new TypeError(`users[${index}].sub must not be empty`)
    if (usernames.has(user.username)) throw new TypeError(`users[${index}]: duplicate username`)
    if (subs.has(sub)) throw new TypeError(`users[${index}]: duplicate sub`)
    usernames.add(user.username)
    subs.add(sub)
    const claims = { ...user.claims }
    for (const claim of Object.keys(claims)) {
      if (RESERVED_CLAIMS.has(claim)) {
        throw new TypeError(`users[${index}].claims.${claim} is set by the dev identity provider`)
      }
      customClaims.add(claim)
    }
    return {
      username: user.username,
      password: user.password,
      sub,
      claims,
      ...(user.email === undefined ? {} : { email: user.email }),
      ...(user.name === undefined ? {} : { name: user.name }),
    }
  })
  return { accounts, customClaims: [...customClaims] }
}

/** The clients as oidc-provider client metadata. */
export function clientsFrom(clients: readonly DevIdPClient[]): ClientMetadata[] {
  if (clients.length === 0) {
    throw new TypeError('the dev identity provider needs at least one client')
  }
  const ids = new Set<string>()
  return clients.map((client, index): ClientMetadata => {
    const where = `clients[${index}]`
    if (client.clientId === '') throw new TypeError(`${where}.clientId must not be empty`)
    if (ids.has(client.clientId)) throw new TypeError(`${where}: duplicate clientId`)
    ids.add(client.clientId)
    if (client.redirectUris.length === 0) {
      throw new TypeError(`${where} needs at least one redirect URI`)
    }
    for (const uri of client.redirectUris) {
      const url = URL.parse(uri)
      if (url === null || url.hash !== '' || uri.includes('#')) {
        throw new TypeError(
          `${where}: ${JSON.stringify(uri)} is not an absolute URI without fragment`,
        )
      }
    }
    const method =
      client.tokenEndpointAuthMethod ??
      (client.clientSecret === undefined ? 'none' : 'client_secret_basic')
    if (method === 'none' && client.clientSecret !== undefined) {
      throw new TypeError(`${where}: a public client ('none') has no clientSecret`)
    }
    if (method !== 'none' && (client.clientSecret ?? '') === '') {
      throw new TypeError(`${where}: ${method} needs a clientSecret`)
    }
    return {
      client_id: client.clientId,
      client_name: client.clientName ?? client.clientId,
      redirect_uris: [...client.redirectUris],
      response_types: ['code'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: method,
      ...(client.clientSecret === undefined ? {} : { client_secret: client.clientSecret }),
    }
  })
}

/** The accepted scopes: the base four plus `extra`. */
export function scopesFrom(extra: readonly string[]): string[] {
  for (const scope of extra) {
    if (!SCOPE_TOKEN.test(scope)) throw new TypeError(`${JSON.stringify(scope)} is not a scope`)
  }
  return [...new Set([...BASE_SCOPES, ...extra])]
}
