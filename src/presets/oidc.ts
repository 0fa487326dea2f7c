/**
 * `createOIDCProxy`: the OIDC proxy in the shape its users know from FastMCP's OIDCProxy (flat
 * options, `baseUrl`, `requiredScopes`, `allowedClientRedirectUris`), translated into
 * `upstream.kind: 'oidc'` and built by `createGatehouse`.
 */
import type { Gatehouse } from '../gatehouse.js'
import { createPresetGatehouse, pick, type ProxyCommonOptions } from './common.js'

export interface OIDCProxyOptions extends ProxyCommonOptions {
  /** The IdP's discovery document URL. */
  configUrl: string
  /** Default true: the issuer must match the URL and the document must be complete. */
  strict?: boolean
  audience?: string
  /** Scopes requested from the IdP (default: openid profile email offline_access). */
  upstreamScopes?: string[]
  /**
   * The algorithm the IdP signs ID tokens with; default: the asymmetric ones its discovery
   * document lists (RS256 when it lists none).
   */
  algorithm?:
    | 'RS256'
    | 'RS384'
    | 'RS512'
    | 'PS256'
    | 'PS384'
    | 'PS512'
    | 'ES256'
    | 'ES384'
    | 'ES512'
    | 'EdDSA'
}

/** An OIDC proxy from a discovery URL; discovery runs now, never on the request path. */
export function createOIDCProxy(options: OIDCProxyOptions): Promise<Gatehouse> {
  return createPresetGatehouse(options, {
    kind: 'oidc',
    configUrl: options.configUrl,
    ...pick(options, ['strict', 'audience', 'algorithm']),
    ...(options.upstreamScopes !== undefined ? { scopes: options.upstreamScopes } : {}),
  })
}
