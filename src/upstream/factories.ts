/**
 * `createOIDCProxy` and `createOAuthProxy`: the proxy in the shape its users know from FastMCP's
 * OIDCProxy/OAuthProxy (flat options, `baseUrl`, `requiredScopes`, `allowedClientRedirectUris`).
 * They only translate into the one configuration schema and call `createGatehouse`, so every rule
 * and error message is the same as with a configuration file.
 */
import type { ErrorHook } from '../errors.js'
import { createGatehouse, type Gatehouse } from '../gatehouse.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import type { Store } from '../storage/store.js'

interface ProxyCommonOptions {
  /** Gatehouse's public URL: the issuer, and the origin of the MCP endpoint and the callback. */
  baseUrl: string
  /** Path of the protected MCP endpoint under `baseUrl` (default `/mcp`). */
  mcpPath?: string
  clientId: string
  clientSecret?: string
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'none'
  /** Scopes every token must carry; advertised to MCP clients. */
  requiredScopes?: string[]
  /** Scopes requested from the IdP (OIDC default: openid profile email offline_access). */
  upstreamScopes?: string[]
  redirectPath?: string
  /** Unset: any redirect URI the base rules allow; `[]`: none; else patterns. */
  allowedClientRedirectUris?: string[]
  extraAuthorizeParams?: Record<string, string>
  extraTokenParams?: Record<string, string>
  timeoutSeconds?: number
  /** 32+ characters; encrypts everything stored. */
  secret: string
  store: Store
  onError?: ErrorHook
  signatureVerifier?: SignatureVerifierFactory
  fetch?: typeof fetch
}

export interface OIDCProxyOptions extends ProxyCommonOptions {
  /** The IdP's discovery document URL. */
  configUrl: string
  /** Default true: the issuer must match the URL and the document must be complete. */
  strict?: boolean
  audience?: string
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

export interface OAuthProxyFactoryOptions extends ProxyCommonOptions {
  upstreamIssuer: string
  upstreamAuthorizationEndpoint: string
  upstreamTokenEndpoint: string
  upstreamRevocationEndpoint?: string
  /** Verifies the IdP's JWT access tokens to learn who signed in. */
  upstreamJwksUri: string
  accessTokenAudience?: string
}

/** An OIDC proxy from a discovery URL; discovery runs now, never on the request path. */
export function createOIDCProxy(options: OIDCProxyOptions): Promise<Gatehouse> {
  return build(options, {
    kind: 'oidc',
    configUrl: options.configUrl,
    ...pick(options, ['strict', 'audience', 'algorithm']),
  })
}

/** An OAuth proxy to an IdP without discovery. */
export function createOAuthProxy(options: OAuthProxyFactoryOptions): Promise<Gatehouse> {
  return build(options, {
    kind: 'oauth',
    issuer: options.upstreamIssuer,
    authorizationEndpoint: options.upstreamAuthorizationEndpoint,
    tokenEndpoint: options.upstreamTokenEndpoint,
    jwksUri: options.upstreamJwksUri,
    ...(options.upstreamRevocationEndpoint !== undefined
      ? { revocationEndpoint: options.upstreamRevocationEndpoint }
      : {}),
    ...pick(options, ['accessTokenAudience']),
  })
}

function build(options: ProxyCommonOptions, upstream: Record<string, unknown>): Promise<Gatehouse> {
  const base = options.baseUrl.replace(/\/+$/, '')
  const scopes = options.requiredScopes ?? []
  return createGatehouse({
    config: {
      issuer: base,
      secret: options.secret,
      resources: [{ url: `${base}${options.mcpPath ?? '/mcp'}`, scopes, requiredScopes: scopes }],
      ...(options.allowedClientRedirectUris !== undefined
        ? { registration: { allowedRedirectUris: options.allowedClientRedirectUris } }
        : {}),
      upstream: {
        ...upstream,
        clientId: options.clientId,
        ...(options.upstreamScopes !== undefined ? { scopes: options.upstreamScopes } : {}),
        ...pick(options, [
          'clientSecret',
          'tokenEndpointAuthMethod',
          'redirectPath',
          'extraAuthorizeParams',
          'extraTokenParams',
          'timeoutSeconds',
        ]),
      },
    },
    store: options.store,
    ...(options.onError ? { onError: options.onError } : {}),
    ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  })
}

function pick<T extends object, K extends keyof T>(
  source: T,
  keys: readonly K[],
): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const k of keys) if (source[k] !== undefined) out[k] = source[k]
  return out
}
