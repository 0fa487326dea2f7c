/**
 * What the flat-option builders (`createOIDCProxy`, `createOAuthProxy`, `createAzureProxy` …)
 * share: the options every proxy has, and the translation into the one configuration schema
 * followed by `createGatehouse`, so every rule and error message is the same as with a
 * configuration file. The provider is then chosen by `upstream.kind` through the registry
 * (`src/providers/registry.ts`). Presets sit above the core, beside `createGatehouse`.
 */
import type { ErrorHook } from '../errors.js'
import { createGatehouse, type Gatehouse, type GatehouseOptions } from '../gatehouse.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import type { Store } from '../storage/store.js'

export interface ProxyCommonOptions {
  /** Gatehouse's public URL: the issuer, and the origin of the MCP endpoint and the callback. */
  baseUrl: string
  /** Path of the protected MCP endpoint under `baseUrl` (default `/mcp`). */
  mcpPath?: string
  clientId: string
  clientSecret?: string
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'none'
  /** Scopes every token must carry; advertised to MCP clients. */
  requiredScopes?: string[]
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

/**
 * Gatehouse for `upstream` (its `kind` and provider-specific members; the common ones are added
 * here), with one protected resource at `{baseUrl}{mcpPath}` offering `requiredScopes` and
 * requiring `required` of them.
 */
export function createPresetGatehouse(
  options: ProxyCommonOptions,
  upstream: Record<string, unknown>,
  extra: {
    required?: readonly string[]
    gatehouse?: Omit<GatehouseOptions, 'config' | 'store'>
  } = {},
): Promise<Gatehouse> {
  const base = options.baseUrl.replace(/\/+$/, '')
  const scopes = options.requiredScopes ?? []
  return createGatehouse({
    config: {
      issuer: base,
      secret: options.secret,
      resources: [
        {
          url: `${base}${options.mcpPath ?? '/mcp'}`,
          scopes,
          requiredScopes: [...(extra.required ?? scopes)],
        },
      ],
      ...(options.allowedClientRedirectUris !== undefined
        ? { registration: { allowedRedirectUris: options.allowedClientRedirectUris } }
        : {}),
      upstream: {
        ...upstream,
        clientId: options.clientId,
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
    ...pick(options, ['onError', 'signatureVerifier', 'fetch']),
    ...extra.gatehouse,
  })
}

/** The members of `source` named in `keys` that are set. */
export function pick<T extends object, K extends keyof T>(
  source: T,
  keys: readonly K[],
): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {}
  for (const k of keys) if (source[k] !== undefined) out[k] = source[k]
  return out
}
