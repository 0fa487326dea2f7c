/**
 * Entra's per-tenant v2 discovery document, read once at start-up: it names the tenant's GUID
 * (in `issuer`) when the tenant was configured by domain, and the endpoints. Checks: status 200,
 * JSON; `issuer` is `{authority}/{GUID}/v2.0` (single tenant; the GUID itself when one was
 * configured) or `{authority}/{tenantid}/v2.0` (organizations/common); every endpoint lies under
 * the authority. Anything else fails start-up.
 */
import { UpstreamError } from '../../errors.js'
import { outboundOptions, type AzureOutbound } from './outbound.js'
import { createGuardedFetch } from '../../http/guarded-fetch.js'
import { CONSUMERS_TENANT_ID, isTenantGUID, type AzureAuthority } from './authority.js'

/** What start-up learnt about the tenant. */
export interface AzureTenantMetadata {
  authorizationEndpoint: string
  tokenEndpoint: string
  jwksUri: string
  /** The tenant GUID, for a single tenant; undefined for organizations/common. */
  tenantGuid: string | undefined
}

export async function discoverTenant(
  authority: AzureAuthority,
  tenantId: string,
  options: AzureOutbound & { timeoutMs: number },
): Promise<AzureTenantMetadata> {
  const guarded = createGuardedFetch({
    ...outboundOptions(authority.base, options),
    timeoutMs: options.timeoutMs,
  })
  const response = await guarded(authority.discoveryUrl, {
    headers: { accept: 'application/json' },
  })
  if (response.status !== 200) {
    throw new UpstreamError(
      'ERR_UPSTREAM_RESPONSE',
      `Entra discovery answered with status ${response.status}`,
    )
  }
  const doc = response.json() as Record<string, unknown>
  const under = (value: unknown): string => {
    if (typeof value !== 'string' || !value.startsWith(`${authority.base}/`)) {
      throw new UpstreamError('ERR_UPSTREAM_RESPONSE', 'Entra discovery names foreign endpoints')
    }
    return value
  }
  const issuer = under(doc.issuer)
  const match = /^([^/]+)\/v2\.0$/.exec(issuer.slice(authority.base.length + 1))
  const named = match?.[1]
  let tenantGuid: string | undefined
  const alias = tenantId.toLowerCase()
  if (authority.multiTenant && alias !== 'consumers') {
    if (named !== '{tenantid}') throw wrongIssuer()
  } else {
    if (!isTenantGUID(named)) throw wrongIssuer()
    if (isTenantGUID(tenantId) && named.toLowerCase() !== tenantId.toLowerCase()) {
      throw wrongIssuer()
    }
    if (alias === 'consumers' && named !== CONSUMERS_TENANT_ID) throw wrongIssuer()
    tenantGuid = named.toLowerCase()
  }
  return {
    authorizationEndpoint: under(doc.authorization_endpoint),
    tokenEndpoint: under(doc.token_endpoint),
    jwksUri: under(doc.jwks_uri),
    tenantGuid,
  }
}

function wrongIssuer(): UpstreamError {
  return new UpstreamError('ERR_UPSTREAM_RESPONSE', 'Entra discovery names an unexpected issuer')
}
