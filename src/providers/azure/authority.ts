/**
 * Where an Entra tenant (or a B2C policy) lives and which token issuers it may use. Entra's v2
 * issuer is `{authority}/{tenant GUID}/v2.0`; for `organizations`, `common` and `consumers` the
 * GUID is that of the user's own directory, so the issuer is a template filled from the token's
 * `tid` (optionally limited to an allow-list). v1 tokens (`https://sts.windows.net/{tid}/`) are
 * accepted only when switched on.
 */
import { AZURE_CLOUDS, TENANT_GUID } from '../../config/azure-schema.js'

/** `organizations`, `common`, `consumers`: the tenant is the signed-in user's. */
export const MULTI_TENANT_ALIASES: ReadonlySet<string> = new Set([
  'organizations',
  'common',
  'consumers',
])

/** The directory of personal Microsoft accounts (`consumers`). */
export const CONSUMERS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad'

export interface AzureAuthorityInput {
  tenantId?: string | undefined
  cloud?: 'public' | 'usgov' | 'china' | undefined
  authority?: string | undefined
  b2c?:
    | {
        tenantName: string
        policyName: string
        customDomain?: string | undefined
        tokenIssuer?: string | undefined
      }
    | undefined
}

/** Endpoints and issuer rules of one Entra tenant or B2C policy. */
export interface AzureAuthority {
  /** Origin (and path) of the sign-in service, no trailing slash. */
  readonly base: string
  /** The path segment(s) naming the tenant: GUID, domain, alias, or `{tenant}.onmicrosoft.com/{policy}`. */
  readonly tenantPath: string
  readonly authorizationEndpoint: string
  readonly tokenEndpoint: string
  readonly jwksUri: string
  /** The v2 discovery document of the tenant. */
  readonly discoveryUrl: string
  readonly multiTenant: boolean
  readonly b2c: boolean
  /** B2C only: the configured issuer, or undefined (issuer not checked). */
  readonly b2cTokenIssuer: string | undefined
  /**
   * B2C only: the user flow or custom policy; its tokens name it in `tfp` (or the legacy `acr`),
   * compared case-insensitively.
   */
  readonly b2cPolicy: string | undefined
  /** Host of v1 issuers in this cloud. */
  readonly v1IssuerBase: string
}

/** Derives the endpoints from the configuration (no I/O). */
export function resolveAuthority(input: AzureAuthorityInput): AzureAuthority {
  if (input.b2c) {
    const { tenantName, policyName, customDomain } = input.b2c
    const host = customDomain
      ? customDomain.replace(/^https?:\/\//, '').replace(/\/+$/, '')
      : `${tenantName}.b2clogin.com`
    const base = (input.authority ?? `https://${host}`).replace(/\/+$/, '')
    const tenantPath = `${tenantName}.onmicrosoft.com/${policyName}`
    return {
      ...endpoints(base, tenantPath),
      multiTenant: false,
      b2c: true,
      b2cTokenIssuer: input.b2c.tokenIssuer,
      b2cPolicy: policyName,
      v1IssuerBase: 'https://sts.windows.net',
    }
  }
  const tenant = input.tenantId
  if (tenant === undefined) throw new TypeError('tenantId is required')
  const cloud = input.cloud ?? 'public'
  const base = (input.authority ?? AZURE_CLOUDS[cloud]).replace(/\/+$/, '')
  return {
    ...endpoints(base, tenant),
    multiTenant: MULTI_TENANT_ALIASES.has(tenant.toLowerCase()),
    b2c: false,
    b2cTokenIssuer: undefined,
    b2cPolicy: undefined,
    v1IssuerBase: cloud === 'china' ? 'https://sts.chinacloudapi.cn' : 'https://sts.windows.net',
  }
}

function endpoints(base: string, tenantPath: string) {
  const t = `${base}/${tenantPath}`
  return {
    base,
    tenantPath,
    authorizationEndpoint: `${t}/oauth2/v2.0/authorize`,
    tokenEndpoint: `${t}/oauth2/v2.0/token`,
    jwksUri: `${t}/discovery/v2.0/keys`,
    discoveryUrl: `${t}/v2.0/.well-known/openid-configuration`,
  }
}

/** The v2 issuer of a tenant GUID. */
export function v2Issuer(authority: AzureAuthority, tid: string): string {
  return `${authority.base}/${tid}/v2.0`
}

/** The v1 issuer of a tenant GUID. */
export function v1Issuer(authority: AzureAuthority, tid: string): string {
  return `${authority.v1IssuerBase}/${tid}/`
}

/**
 * B2C: whether the claims name the configured policy, in `tfp` or (older tenants) `acr`,
 * case-insensitively. Every user flow of a B2C tenant signs with the same keys and issuer, so
 * without this a token of a weaker flow (no MFA …) would pass.
 */
export function isB2CPolicy(authority: AzureAuthority, claims: Record<string, unknown>): boolean {
  const policy = authority.b2cPolicy?.toLowerCase()
  if (policy === undefined) return false
  const named = typeof claims.tfp === 'string' ? claims.tfp : claims.acr
  return typeof named === 'string' && named.toLowerCase() === policy
}

/** Whether `value` is a tenant GUID. */
export function isTenantGUID(value: unknown): value is string {
  return typeof value === 'string' && TENANT_GUID.test(value)
}
