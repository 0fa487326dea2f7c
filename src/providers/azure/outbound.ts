/**
 * How the Azure provider reaches Entra (discovery, keys, On-Behalf-Of): through the guarded fetch,
 * with the deployment's resolving transport when one is given. Plain http and a private address
 * are allowed only for an authority on loopback (the local Entra stand-in).
 */
import { isLoopbackHost } from '../../config/urls.js'
import type { GuardedTransport } from '../../http/guarded-fetch.js'

/** The outbound dependencies a Gatehouse was given. */
export interface AzureOutbound {
  fetch?: typeof fetch | undefined
  transport?: GuardedTransport | undefined
}

/** Guarded-fetch (and JWKS cache) options for requests to `url`. */
export function outboundOptions(
  url: string,
  outbound: AzureOutbound,
): {
  fetch?: typeof fetch
  transport?: GuardedTransport
  allowHttpLoopback: boolean
  dangerouslyAllowPrivateNetwork: boolean
} {
  const target = new URL(url)
  const loopback = target.protocol === 'http:' && isLoopbackHost(target.hostname)
  return {
    ...(outbound.fetch ? { fetch: outbound.fetch } : {}),
    ...(outbound.transport ? { transport: outbound.transport } : {}),
    allowHttpLoopback: loopback,
    dangerouslyAllowPrivateNetwork: loopback,
  }
}
