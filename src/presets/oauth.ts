/**
 * `createOAuthProxy`: the OAuth proxy in the shape its users know from FastMCP's OAuthProxy (flat
 * options), translated into `upstream.kind: 'oauth'` and built by `createGatehouse`.
 */
import type { Gatehouse } from '../gatehouse.js'
import { createPresetGatehouse, pick, type ProxyCommonOptions } from './common.js'

export interface OAuthProxyFactoryOptions extends ProxyCommonOptions {
  upstreamIssuer: string
  upstreamAuthorizationEndpoint: string
  upstreamTokenEndpoint: string
  upstreamRevocationEndpoint?: string
  /** Verifies the IdP's JWT access tokens to learn who signed in. */
  upstreamJwksUri: string
  accessTokenAudience?: string
  /** Scopes requested from the IdP (default: none). */
  upstreamScopes?: string[]
}

/** An OAuth proxy to an IdP without discovery. */
export function createOAuthProxy(options: OAuthProxyFactoryOptions): Promise<Gatehouse> {
  return createPresetGatehouse(options, {
    kind: 'oauth',
    issuer: options.upstreamIssuer,
    authorizationEndpoint: options.upstreamAuthorizationEndpoint,
    tokenEndpoint: options.upstreamTokenEndpoint,
    jwksUri: options.upstreamJwksUri,
    ...(options.upstreamRevocationEndpoint !== undefined
      ? { revocationEndpoint: options.upstreamRevocationEndpoint }
      : {}),
    ...pick(options, ['accessTokenAudience']),
    ...(options.upstreamScopes !== undefined ? { scopes: options.upstreamScopes } : {}),
  })
}
