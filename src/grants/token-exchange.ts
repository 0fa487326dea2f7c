/**
 * RFC 8693 token exchange (`grant_type=urn:ietf:params:oauth:grant-type:token-exchange`): a
 * confidential client trades a subject token (Gatehouse's own access token, or a JWT of a trusted
 * external issuer) for a Gatehouse access token bound to one configured resource, optionally on
 * behalf of an actor (`actor_token`, giving an `act` claim). No browser, no refresh token.
 *
 * At the token endpoint (`tokenExchangeGrant`): offered only when the provider implements
 * `exchangeToken` (`tokenExchange.enabled`); confidential clients only; `subject_token` and
 * `subject_token_type` present; `actor_token` and `actor_token_type` together or not at all;
 * `requested_token_type`, when sent, `access_token` or `jwt`.
 *
 * The store-backed half (`redeemTokenExchange`), every check before anything is written:
 * 1. the client is one of `tokenExchange.clients` (else `unauthorized_client`);
 * 2. the target: `resource` (RFC 8707) and `audience` each name a configured resource exactly (no
 *    dot segments, no normalisation); both sent: the same one; neither: the client's first allowed
 *    resource; one the client may not get tokens for is `invalid_target`;
 * 3. the subject token, then the actor token (`subject-token.ts`), `invalid_grant` when one fails;
 * 4. `may_act` in the subject token (RFC 8693 §4.4): when present, an actor token is required and
 *    its `sub` and issuer must be the ones allowed (`may_act.iss`, by default the subject token's);
 * 5. scopes: those of the subject token, within the client's cap, the client's own registered
 *    `scope` (a workload's trust policy) and the target resource's scopes; asking beyond them, or
 *    nothing left to grant, is `invalid_scope` — a token is never wider than its subject token;
 * 6. `act`: `{ sub, iss }` of the actor (`sub` as its issuer wrote it), with the subject token's
 *    own `act` nested inside (§4.1), at most `MAX_ACTOR_DEPTH` deep; with no actor the subject
 *    token's `act` is kept;
 * 7. lifetime: at most `maxTokenLifetimeSeconds` (default `accessTokenTtlSeconds`), and never past
 *    the subject's or the actor's `exp`. The token gets a grant of its own that lives as long, so
 *    `/revoke` stops it at the guard; it carries `gty` (the grant-type URN) and `act`.
 *
 * Every refusal is audited (`tokens_issued`, outcome `failure`, with the reason slug); a success
 * is audited by the token endpoint like every grant.
 */
import { TOKEN_EXCHANGE_GRANT } from '../config/token-exchange-schema.js'
import type { ResolvedConfig, ResolvedResource } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import type { Params } from '../http/params.js'
import { resolveResource } from '../contract/resource-indicators.js'
import { parseScope } from '../contract/scopes.js'
import type {
  OAuthClientInformation,
  TokenExchangeParams,
  TokenResponse,
} from '../contract/types.js'
import {
  nowSeconds,
  requiredParam,
  type GrantContext,
  type GrantHandler,
  type GrantHandlerDeps,
} from './grant-handler.js'
import type { GrantRecord } from './grant-store.js'
import {
  ACCESS_TOKEN_TYPE,
  actDepth,
  JWT_TOKEN_TYPE,
  MAX_ACTOR_DEPTH,
  type PresentedToken,
  type SubjectTokenVerifier,
} from './subject-token.js'

export { TOKEN_EXCHANGE_GRANT } from '../config/token-exchange-schema.js'
export { ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE, MAX_ACTOR_DEPTH } from './subject-token.js'

/** `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`. */
export const tokenExchangeGrant: GrantHandler = {
  offered: (provider) => provider.exchangeToken !== undefined,
  handle: parseAndRedeem,
}

function parseAndRedeem(
  form: Params,
  client: OAuthClientInformation,
  deps: GrantHandlerDeps,
): Promise<TokenResponse> {
  if (!deps.provider.exchangeToken) {
    throw new OAuthError('unsupported_grant_type', 'the grant type is not supported', {
      reason: 'token_exchange_disabled',
    })
  }
  if (client.token_endpoint_auth_method === 'none') {
    throw new OAuthError(
      'unauthorized_client',
      'the token-exchange grant is for confidential clients',
      { reason: 'exchange_public_client' },
    )
  }
  const subjectToken = requiredParam(form, 'subject_token')
  const subjectTokenType = requiredParam(form, 'subject_token_type')
  const actorToken = form.get('actor_token')
  const actorTokenType = form.get('actor_token_type')
  if ((actorToken === undefined) !== (actorTokenType === undefined)) {
    throw new OAuthError('invalid_request', 'actor_token and actor_token_type go together', {
      reason: 'exchange_actor_incomplete',
    })
  }
  const requested = form.get('requested_token_type')
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE && requested !== JWT_TOKEN_TYPE) {
    throw new OAuthError('invalid_request', 'the requested_token_type is not supported', {
      reason: 'exchange_requested_token_type',
    })
  }
  const resource = form.get('resource')
  const audience = form.get('audience')
  return deps.provider.exchangeToken(client, {
    subjectToken,
    subjectTokenType,
    ...(actorToken !== undefined && actorTokenType !== undefined
      ? { actorToken, actorTokenType }
      : {}),
    ...(resource !== undefined ? { resource } : {}),
    ...(audience !== undefined ? { audience } : {}),
    ...(requested !== undefined ? { requestedTokenType: requested } : {}),
    scopes: parseScope(form.get('scope')),
    ...deps.binding,
  })
}

/** The store-backed redemption; every refusal is audited. See the module comment. */
export async function redeemTokenExchange(
  context: GrantContext,
  tokens: SubjectTokenVerifier,
  client: OAuthClientInformation,
  params: TokenExchangeParams,
): Promise<TokenResponse> {
  try {
    return await exchange(context, tokens, client, params)
  } catch (error) {
    if (error instanceof OAuthError) {
      context.audit?.emit({
        event: 'tokens_issued',
        outcome: 'failure',
        clientId: client.client_id,
        grantType: TOKEN_EXCHANGE_GRANT,
        ...(error.reason !== undefined ? { reason: error.reason } : {}),
      })
    }
    throw error
  }
}

async function exchange(
  context: GrantContext,
  tokens: SubjectTokenVerifier,
  client: OAuthClientInformation,
  params: TokenExchangeParams,
): Promise<TokenResponse> {
  const { config } = context
  const allowed = config.tokenExchange?.clients.find((c) => c.clientId === client.client_id)
  if (!allowed) {
    throw new OAuthError('unauthorized_client', 'the client may not exchange tokens', {
      reason: 'exchange_client_not_allowed',
    })
  }
  const target = targetResource(config, allowed.resources, params)
  const subject = await tokens.verify(params.subjectToken, params.subjectTokenType, 'subject')
  const actor =
    params.actorToken !== undefined && params.actorTokenType !== undefined
      ? await tokens.verify(params.actorToken, params.actorTokenType, 'actor')
      : undefined
  if (subject.mayAct !== undefined) checkMayAct(subject.mayAct, subject, actor)
  const scopes = grantedScopes(subject, allowed.scopes, client.scope, target, params.scopes)
  const act = actorClaim(subject, actor)
  const now = nowSeconds(context)
  const limit = config.tokenExchange?.maxTokenLifetimeSeconds ?? config.accessTokenTtlSeconds
  const ttlSeconds = Math.min(
    limit,
    config.accessTokenTtlSeconds,
    subject.expiresAt - now,
    actor ? actor.expiresAt - now : Infinity,
  )
  if (ttlSeconds < 1) {
    throw new OAuthError('invalid_grant', 'the subject token is not valid for this exchange', {
      reason: 'exchange_expiring',
    })
  }
  const record: GrantRecord = {
    clientId: client.client_id,
    subject: subject.subject,
    scopes,
    resource: target.url,
    createdAt: now,
    grantType: TOKEN_EXCHANGE_GRANT,
    ...(act !== undefined ? { actor: act } : {}),
    // Who vouches for the subject travels as `idp`: the external issuer, or the IdP that asserted
    // the user behind a Gatehouse token.
    ...(subject.own
      ? subject.identityProvider !== undefined
        ? { identityProvider: subject.identityProvider }
        : {}
      : { identityProvider: subject.issuer }),
    claims: keptClaims(subject),
  }
  const grantId = await context.grants.create(record, { accessTokenSeconds: ttlSeconds })
  // RFC 8693 §2.2.1: a refresh token is optional; none here, the client exchanges again instead.
  const issued = await context.prepareTokens(client, grantId, record, scopes, {
    refresh: false,
    ttlSeconds,
    binding: { ...(params.dpopJkt !== undefined ? { dpopJkt: params.dpopJkt } : {}) },
  })
  await context.store.commit({ set: issued.writes })
  return {
    ...issued.response,
    issued_token_type: params.requestedTokenType ?? ACCESS_TOKEN_TYPE,
  }
}

/** What travels from a Gatehouse subject token: roles, and the user at the proxy's IdP. */
function keptClaims(subject: PresentedToken): Record<string, unknown> {
  const claims: Record<string, unknown> = {}
  if (subject.roles) claims.roles = subject.roles
  const upstream = subject.upstream
  if (upstream) {
    claims.upstream_iss = upstream.issuer
    if (upstream.tenantId !== undefined) claims.tid = upstream.tenantId
    if (upstream.objectId !== undefined) claims.oid = upstream.objectId
  }
  return claims
}

/** Step 2 of the module comment. */
function targetResource(
  config: ResolvedConfig,
  clientResources: readonly string[] | undefined,
  params: TokenExchangeParams,
): ResolvedResource {
  const named = [params.resource, params.audience]
    .filter((v): v is string => v !== undefined)
    .map((v) => resolveResource(v, config))
  const first = named[0]
  if (named.some((r) => r.url !== first?.url)) {
    throw new OAuthError('invalid_target', 'resource and audience name different resources', {
      reason: 'exchange_target_mismatch',
    })
  }
  const permitted = (r: ResolvedResource) =>
    clientResources === undefined ||
    clientResources.some((u) => resolveResource(u, config).url === r.url)
  const target = first ?? config.resources.find(permitted)
  if (!target || !permitted(target)) {
    throw new OAuthError('invalid_target', 'the client may not obtain tokens for this resource', {
      reason: 'exchange_target_not_allowed',
    })
  }
  return target
}

/**
 * RFC 8693 §4.4: the actor must be the one `may_act` names: its `sub` in its issuer's namespace,
 * the issuer being `may_act.iss`, or the subject token's own issuer when `may_act` names none.
 */
function checkMayAct(
  mayAct: Record<string, unknown>,
  subject: PresentedToken,
  actor: PresentedToken | undefined,
): void {
  const ok =
    actor !== undefined &&
    mayAct.sub === actor.issuedSubject &&
    (mayAct.iss ?? subject.issuer) === actor.issuer
  if (!ok) {
    throw new OAuthError('invalid_grant', 'the actor may not act for the subject', {
      reason: 'exchange_may_act',
    })
  }
}

/** Step 5 of the module comment. */
function grantedScopes(
  subject: PresentedToken,
  clientCap: readonly string[] | undefined,
  registered: string | undefined,
  target: ResolvedResource,
  requested: string[],
): string[] {
  const narrowed = registered?.split(' ').filter((s) => s !== '')
  const available = [...new Set(subject.scopes)].filter(
    (s) =>
      s !== 'offline_access' &&
      (clientCap === undefined || clientCap.includes(s)) &&
      (narrowed === undefined || narrowed.includes(s)) &&
      (target.scopes.length === 0 || target.scopes.includes(s)),
  )
  if (requested.some((s) => !available.includes(s))) {
    throw new OAuthError('invalid_scope', 'the requested scope exceeds the subject token', {
      reason: 'exchange_scope_widening',
    })
  }
  const granted = requested.length > 0 ? requested : available
  if (granted.length === 0) {
    throw new OAuthError('invalid_scope', 'no scope may be granted for this resource', {
      reason: 'exchange_no_scope',
    })
  }
  return granted
}

/** Step 6 of the module comment. */
function actorClaim(
  subject: PresentedToken,
  actor: PresentedToken | undefined,
): Record<string, unknown> | undefined {
  if (!actor) return subject.act
  // `sub` as the actor's issuer wrote it: with `iss` beside it, it needs no prefix (§4.1).
  const act: Record<string, unknown> = {
    sub: actor.issuedSubject,
    iss: actor.issuer,
    ...(subject.act !== undefined ? { act: subject.act } : {}),
  }
  if (actDepth(act) > MAX_ACTOR_DEPTH) {
    throw new OAuthError('invalid_grant', 'the delegation chain is too long', {
      reason: 'exchange_chain_too_long',
    })
  }
  return act
}
