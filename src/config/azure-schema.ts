/**
 * The `kind: 'azure'` member of the upstream union: Microsoft Entra ID (and Azure AD B2C) as the
 * identity provider. Only shapes are checked here; `src/providers/azure/` derives endpoints and rules.
 */
import * as z from 'zod'
import { SCOPE_TOKEN } from './protocol.js'
import { absoluteURL, parseURL } from './urls.js'

/** One scope token (RFC 6749 §3.3), with the message configuration errors show. */
export const scopeToken = z
  .string()
  .regex(SCOPE_TOKEN, 'a scope is one token of visible ASCII without " or \\')

/** A directory (tenant) id: a GUID. */
export const TENANT_GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The sign-in authorities of the Microsoft clouds. */
export const AZURE_CLOUDS = {
  public: 'https://login.microsoftonline.com',
  usgov: 'https://login.microsoftonline.us',
  china: 'https://login.chinacloudapi.cn',
} as const

/** Fields of the Entra upstream besides those every upstream has. */
export const azureUpstreamFields = {
  kind: z.literal('azure'),
  /**
   * The directory: a tenant GUID, a verified domain (`contoso.onmicrosoft.com`), or
   * `organizations`, `common`, `consumers`. Not used with `b2c`.
   */
  tenantId: z
    .string()
    .regex(
      /^[A-Za-z0-9.-]{1,256}$/,
      'must be a tenant GUID, a domain or organizations/common/consumers',
    )
    .optional(),
  /** Which Microsoft cloud (default public; `usgov`, `china` for sovereign clouds). */
  cloud: z.enum(['public', 'usgov', 'china']).default('public'),
  /**
   * Replaces the cloud's sign-in host (`https://login.example`), e.g. the local Entra stand-in.
   * http is accepted on loopback only.
   */
  authority: absoluteURL().optional(),
  /** The Application ID URI of this API (default `api://{clientId}`). */
  identifierUri: z.string().min(1).optional(),
  /**
   * This API's scopes, unprefixed (`read`), plus any OIDC scopes; requested when the MCP client
   * asks for none, and checked in Entra's access token (`scp`, OIDC ones excepted).
   */
  requiredScopes: z.array(scopeToken).default([]),
  /** Sent to Entra's authorize endpoint only (e.g. `User.Read` for On-Behalf-Of); never checked. */
  additionalAuthorizeScopes: z.array(scopeToken).default([]),
  /**
   * How the client secret is sent: default `client_secret_post`, as Microsoft documents it for the
   * code exchange and On-Behalf-Of; `client_secret_basic` uses RFC 6749 §2.3.1's form-urlencoded
   * id and secret on both.
   */
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'])
    .default('client_secret_post'),
  /** Multi-tenant apps: the only tenants (GUIDs, any case) whose users may sign in. */
  allowedTenants: z
    .array(z.string().regex(TENANT_GUID, 'must be a tenant GUID').toLowerCase())
    .optional(),
  /** Also accept v1.0 access tokens (`iss` `https://sts.windows.net/{tid}/`). Default false. */
  allowV1Tokens: z.boolean().default(false),
  /** `prompt` sent to Entra (the MCP client's own `prompt` is never forwarded). */
  prompt: z.enum(['login', 'select_account', 'consent', 'none']).optional(),
  /**
   * A certificate credential instead of `clientSecret` (Entra's `private_key_jwt`): the PKCS#8 PEM
   * key and the PEM certificate uploaded to the app registration. From the environment or a file.
   */
  clientCertificate: z
    .strictObject({
      privateKey: z.string().min(1),
      certificate: z.string().min(1),
      algorithm: z.enum(['PS256', 'RS256']).default('PS256'),
    })
    .optional(),
  /** Azure AD B2C instead of Entra ID. */
  b2c: z
    .strictObject({
      /** Short tenant name, without `.onmicrosoft.com`. */
      tenantName: z
        .string()
        .regex(/^[A-Za-z0-9-]{1,64}$/, 'must be the short tenant name, without .onmicrosoft.com'),
      /** User flow or custom policy, e.g. `B2C_1_susi`. */
      policyName: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be a policy name'),
      /** Custom domain of the B2C authority (default `{tenantName}.b2clogin.com`). */
      customDomain: z.string().min(1).optional(),
      /** Expected `iss` of B2C tokens; unset, the issuer is not checked (signature and audience are). */
      tokenIssuer: z.string().min(1).optional(),
    })
    .optional(),
}

/**
 * Whether `value` is an https URL, or http on a loopback host. A string that is not a URL passes:
 * the field's own schema reports it.
 */
export function isSecureOrLoopbackURL(value: string, isLoopbackHost: (h: string) => boolean) {
  const url = parseURL(value)
  if (url === undefined) return true
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname))
}
