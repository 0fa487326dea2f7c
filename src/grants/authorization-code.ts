/**
 * The authorization code grant (OAuth 2.1 §4.1.3), from the code's issue to its single redemption.
 *
 * At the token endpoint (`authorizationCodeGrant`), in order: `code` and `code_verifier` present;
 * the code known and issued to this client; not expired (a redeemed code goes on, to be judged a
 * replay); `redirect_uri` as in the authorization request (required when it was sent there); PKCE
 * (S256); `resource`, when sent, the one authorized; a code issued for a `dpop_jkt` only with a
 * DPoP proof of that key (RFC 9449 §10, `assertCodeBinding`). Only then does the provider redeem
 * (`exchangeAuthorizationCode`, with the request's binding), so a replay with wrong parameters
 * changes nothing.
 *
 * The store-backed half, which `GatehouseProvider` delegates to: codes are kept only as SHA-256
 * (`code:`), live `authorizationCodeTtlSeconds`, and are redeemed in one atomic step that consumes
 * the code, writes its redemption marker (`code-used:`), creates the grant and writes the refresh
 * token. A redeemed code presented again revokes the grant issued from it (OAuth 2.1 §4.1.3).
 */
import { OAuthError } from '../errors.js'
import type { Params } from '../http/params.js'
import { randomToken } from '../http/random.js'
import { assertCodeBinding } from '../contract/dpop-binding.js'
import { verifyPKCE } from '../contract/pkce.js'
import { resolveResource } from '../contract/resource-indicators.js'
import type {
  AuthorizationCode,
  AuthorizationParams,
  OAuthClientInformation,
  TokenBinding,
  TokenResponse,
} from '../contract/types.js'
import { commitOrConfirm } from '../storage/commit-or-confirm.js'
import { storageKey } from '../storage/keys.js'
import {
  hashOf,
  nowSeconds,
  requiredParam,
  type GrantContext,
  type GrantHandler,
  type GrantHandlerDeps,
} from './grant-handler.js'
import type { GrantRecord } from './grant-store.js'

/** `grant_type=authorization_code`: the endpoint's checks, then the provider's redemption. */
export const authorizationCodeGrant: GrantHandler = {
  offered: () => true,
  handle: checkAndRedeem,
}

async function checkAndRedeem(
  form: Params,
  client: OAuthClientInformation,
  deps: GrantHandlerDeps,
): Promise<TokenResponse> {
  const code = requiredParam(form, 'code')
  const verifier = requiredParam(form, 'code_verifier')
  const record = await deps.provider.loadAuthorizationCode(client, code)
  const invalidCode = (reason: string) =>
    new OAuthError('invalid_grant', 'the authorization code is invalid or expired', { reason })
  if (!record) throw invalidCode('unknown_code')
  if (record.clientId !== client.client_id) throw invalidCode('code_client_mismatch')
  if (record.redeemedGrantId === undefined && record.expiresAt * 1000 <= deps.now()) {
    throw invalidCode('code_expired')
  }
  const redirectUri = form.get('redirect_uri')
  if (
    redirectUri !== undefined
      ? redirectUri !== record.redirectUri
      : record.redirectUriProvidedExplicitly
  ) {
    throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request', {
      reason: 'redirect_uri_mismatch',
    })
  }
  if (!(await verifyPKCE(verifier, record.codeChallenge, deps.sha256))) {
    throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge', {
      reason: 'pkce_mismatch',
    })
  }
  const resource = form.get('resource')
  if (resource !== undefined && resolveResource(resource, deps.config).url !== record.resource) {
    throw new OAuthError('invalid_target', 'the resource was not part of the authorization', {
      reason: 'resource_mismatch',
    })
  }
  if (record.redeemedGrantId === undefined) assertCodeBinding(record, deps.binding)
  return deps.provider.exchangeAuthorizationCode(client, code, record, deps.binding)
}

/** Who signed in, as the code records it (`UserIdentity` of the provider). */
export interface CodeIdentity {
  subject: string
  claims?: Record<string, unknown>
  upstream?: unknown
}

/** Stores a new authorization code (256 bits) for the signed-in user and returns it. */
export async function createAuthorizationCode(
  context: GrantContext,
  client: OAuthClientInformation,
  params: AuthorizationParams,
  identity: CodeIdentity,
): Promise<string> {
  const code = randomToken(32)
  const ttl = context.config.authorizationCodeTtlSeconds
  const record: AuthorizationCode = {
    clientId: client.client_id,
    redirectUri: params.redirectUri,
    redirectUriProvidedExplicitly: params.redirectUriProvidedExplicitly,
    codeChallenge: params.codeChallenge,
    scopes: params.scopes,
    resource: params.resource,
    subject: identity.subject,
    expiresAt: nowSeconds(context) + ttl,
    ...(identity.claims ? { claims: identity.claims } : {}),
    ...(identity.upstream !== undefined ? { upstream: identity.upstream } : {}),
    ...(client.metadata_document_fingerprint !== undefined
      ? { clientFingerprint: client.metadata_document_fingerprint }
      : {}),
    ...(params.dpopJkt !== undefined ? { dpopJkt: params.dpopJkt } : {}),
  }
  await context.store.set(storageKey.code(await hashOf(context, code)), record, { ttlSeconds: ttl })
  return code
}

/**
 * The hash each loaded record was found by, so that redeeming it does not hash the code again (one
 * SHA-256 per code at the token endpoint). Keyed by the record object and checked against the
 * code, so a record that did not come from {@link loadAuthorizationCode} is simply hashed.
 */
const loadedBy = new WeakMap<AuthorizationCode, { code: string; hash: string }>()

/** The code's record, live or (after redemption) its marker; `undefined` when unknown. */
export async function loadAuthorizationCode(
  context: Pick<GrantContext, 'store' | 'sha256'>,
  authorizationCode: string,
): Promise<AuthorizationCode | undefined> {
  const hash = await hashOf(context, authorizationCode)
  const record =
    (await context.store.get<AuthorizationCode>(storageKey.code(hash))) ??
    (await context.store.get<AuthorizationCode>(storageKey.usedCode(hash)))
  if (record) loadedBy.set(record, { code: authorizationCode, hash })
  return record
}

async function codeHash(
  context: Pick<GrantContext, 'sha256'>,
  authorizationCode: string,
  record: AuthorizationCode,
): Promise<string> {
  const loaded = loadedBy.get(record)
  return loaded?.code === authorizationCode ? loaded.hash : hashOf(context, authorizationCode)
}

/**
 * Redeems a code the endpoint checked: once, atomically; a replay revokes the grant. The tokens
 * are bound as `binding` says (RFC 9449).
 */
export async function redeemAuthorizationCode(
  context: GrantContext,
  client: OAuthClientInformation,
  authorizationCode: string,
  code: AuthorizationCode,
  binding: TokenBinding = {},
): Promise<TokenResponse> {
  const { store, grants } = context
  const hash = await codeHash(context, authorizationCode, code)
  if (code.redeemedGrantId !== undefined) {
    return rejectReplay(context, code.redeemedGrantId, client)
  }
  if (code.clientFingerprint !== client.metadata_document_fingerprint) {
    // The client's metadata document changed its redirect URIs or keys since consent.
    throw new OAuthError('invalid_grant', 'the authorization code is invalid or expired', {
      reason: 'client_metadata_changed',
    })
  }
  const record: GrantRecord = {
    clientId: client.client_id,
    subject: code.subject,
    scopes: code.scopes,
    resource: code.resource,
    createdAt: nowSeconds(context),
    ...(code.claims ? { claims: code.claims } : {}),
    ...(code.upstream !== undefined ? { upstream: code.upstream } : {}),
    ...(code.clientFingerprint !== undefined ? { clientFingerprint: code.clientFingerprint } : {}),
  }
  const grantId = grants.newId()
  const issued = await context.prepareTokens(client, grantId, record, code.scopes, { binding })
  // The marker keeps only what judging a replay needs: no claims, no upstream tokens.
  const marker: AuthorizationCode = {
    clientId: code.clientId,
    redirectUri: code.redirectUri,
    redirectUriProvidedExplicitly: code.redirectUriProvidedExplicitly,
    codeChallenge: code.codeChallenge,
    scopes: [],
    resource: code.resource,
    subject: '',
    expiresAt: code.expiresAt,
    redeemedGrantId: grantId,
  }
  const live = storageKey.code(hash)
  const used = storageKey.usedCode(hash)
  // Single use, all or nothing: the code is consumed, its redemption marker, the grant and the
  // refresh token are written in one atomic step. A storage fault leaves the code redeemable
  // (a retry works); of concurrent redemptions one step applies and every other one reads the
  // winner's grant from the marker and revokes it (OAuth 2.1 §4.1.3).
  const applied = await commitOrConfirm(
    store,
    {
      require: [live],
      absent: [used],
      delete: [live],
      set: [
        // A grant that gets no refresh token can never be used again once its access token
        // expires: it lives that long, not the refresh lifetime (nothing to list or to keep).
        grants.creation(
          grantId,
          record,
          issued.response.refresh_token === undefined
            ? { accessTokenSeconds: issued.response.expires_in }
            : {},
        ),
        { key: used, value: marker, ttlSeconds: context.config.refreshTokenTtlSeconds },
        ...issued.writes,
      ],
    },
    async () => (await store.get<AuthorizationCode>(used))?.redeemedGrantId === grantId,
  )
  if (!applied) {
    const winner = await store.get<AuthorizationCode>(used)
    // Our own redemption, reported as not applied: the step ran twice (a client or cluster sent
    // it again after a lost reply) and the second run found the code spent by the first. Success.
    if (winner?.redeemedGrantId === grantId) {
      grants.created(grantId)
      return issued.response
    }
    if (winner?.redeemedGrantId !== undefined) {
      return rejectReplay(context, winner.redeemedGrantId, client)
    }
    throw new OAuthError('invalid_grant', 'the authorization code is invalid or expired', {
      reason: 'code_missing',
    })
  }
  grants.created(grantId)
  return issued.response
}

async function rejectReplay(
  context: GrantContext,
  grantId: string,
  client: OAuthClientInformation,
): Promise<never> {
  await context.grants.revoke(grantId)
  context.audit?.emit({
    event: 'code_replay',
    outcome: 'failure',
    clientId: client.client_id,
    grantId,
    reason: 'grant_revoked',
  })
  throw new OAuthError('invalid_grant', 'the authorization code is invalid or expired', {
    reason: 'code_replay',
  })
}
