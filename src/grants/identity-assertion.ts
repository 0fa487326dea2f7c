/**
 * The SEP-990 identity-assertion grant: RFC 7523 `jwt-bearer` with an ID-JAG (Identity Assertion
 * JWT Authorization Grant) from a trusted enterprise IdP, traded for an access token with no
 * browser and no refresh token.
 *
 * At the token endpoint (`identityAssertionGrant`): offered only when the provider implements
 * `exchangeIdentityAssertion`; confidential clients only (ID-JAG draft §8.1); `assertion` present.
 * Then the provider redeems it, with the request's DPoP key (`dpopJkt`), if any, to bind the token.
 *
 * The store-backed half, which `GatehouseProvider` delegates to (`redeemIdentityAssertion`): the
 * assertion's checks (`identity-assertion-verifier.ts`); the token's one audience among this
 * server's resources the ID-JAG names, chosen by `resource` when it names several (draft -04
 * lets an ID-JAG name several; `resource`, when sent, must be one of them); the scopes those the ID-JAG delegates that the resource knows and the client's
 * `assertionScopes` allow, narrowed by `scope` (asking beyond them is `invalid_scope`); then the
 * `jti` is spent in the same atomic step that creates the grant, so a failed request, a storage
 * fault included, leaves the assertion usable for the client's retry.
 */
import type { ResolvedConfig, ResolvedResource } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import type { Params } from '../http/params.js'
import { exchangeIdentityAssertionUnsupported } from '../contract/provider.js'
import { resolveResource } from '../contract/resource-indicators.js'
import { parseScope } from '../contract/scopes.js'
import type {
  IdentityAssertionParams,
  OAuthClientInformation,
  TokenResponse,
} from '../contract/types.js'
import { commitOrConfirm } from '../storage/commit-or-confirm.js'
import {
  nowSeconds,
  requiredParam,
  type GrantContext,
  type GrantHandler,
  type GrantHandlerDeps,
} from './grant-handler.js'
import type { GrantRecord } from './grant-store.js'
import { replayRefusal, type IdentityAssertionVerifier } from './identity-assertion-verifier.js'

/** `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an ID-JAG. */
export const identityAssertionGrant: GrantHandler = {
  offered: (provider) => provider.exchangeIdentityAssertion !== undefined,
  handle: checkAndRedeem,
}

function checkAndRedeem(
  form: Params,
  client: OAuthClientInformation,
  deps: GrantHandlerDeps,
): Promise<TokenResponse> {
  if (!deps.provider.exchangeIdentityAssertion) return exchangeIdentityAssertionUnsupported()
  // ID-JAG draft §8.1: confidential clients only; a public client uses the code flow instead.
  if (client.token_endpoint_auth_method === 'none') {
    throw new OAuthError(
      'unauthorized_client',
      'the jwt-bearer grant is for confidential clients',
      {
        reason: 'id_jag_public_client',
      },
    )
  }
  const assertion = requiredParam(form, 'assertion')
  const resource = form.get('resource')
  return deps.provider.exchangeIdentityAssertion(client, {
    assertion,
    scopes: parseScope(form.get('scope')),
    ...(resource !== undefined ? { resource } : {}),
    ...deps.binding,
  })
}

/** Trades a checked ID-JAG for an access token (no refresh token); see the module comment. */
export async function redeemIdentityAssertion(
  context: GrantContext,
  assertions: IdentityAssertionVerifier,
  client: OAuthClientInformation,
  params: IdentityAssertionParams,
): Promise<TokenResponse> {
  const { config, store, grants } = context
  const allowed = config.clients.find((c) => c.clientId === client.client_id)?.assertionScopes
  const { decision, replay } = await assertions.check(params.assertion, client, (verified) => {
    const resource = chooseResource(verified.resources, params.resource, config)
    const known = resource.scopes
    const delegated = verified.scopes.filter(
      (s) => (known.length === 0 || known.includes(s)) && (!allowed || allowed.includes(s)),
    )
    if (params.scopes.some((s) => !delegated.includes(s))) {
      throw new OAuthError('invalid_scope', 'the requested scope exceeds the grant', {
        reason: 'id_jag_scope_widening',
      })
    }
    // The IdP delegated scopes, none of which this client (`assertionScopes`) or resource may
    // have: nothing is left to grant, and a token with no scope would pass a resource requiring
    // none. (An ID-JAG that delegates nothing at all grants no scopes, as documented.)
    if (verified.scopes.length > 0 && delegated.length === 0) {
      throw new OAuthError('invalid_scope', 'none of the delegated scopes may be granted here', {
        reason: 'id_jag_no_scope',
      })
    }
    return { verified, resource, scopes: params.scopes.length > 0 ? params.scopes : delegated }
  })
  const { verified, resource, scopes } = decision
  const record: GrantRecord = {
    clientId: client.client_id,
    subject: verified.subject,
    scopes,
    resource: resource.url,
    createdAt: nowSeconds(context),
    claims: verified.claims,
    identityProvider: verified.issuer,
    // The actor the IdP named (draft -04 §3.1) travels as the token's `act` (RFC 8693 §4.1).
    ...(verified.actor !== undefined ? { actor: verified.actor } : {}),
  }
  const grantId = grants.newId()
  // ID-JAG draft §4.4.3: no refresh token; the client presents a fresh ID-JAG instead.
  const issued = await context.prepareTokens(client, grantId, record, scopes, {
    refresh: false,
    binding: { ...(params.dpopJkt !== undefined ? { dpopJkt: params.dpopJkt } : {}) },
  })
  // The jti is spent in the same atomic step that creates the grant: a request that fails, a
  // storage fault included, leaves the assertion usable for the client's retry.
  const applied = await commitOrConfirm(
    store,
    {
      absent: [replay.key],
      set: [
        { key: replay.key, value: grantId, ttlSeconds: replay.ttlSeconds },
        // No refresh token: the grant lives as long as its access token.
        grants.creation(grantId, record, { accessTokenSeconds: issued.response.expires_in }),
        ...issued.writes,
      ],
    },
    async () => (await store.get(replay.key)) === grantId,
  )
  // The marker names the grant the step created: our own (the step ran twice, a client or cluster
  // sent it again after a lost reply, and the second run found the jti spent) is a success.
  if (!applied && (await store.get(replay.key)) !== grantId) throw replayRefusal()
  grants.created(grantId)
  // The draft asks for the granted scope and resource in the response (§4.4.1).
  return { ...issued.response, resource: resource.url }
}

/**
 * The token's audience: the one of `ours` (this server's resources the ID-JAG names) that the
 * `resource` parameter asks for, or the only one when the parameter is absent.
 */
function chooseResource(
  ours: ResolvedResource[],
  requested: string | undefined,
  config: ResolvedConfig,
): ResolvedResource {
  if (requested !== undefined) {
    const { url } = resolveResource(requested, config)
    const chosen = ours.find((r) => r.url === url)
    if (!chosen) {
      throw new OAuthError('invalid_target', 'the resource is not the one the grant names', {
        reason: 'id_jag_resource_mismatch',
      })
    }
    return chosen
  }
  const [only, ...others] = ours
  if (!only || others.length > 0) {
    throw new OAuthError(
      'invalid_target',
      'the grant names several resources: choose one with resource',
      {
        reason: 'id_jag_resource_ambiguous',
      },
    )
  }
  return only
}
