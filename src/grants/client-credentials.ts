/**
 * The client credentials grant (RFC 6749 §4.4; MCP extension SEP-1046): a confidential client gets
 * an access token for itself, with no user. The token endpoint has authenticated the client
 * (`client_secret_basic`, `client_secret_post` or `private_key_jwt`), and the `resource` is
 * resolved (defaulted when absent) before the rules apply. Rules:
 * 1. Confidential clients only: a public client (`none`) is `unauthorized_client`.
 * 2. Scopes: the client's allow-list (`clients[].clientCredentialsScopes` for a client the operator
 *    lists; `clientCredentials.dynamicClientScopes`, narrowed by the client's registered `scope`,
 *    for a client that registered itself or publishes a metadata document), intersected with the
 *    resource's scopes when it lists any. No scope asked for: the allowed ones (narrowed to the
 *    resource's `defaultScopes` when set). Asked-for scopes beyond the allowed ones are left out
 *    and the response's `scope` says what was granted (RFC 6749 §3.3): MCP clients ask for every
 *    scope the resource advertises by default (MCP §Scope Selection Strategy), so refusing would
 *    break them. Asking only for scopes the client may not have is `invalid_scope`, and nothing
 *    is issued: a token is never wider than the allow-list.
 * 3. The token's `aud` is the resource, `sub` is the client id, and it carries
 *    `gty: "client_credentials"` so that the guard (and tools) can tell a machine principal from a
 *    user whose subject happens to equal a client id.
 * 4. No refresh token, ever: the client can always ask again (RFC 6749 §4.4.3).
 * 5. Each token gets its own grant, living as long as the token, so `/revoke` stops it at the guard.
 *
 * At the token endpoint (`clientCredentialsGrant`): offered only when the provider implements
 * `exchangeClientCredentials` (`clientCredentials.enabled`); then the provider redeems, with the
 * request's DPoP key (`dpopJkt`), if any, to bind the token (RFC 9449). The
 * store-backed redemption (`redeemClientCredentials`) first holds the switches that let machine
 * clients in (`allowRegistration`, `allowMetadataDocumentClients`) at every exchange, not only at
 * registration, so turning one off cuts off the clients it let in.
 */
import type { ResolvedConfig, ResolvedResource } from '../config/schema.js'
import { CLIENT_CREDENTIALS_GRANT } from '../config/protocol.js'
import { OAuthError } from '../errors.js'
import type { Params } from '../http/params.js'
import { isClientIDURL } from '../contract/client-id-url.js'
import { resolveResource } from '../contract/resource-indicators.js'
import { parseScope } from '../contract/scopes.js'
import type {
  ClientCredentialsParams,
  OAuthClientInformation,
  TokenResponse,
} from '../contract/types.js'
import type { GrantContext, GrantHandler, GrantHandlerDeps } from './grant-handler.js'
import type { GrantRecord, Grants } from './grant-store.js'

export { CLIENT_CREDENTIALS_GRANT } from '../config/protocol.js'

/** The `gty` claim value of tokens from this grant. */
export const CLIENT_CREDENTIALS_GTY = CLIENT_CREDENTIALS_GRANT

/** `grant_type=client_credentials`: offered when the provider implements it. */
export const clientCredentialsGrant: GrantHandler = {
  offered: (provider) => provider.exchangeClientCredentials !== undefined,
  handle: parseAndRedeem,
}

function parseAndRedeem(
  form: Params,
  client: OAuthClientInformation,
  deps: GrantHandlerDeps,
): Promise<TokenResponse> {
  if (!deps.provider.exchangeClientCredentials) {
    throw new OAuthError('unsupported_grant_type', 'the grant type is not supported', {
      reason: 'client_credentials_disabled',
    })
  }
  const resource = form.get('resource')
  return deps.provider.exchangeClientCredentials(client, {
    scopes: parseScope(form.get('scope')),
    ...(resource !== undefined ? { resource } : {}),
    ...deps.binding,
  })
}

/**
 * The store-backed redemption (`GatehouseProvider.exchangeClientCredentials`): the switches for
 * clients the operator did not list, then {@link exchangeClientCredentials}.
 */
export async function redeemClientCredentials(
  context: GrantContext,
  client: OAuthClientInformation,
  params: ClientCredentialsParams,
): Promise<TokenResponse> {
  const { config } = context
  if (!config.clients.some((c) => c.clientId === client.client_id)) {
    const cc = config.clientCredentials
    const allowed = isClientIDURL(client.client_id)
      ? cc.allowMetadataDocumentClients
      : cc.allowRegistration
    if (!allowed) {
      throw new OAuthError(
        'unauthorized_client',
        'the client may not use the client_credentials grant',
        { reason: 'client_credentials_not_allowed' },
      )
    }
  }
  return exchangeClientCredentials(
    {
      config,
      grants: context.grants,
      now: context.now,
      issue: async (id, grant, scopes) => {
        const issued = await context.prepareTokens(client, id, grant, scopes, {
          refresh: false,
          binding: { ...(params.dpopJkt !== undefined ? { dpopJkt: params.dpopJkt } : {}) },
        })
        await context.store.commit({ set: issued.writes })
        return issued.response
      },
    },
    client,
    { scopes: params.scopes, resource: resolveResource(params.resource, config) },
  )
}

/** What this grant needs to know about the authenticated client (RFC 7591 field names). */
export interface MachineClient {
  client_id: string
  token_endpoint_auth_method: string
  /** The client's registered `scope` metadata (self-registered and metadata-document clients). */
  scope?: string
}

/** A client credentials request the token endpoint has parsed. */
export interface ClientCredentialsRequest {
  /** The `scope` parameter's tokens; empty when absent. */
  scopes: string[]
  /** The resource (RFC 8707) the token is for, already resolved (defaulted when absent). */
  resource: ResolvedResource
}

export interface ClientCredentialsDeps<T> {
  config: ResolvedConfig
  grants: Grants
  now: () => number
  /** Signs the access token for the new grant; never issues a refresh token. */
  issue: (grantId: string, grant: GrantRecord, scopes: string[]) => Promise<T>
}

/** Issues a token for `client` itself; see the module comment for the rules. */
export async function exchangeClientCredentials<T>(
  deps: ClientCredentialsDeps<T>,
  client: MachineClient,
  request: ClientCredentialsRequest,
): Promise<T> {
  if (client.token_endpoint_auth_method === 'none') {
    throw new OAuthError(
      'unauthorized_client',
      'the client_credentials grant is for confidential clients',
      {
        reason: 'client_credentials_public_client',
      },
    )
  }
  const scopes = grantedScopes(deps.config, client, request)
  // A token with no scope, which a resource requiring none accepts for everything, goes only to a
  // client the operator listed with no `clientCredentialsScopes` at all (resources and gateway
  // rules then decide by its id). Machine clients that let themselves in (registration, metadata
  // documents) never get one; nor does a client whose allow-list (or workload policy) has nothing
  // for this resource: its scopes were meant for another.
  if (scopes.length === 0) {
    const listed = deps.config.clients.find((c) => c.clientId === client.client_id)
    const scopeless =
      listed !== undefined &&
      (listed.clientCredentialsScopes ?? []).length === 0 &&
      client.scope === undefined
    if (!scopeless) {
      throw new OAuthError('invalid_scope', 'no scope may be granted to this client here', {
        reason: 'client_credentials_no_scope',
      })
    }
  }
  const record: GrantRecord = {
    clientId: client.client_id,
    subject: client.client_id,
    scopes,
    resource: request.resource.url,
    createdAt: Math.floor(deps.now() / 1000),
    grantType: CLIENT_CREDENTIALS_GRANT,
  }
  const grantId = await deps.grants.create(record, {
    accessTokenSeconds: deps.config.accessTokenTtlSeconds,
  })
  return deps.issue(grantId, record, scopes)
}

/** The most `client` may be granted for `resource` through this grant. */
export function allowedScopes(
  config: ResolvedConfig,
  client: MachineClient,
  resource: ResolvedResource,
): string[] {
  const listed = config.clients.find((c) => c.clientId === client.client_id)
  // The client's `scope`: its registered metadata, or for a listed client that authenticated
  // with a platform token, the workload identity policy's scopes (oauth/workload-identity.ts).
  const registered = client.scope?.split(' ').filter((s) => s !== '')
  const allowed = (
    listed ? (listed.clientCredentialsScopes ?? []) : config.clientCredentials.dynamicClientScopes
  ).filter((s) => registered === undefined || registered.includes(s))
  const known = resource.scopes
  return [...new Set(allowed)].filter(
    (s) => s !== 'offline_access' && (known.length === 0 || known.includes(s)),
  )
}

function grantedScopes(
  config: ResolvedConfig,
  client: MachineClient,
  request: ClientCredentialsRequest,
): string[] {
  const allowed = allowedScopes(config, client, request.resource)
  if (request.scopes.length === 0) {
    const defaults = request.resource.defaultScopes
    return defaults === undefined ? allowed : allowed.filter((s) => defaults.includes(s))
  }
  const granted = request.scopes.filter((s) => allowed.includes(s))
  if (granted.length === 0) {
    throw new OAuthError('invalid_scope', 'the requested scope exceeds what the client may have', {
      reason: 'client_credentials_scope',
    })
  }
  return granted
}
