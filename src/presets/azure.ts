/**
 * `createAzureProxy` and `createAzureB2CProxy`: Gatehouse with Microsoft Entra ID (or Azure AD
 * B2C) as the identity provider, in the flat shape of the other proxy builders. They translate
 * into the one configuration schema (`upstream.kind: 'azure'`) and call `createGatehouse`, so the
 * rules and messages are those of a configuration file. The protected resource advertises every
 * `requiredScopes` entry and requires the non-OIDC ones. `AzureProvider.create`/`.fromB2C` are
 * the same builders under their older names.
 */
import type { ErrorHook } from '../errors.js'
import type { GuardedTransport } from '../http/guarded-fetch.js'
import type { Gatehouse } from '../gatehouse.js'
import type { SignatureVerifierFactory } from '../jwt/signature.js'
import type { Store } from '../storage/store.js'
import { createPresetGatehouse, pick } from './common.js'
import { AzureProvider as AzureProviderClass } from '../providers/azure/provider.js'
import { isOIDCScope } from '../providers/azure/scopes.js'

export type { AzureProviderOptions } from '../providers/azure/provider.js'

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

/**
 * Gatehouse signing users in at an Azure AD B2C user flow: derives the authority
 * (`{tenantName}.b2clogin.com` or `customDomain`), the tenant path
 * (`{tenantName}.onmicrosoft.com/{policyName}`) and the identifier URI; the issuer is checked
 * only when `tokenIssuer` is given. On-Behalf-Of is not available.
 */
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
  const scopes = options.requiredScopes ?? []
  return createPresetGatehouse(
    options,
    {
      kind: 'azure',
      ...upstream,
      requiredScopes: scopes,
      ...pick(options, [
        'clientCertificate',
        'identifierUri',
        'additionalAuthorizeScopes',
        'prompt',
        'authority',
      ]),
    },
    {
      required: scopes.filter((s) => !isOIDCScope(s)),
      gatehouse: pick(options, ['onWarning', 'transport', 'now']),
    },
  )
}

/**
 * The proxy class `gatehouse.base` has with the Azure provider, with the builders as statics:
 * `AzureProvider.create` is `createAzureProxy`, `AzureProvider.fromB2C` is `createAzureB2CProxy`
 * (older names, kept). New code calls the builders, and for On-Behalf-Of asks the capability
 * (`gatehouse.base.capabilities.onBehalfOf`, or `azureOBOToken` in a tool).
 */
export const AzureProvider: typeof AzureProviderClass & {
  create: typeof createAzureProxy
  fromB2C: typeof createAzureB2CProxy
} = Object.assign(AzureProviderClass, { create: createAzureProxy, fromB2C: createAzureB2CProxy })
export type AzureProvider = AzureProviderClass
