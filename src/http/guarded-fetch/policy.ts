/**
 * The guard's policy: which URLs may be fetched (https, http only to allowed loopback, no
 * userinfo, no private or special-use host unless allowed) and which resolved addresses a
 * transport may connect to. A refusal is `UpstreamError` `ERR_FETCH_BLOCKED`.
 */
import { UpstreamError } from '../../errors.js'
import { classifyAddress, classifyHost } from './address-classes.js'
import type { GuardedFetchOptions } from './types.js'

/** The URL as the guard allows it, or `ERR_FETCH_BLOCKED`. */
export function checkURL(raw: string, options: GuardedFetchOptions): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw blocked('the URL is invalid')
  }
  if (url.username !== '' || url.password !== '') throw blocked('URLs with credentials are refused')
  const host = classifyHost(url.hostname)
  const loopbackAllowed = host === 'loopback' && options.allowHttpLoopback === true
  if (url.protocol === 'http:') {
    if (!loopbackAllowed) throw blocked('only https URLs are fetched')
  } else if (url.protocol !== 'https:') {
    throw blocked('only https URLs are fetched')
  }
  if (host !== 'public' && !loopbackAllowed && options.dangerouslyAllowPrivateNetwork !== true) {
    throw blocked(`${url.origin} is a ${host} address`)
  }
  return url
}

/** The address policy: the host rules of `checkURL`, applied to one resolved IP address. */
export function checkAddress(address: string, target: URL, options: GuardedFetchOptions): void {
  const kind = classifyAddress(address)
  if (kind === 'public' || options.dangerouslyAllowPrivateNetwork === true) return
  if (kind === 'loopback' && options.allowHttpLoopback === true) return
  throw blocked(`${target.origin} resolves to a ${kind} address`)
}

function blocked(why: string): UpstreamError {
  return new UpstreamError('ERR_FETCH_BLOCKED', `fetch refused: ${why}`)
}
