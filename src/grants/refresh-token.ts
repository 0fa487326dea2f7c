/**
 * The refresh token grant (OAuth 2.1 §4.3), with rotation on every use.
 *
 * At the token endpoint (`refreshTokenGrant`), in order: `refresh_token` present; known and issued
 * to this client; not expired; for a token not yet rotated, a DPoP-bound token only with a proof
 * of its key (RFC 9449 §5, `assertRefreshBinding`), `scope` within the grant's and `resource`,
 * when sent, the grant's. A rotated token goes on to the provider, which treats it as reuse. Then
 * the provider rotates (`exchangeRefreshToken`, with the request's binding).
 *
 * The store-backed half, which `GatehouseProvider` delegates to: refresh tokens are kept only as
 * SHA-256 (`rt:`); rotation is one atomic step that spends the old token (its reuse marker
 * `rt-used:`), writes the new one and renews the grant, only while the grant lives. A rotated token
 * presented again revokes the whole family (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2).
 */
import { assertRefreshAllowed } from './refresh-policy.js'
import { OAuthError } from '../errors.js'
import type { Params } from '../http/params.js'
import { randomToken } from '../http/random.js'
import { assertRefreshBinding } from '../contract/dpop-binding.js'
import { resolveResource } from '../contract/resource-indicators.js'
import { parseScope } from '../contract/scopes.js'
import type {
  OAuthClientInformation,
  RefreshToken,
  TokenBinding,
  TokenResponse,
} from '../contract/types.js'
import { commitOrConfirm } from '../storage/commit-or-confirm.js'
import { storageKey } from '../storage/keys.js'
import type { AtomicStep } from '../storage/store.js'
import {
  hashOf,
  requiredParam,
  type GrantContext,
  type GrantHandler,
  type GrantHandlerDeps,
} from './grant-handler.js'

/** `grant_type=refresh_token`: the endpoint's checks, then the provider's rotation. */
export const refreshTokenGrant: GrantHandler = {
  offered: () => true,
  handle: checkAndRotate,
}

async function checkAndRotate(
  form: Params,
  client: OAuthClientInformation,
  deps: GrantHandlerDeps,
): Promise<TokenResponse> {
  const token = requiredParam(form, 'refresh_token')
  const record = await deps.provider.loadRefreshToken(client, token)
  const invalidToken = (reason: string) =>
    new OAuthError('invalid_grant', 'the refresh token is invalid', { reason })
  if (!record) throw invalidToken('unknown_refresh_token')
  if (record.clientId !== client.client_id) throw invalidToken('refresh_client_mismatch')
  if (!record.rotated && record.expiresAt * 1000 <= deps.now()) {
    throw invalidToken('refresh_expired')
  }
  const scopes = parseScope(form.get('scope'))
  if (!record.rotated) {
    assertRefreshBinding(record, deps.binding)
    const extra = scopes.filter((s) => !record.scopes.includes(s))
    if (extra.length > 0) {
      throw new OAuthError('invalid_scope', 'the requested scope exceeds the original grant', {
        reason: 'scope_widening',
      })
    }
    const resource = form.get('resource')
    if (resource !== undefined && resolveResource(resource, deps.config).url !== record.resource) {
      throw new OAuthError('invalid_target', 'the resource was not part of the grant', {
        reason: 'resource_mismatch',
      })
    }
  }
  return deps.provider.exchangeRefreshToken(client, token, record, scopes, deps.binding)
}

/** What a spent refresh token leaves behind, so that its reuse is recognised. */
interface UsedRefreshToken {
  clientId: string
  grantId: string
  /** Random id of the rotation that spent the token: lets its own request recognise it. */
  rotation?: string
}

/**
 * The token's record: a live token of a live grant, or a spent one (`rotated`); `undefined` when
 * unknown or its grant is gone.
 */
export async function loadRefreshToken(
  context: Pick<GrantContext, 'store' | 'grants' | 'sha256'>,
  refreshToken: string,
): Promise<RefreshToken | undefined> {
  const hash = await hashOf(context, refreshToken)
  const live = await context.store.get<RefreshToken>(storageKey.refreshToken(hash))
  if (live) return (await context.grants.get(live.grantId)) ? live : undefined
  const used = await context.store.get<UsedRefreshToken>(storageKey.usedRefreshToken(hash))
  if (!used) return undefined
  return { ...used, scopes: [], resource: '', expiresAt: 0, rotated: true }
}

/**
 * Rotates a refresh token the endpoint checked; reuse of a rotated one revokes the grant. The new
 * tokens are bound as `binding` says (RFC 9449).
 */
export async function rotateRefreshToken(
  context: GrantContext,
  client: OAuthClientInformation,
  refreshToken: string,
  record: RefreshToken,
  scopes: string[],
  binding: TokenBinding = {},
): Promise<TokenResponse> {
  const { store, grants } = context
  if (record.rotated) {
    // OAuth 2.1 §4.3.1, RFC 9700 §4.14.2: a rotated token came back; the family is compromised.
    await grants.revoke(record.grantId)
    auditReuse(context, client, record.grantId)
    throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
      reason: 'refresh_token_reuse',
    })
  }
  // After the reuse check: a replayed token still revokes its family when the policy changed.
  assertRefreshAllowed(context.config, client)
  const { grantId } = record
  const grant = await grants.get(grantId)
  if (!grant) {
    throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
      reason: 'grant_revoked',
    })
  }
  if (grant.clientFingerprint !== client.metadata_document_fingerprint) {
    // A changed metadata document (redirect URIs or keys) ends the grant: sign in again.
    await grants.revoke(grantId)
    throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
      reason: 'client_metadata_changed',
    })
  }
  const hash = await hashOf(context, refreshToken)
  const live = storageKey.refreshToken(hash)
  const used = storageKey.usedRefreshToken(hash)
  const rotation = randomToken(16)
  const issued = await context.prepareTokens(
    client,
    grantId,
    grant,
    scopes.length > 0 ? scopes : record.scopes,
    { binding },
  )
  const liveness = grants.liveness(grantId)
  // Rotation is one atomic step: the old token is spent (its reuse marker written), the new one
  // written and the grant's lifetime renewed, all or nothing, and only while the grant lives.
  // A storage fault therefore leaves the old token valid, and the client's retry is a retry, not
  // reuse. Of concurrent presentations one step applies; any other one is reuse and revokes the
  // family (RFC 9700 §4.14.2).
  const step: AtomicStep = {
    require: [live, ...liveness.require],
    absent: [used, ...liveness.absent],
    delete: [live],
    set: [
      {
        key: used,
        value: { clientId: record.clientId, grantId, rotation } satisfies UsedRefreshToken,
        ttlSeconds: context.config.refreshTokenTtlSeconds,
      },
      ...issued.writes,
    ],
    expire: liveness.expire,
  }
  const applied = await commitOrConfirm(
    store,
    step,
    async () => (await store.get<UsedRefreshToken>(used))?.rotation === rotation,
  )
  if (applied) return issued.response
  const spent = await store.get<UsedRefreshToken>(used)
  // Our own rotation, reported as not applied: the step ran twice (a client or cluster sent it
  // again after a lost reply) and the second run found the token spent by the first. Success.
  if (spent?.rotation === rotation) return issued.response
  if (spent !== undefined) {
    await grants.revoke(grantId)
    auditReuse(context, client, grantId)
    throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
      reason: 'refresh_token_reuse',
    })
  }
  throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
    reason: (await grants.isActiveNow(grantId)) ? 'refresh_token_gone' : 'grant_revoked',
  })
}

function auditReuse(context: GrantContext, client: OAuthClientInformation, grantId: string): void {
  context.audit?.emit({
    event: 'refresh_token_reuse',
    outcome: 'failure',
    clientId: client.client_id,
    grantId,
    reason: 'grant_revoked',
  })
}
