/**
 * `createAzureProxy` and `createAzureB2CProxy`: Gatehouse with Microsoft Entra ID (or Azure AD
 * B2C) as the identity provider, in the flat shape of the other proxy factories. They translate
 * into the one configuration schema (`upstream.kind: 'azure'`) and call `createGatehouse`, so the
 * rules and messages are those of a configuration file. The protected resource advertises every
 * `requiredScopes` entry and requires the non-OIDC ones.
 */
import type { ErrorHook } from '../errors.js'
import type { GuardedTransport } from '../http/guarded-fetch.js'
import { createGatehouse, type Gatehouse } from '../gatehouse.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import type { Store } from '../storage/store.js'
import { isOidcScope } from './scopes.js'

interface AzureCommonOptions {
  /** Gatehouse's public URL: the issuer; register `{baseUrl}{redirectPath}` in the portal. */
  baseUrl: string
  /** Path of the protected MCP endpoint under `baseUrl` (default `/mcp`). */
  mcpPath?: string
  /** Application (client) ID of the app registration. */
  clientId: string
  /** A client secret of the app registration (from the environment, never the command line). */
  clientSecret?: string
  /**
   * How the secret is sent at code exchange, refresh and On-Behalf-Of (default
   * `client_secret_post`, as Microsoft documents; Basic form-urlencodes id and secret).
   */
  tokenEndpointAuthMethod?: 'client_secret_basic' | 'client_secret_post' | 'none'
  /** A certificate credential instead of `clientSecret` (PEM key and certificate). */
  clientCertificate?: {
    privateKey: string
    certificate: string
    algorithm?: 'PS256' | 'RS256'
  }
  /** Application ID URI (default `api://{clientId}`; B2C `https://{tenant}.onmicrosoft.com/{clientId}`). */
  identifierUri?: string
  /** This API's scopes, unprefixed (`read`), OIDC scopes allowed; see the scope table. */
  requiredScopes?: string[]
  /** Authorize-only scopes such as `User.Read` (never validated or advertised). */
  additionalAuthorizeScopes?: string[]
  /** `prompt` sent to Entra; the MCP client's own `prompt` is never forwarded. */
  prompt?: 'login' | 'select_account' | 'consent' | 'none'
  /** Replaces the cloud's sign-in host (https; http on loopback for the local stand-in). */
  authority?: string
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
  onWarning?: (message: string) => void
  signatureVerifier?: SignatureVerifierFactory
  fetch?: typeof fetch
  /** Checks resolved addresses and pins connections for every request to Entra. */
  transport?: GuardedTransport
  now?: () => number
}

export interface AzureProxyOptions extends AzureCommonOptions {
  /** Tenant GUID or domain, or `organizations`, `common`, `consumers`. */
  tenantId: string
  /** Sovereign clouds: `usgov`, `china` (default `public`). */
  cloud?: 'public' | 'usgov' | 'china'
  /** Multi-tenant apps: the only tenant GUIDs whose users may sign in. */
  allowedTenants?: string[]
  /** Accept v1.0 access tokens (`https://sts.windows.net/{tid}/`). Default false. */
  allowV1Tokens?: boolean
}

export interface AzureB2CProxyOptions extends AzureCommonOptions {
  /** Short tenant name, without `.onmicrosoft.com`. */
  tenantName: string
  /** User flow or custom policy (`B2C_1_susi`). */
  policyName: string
  /** Custom domain of the authority (default `{tenantName}.b2clogin.com`). */
  customDomain?: string
  /** Expected `iss`; unset, the issuer is not checked (signature and audience still are). */
  tokenIssuer?: string
}

/** Gatehouse signing users in at Microsoft Entra ID; discovery of the tenant runs now. */
export function createAzureProxy(options: AzureProxyOptions): Promise<Gatehouse> {
  return build(options, {
    tenantId: options.tenantId,
    ...pick(options, ['cloud', 'allowedTenants', 'allowV1Tokens']),
  })
}

/** Gatehouse signing users in at an Azure AD B2C user flow. On-Behalf-Of is not available. */
export function createAzureB2CProxy(options: AzureB2CProxyOptions): Promise<Gatehouse> {
  return build(options, {
    b2c: {
      tenantName: options.tenantName,
      policyName: options.policyName,
      ...pick(options, ['customDomain', 'tokenIssuer']),
    },
  })
}

function build(options: AzureCommonOptions, upstream: Record<string, unknown>): Promise<Gatehouse> {
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
          requiredScopes: scopes.filter((s) => !isOidcScope(s)),
        },
      ],
      ...(options.allowedClientRedirectUris !== undefined
        ? { registration: { allowedRedirectUris: options.allowedClientRedirectUris } }
        : {}),
      upstream: {
        kind: 'azure',
        ...upstream,
        clientId: options.clientId,
        requiredScopes: scopes,
        ...pick(options, [
          'clientSecret',
          'clientCertificate',
          'tokenEndpointAuthMethod',
          'identifierUri',
          'additionalAuthorizeScopes',
          'prompt',
          'authority',
          'redirectPath',
          'extraAuthorizeParams',
          'extraTokenParams',
          'timeoutSeconds',
        ]),
      },
    },
    store: options.store,
    ...pick(options, ['onError', 'onWarning', 'signatureVerifier', 'fetch', 'transport', 'now']),
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
