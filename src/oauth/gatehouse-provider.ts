/**
 * The store-backed implementation of the provider contract: clients, authorization codes, grants,
 * access tokens (RFC 9068 JWTs) and rotating refresh tokens. The proxies extend it and replace
 * only how the user is signed in (`authorize`).
 *
 * Stored form: codes and refresh tokens only as SHA-256; client secrets only as SHA-256.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError, StoreError, type ErrorHook } from '../errors.js'
import { exchangeClientCredentials } from '../grants/client-credentials.js'
import type { Grants, GrantRecord } from '../grants/grants.js'
import { randomToken, sha256 } from '../http/random.js'
import type { AccessToken, TokenVerifier } from '../jwt/access-token.js'
import type { AuditSink } from '../audit-event.js'
import type { AtomicStep, StepWrite, Store } from '../storage/store.js'
import { signAccessToken } from '../tokens/access-token.js'
import type { SigningKeys } from '../tokens/keys.js'
import { resolveResource } from './authorize.js'
import { replayRefusal, type IdentityAssertionVerifier } from './identity-assertion.js'
import { isClientIdUrl } from './client-id-url.js'
import type { ClientMetadataResolver } from './client-metadata-resolver.js'
import type { OAuthServerProvider } from './provider.js'
import { staticClients } from './static-clients.js'
import { formatScope } from './scopes.js'
import type {
  AuthorizationCode,
  AuthorizationParams,
  ClientCredentialsParams,
  IdentityAssertionParams,
  OAuthClientInformation,
  RefreshToken,
  TokenResponse,
} from './types.js'
import { storageKey } from '../storage/keys.js'

/** Who signed in: the subject and any claims to carry into the grant. */
export interface UserIdentity {
  subject: string
  claims?: Record<string, unknown>
  /** The identity provider's tokens (proxy), kept encrypted in the grant. */
  upstream?: unknown
}

/** Signs the user in for an authorization request; returns the identity or throws `OAuthError`. */
export type Authenticate = (
  client: OAuthClientInformation,
  params: AuthorizationParams,
) => Promise<UserIdentity>

export interface GatehouseProviderOptions {
  config: ResolvedConfig
  /** The (encrypted) store for clients, codes, grants and refresh tokens. */
  store: Store
  keys: SigningKeys
  /** Verifies Gatehouse's own access tokens, including grant revocation. */
  verifier: TokenVerifier
  grants: Grants
  /** How `authorize` signs the user in when no proxy replaces it. */
  authenticate?: Authenticate
  /** Sees refusals that do not become error responses (consent and callback pages). */
  onError?: ErrorHook
  now: () => number
  /** Validates SEP-990 ID-JAGs; when set, the jwt-bearer grant is enabled. */
  identityAssertions?: IdentityAssertionVerifier
  /** Resolves `client_id` URLs (Client ID Metadata Documents); unset: they are unknown clients. */
  clientMetadata?: ClientMetadataResolver
  /** Security events (reuse, replay; the proxy's consent and sign-in). Default none. */
  audit?: AuditSink
}

/** How often an issuing instance re-reads the key set (rotations elsewhere). */
const KEY_REFRESH_MS = 60_000

interface UsedRefreshToken {
  clientId: string
  grantId: string
  /** Random id of the rotation that spent the token: lets its own request recognise it. */
  rotation?: string
}

/** Tokens ready to hand out, and the writes that make them valid (not yet applied). */
export interface PreparedTokens {
  response: TokenResponse
  writes: StepWrite[]
}

/** Store-backed provider: everything but the user's sign-in, which `authenticate` or a subclass does. */
export class GatehouseProvider implements OAuthServerProvider {
  protected readonly options: GatehouseProviderOptions
  readonly grants: Grants
  /**
   * SEP-990: trades an ID-JAG for an access token (no refresh token). Present only when
   * `identityAssertion` is configured, so metadata advertises the grant exactly then.
   */
  readonly exchangeIdentityAssertion?: (
    client: OAuthClientInformation,
    params: IdentityAssertionParams,
  ) => Promise<TokenResponse>
  /** RFC 6749 §4.4 (grants/client-credentials.ts); present only when `clientCredentials.enabled`. */
  readonly exchangeClientCredentials?: (
    client: OAuthClientInformation,
    params: ClientCredentialsParams,
  ) => Promise<TokenResponse>
  readonly #staticClients: ReadonlyMap<string, OAuthClientInformation>
  #keysCheckedAt: number

  constructor(options: GatehouseProviderOptions) {
    this.options = options
    this.grants = options.grants
    this.#staticClients = staticClients(options.config)
    this.#keysCheckedAt = options.now()
    const assertions = options.identityAssertions
    if (assertions) {
      this.exchangeIdentityAssertion = (client, params) =>
        this.#exchangeIdentityAssertion(assertions, client, params)
    }
    if (options.config.clientCredentials.enabled) {
      const { config, now } = options
      this.exchangeClientCredentials = (client, params) => {
        // The switches that let machine clients in hold at every exchange, not only at
        // registration: turning one off cuts off the clients it let in.
        if (!this.#staticClients.has(client.client_id)) {
          const cc = config.clientCredentials
          const allowed = isClientIdUrl(client.client_id)
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
            grants: this.grants,
            now,
            issue: (id, grant, scopes) =>
              this.issueTokens(client, id, grant, scopes, { refresh: false }),
          },
          client,
          { scopes: params.scopes, resource: resolveResource(params.resource, config) },
        )
      }
    }
  }

  /**
   * A client from configuration (`clients`), else, with `clientMetadata`, a `client_id` URL
   * resolved from its metadata document (throws `invalid_client` when the document cannot be
   * used), else a registered one.
   */
  getClient(clientId: string): Promise<OAuthClientInformation | undefined> {
    const configured = this.#staticClients.get(clientId)
    if (configured) return Promise.resolve(configured)
    const documents = this.options.clientMetadata
    if (documents && isClientIdUrl(clientId)) return documents.resolve(clientId)
    return this.options.store.get<OAuthClientInformation>(storageKey.client(clientId))
  }

  async registerClient(client: OAuthClientInformation): Promise<void> {
    const stored: OAuthClientInformation = { ...client }
    delete stored.client_secret
    const key = storageKey.client(client.client_id)
    // One write. When its reply is lost the client id (128 random bits) tells whether it landed:
    // a registration that did is answered as one, so no client is left behind that nobody knows.
    await this.#commitOrConfirm(
      { set: [{ key, value: stored }] },
      async () => (await this.options.store.get(key)) !== undefined,
    )
  }

  /** Signs the user in through `authenticate` and returns the client's redirect with a code. */
  async authorize(client: OAuthClientInformation, params: AuthorizationParams): Promise<string> {
    if (!this.options.authenticate) {
      throw new OAuthError('access_denied', 'no sign-in method is configured', {
        reason: 'no_authenticator',
      })
    }
    const identity = await this.options.authenticate(client, params)
    return this.completeAuthorization(client, params, identity)
  }

  /**
   * Issues an authorization code (256 bits, single use, `authorizationCodeTtlSeconds`) for a
   * signed-in user and returns the client's redirect URI carrying `code`, `state` and `iss`.
   */
  async completeAuthorization(
    client: OAuthClientInformation,
    params: AuthorizationParams,
    identity: UserIdentity,
  ): Promise<string> {
    const code = await this.issueCode(client, params, identity)
    return authorizationResponseUrl(params.redirectUri, this.options.config.issuer, {
      code,
      ...(params.state !== undefined ? { state: params.state } : {}),
    })
  }

  /** Stores a new authorization code for the signed-in user and returns it. */
  async issueCode(
    client: OAuthClientInformation,
    params: AuthorizationParams,
    identity: UserIdentity,
  ): Promise<string> {
    const code = randomToken(32)
    const ttl = this.options.config.authorizationCodeTtlSeconds
    const record: AuthorizationCode = {
      clientId: client.client_id,
      redirectUri: params.redirectUri,
      redirectUriProvidedExplicitly: params.redirectUriProvidedExplicitly,
      codeChallenge: params.codeChallenge,
      scopes: params.scopes,
      resource: params.resource,
      subject: identity.subject,
      expiresAt: this.#nowSeconds() + ttl,
      ...(identity.claims ? { claims: identity.claims } : {}),
      ...(identity.upstream !== undefined ? { upstream: identity.upstream } : {}),
      ...(client.metadata_document_fingerprint !== undefined
        ? { clientFingerprint: client.metadata_document_fingerprint }
        : {}),
    }
    await this.options.store.set(storageKey.code(await sha256(code)), record, { ttlSeconds: ttl })
    return code
  }

  async loadAuthorizationCode(
    _client: OAuthClientInformation,
    authorizationCode: string,
  ): Promise<AuthorizationCode | undefined> {
    const hash = await sha256(authorizationCode)
    const live = await this.options.store.get<AuthorizationCode>(storageKey.code(hash))
    if (live) return live
    return this.options.store.get<AuthorizationCode>(storageKey.usedCode(hash))
  }

  async exchangeAuthorizationCode(
    client: OAuthClientInformation,
    authorizationCode: string,
    code: AuthorizationCode,
  ): Promise<TokenResponse> {
    const hash = await sha256(authorizationCode)
    if (code.redeemedGrantId !== undefined) return this.#rejectReplay(code.redeemedGrantId, client)
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
      createdAt: this.#nowSeconds(),
      ...(code.claims ? { claims: code.claims } : {}),
      ...(code.upstream !== undefined ? { upstream: code.upstream } : {}),
      ...(code.clientFingerprint !== undefined
        ? { clientFingerprint: code.clientFingerprint }
        : {}),
    }
    const grantId = this.grants.newId()
    const issued = await this.prepareTokens(client, grantId, record, code.scopes)
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
    const applied = await this.#commitOrConfirm(
      {
        require: [live],
        absent: [used],
        delete: [live],
        set: [
          this.grants.creation(grantId, record),
          { key: used, value: marker, ttlSeconds: this.options.config.refreshTokenTtlSeconds },
          ...issued.writes,
        ],
      },
      async () =>
        (await this.options.store.get<AuthorizationCode>(used))?.redeemedGrantId === grantId,
    )
    if (!applied) {
      const winner = await this.options.store.get<AuthorizationCode>(used)
      if (winner?.redeemedGrantId !== undefined)
        return this.#rejectReplay(winner.redeemedGrantId, client)
      throw new OAuthError('invalid_grant', 'the authorization code is invalid or expired', {
        reason: 'code_missing',
      })
    }
    this.grants.created(grantId)
    return issued.response
  }

  async loadRefreshToken(
    _client: OAuthClientInformation,
    refreshToken: string,
  ): Promise<RefreshToken | undefined> {
    const hash = await sha256(refreshToken)
    const live = await this.options.store.get<RefreshToken>(storageKey.refreshToken(hash))
    if (live) return (await this.grants.get(live.grantId)) ? live : undefined
    const used = await this.options.store.get<UsedRefreshToken>(storageKey.usedRefreshToken(hash))
    if (!used) return undefined
    return { ...used, scopes: [], resource: '', expiresAt: 0, rotated: true }
  }

  async exchangeRefreshToken(
    client: OAuthClientInformation,
    refreshToken: string,
    record: RefreshToken,
    scopes: string[],
  ): Promise<TokenResponse> {
    if (record.rotated) {
      // OAuth 2.1 §4.3.1, RFC 9700 §4.14.2: a rotated token came back; the family is compromised.
      await this.grants.revoke(record.grantId)
      this.#auditReuse(client, record.grantId)
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        reason: 'refresh_token_reuse',
      })
    }
    const { grantId } = record
    const grant = await this.grants.get(grantId)
    if (!grant) {
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        reason: 'grant_revoked',
      })
    }
    if (grant.clientFingerprint !== client.metadata_document_fingerprint) {
      // A changed metadata document (redirect URIs or keys) ends the grant: sign in again.
      await this.grants.revoke(grantId)
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        reason: 'client_metadata_changed',
      })
    }
    const hash = await sha256(refreshToken)
    const live = storageKey.refreshToken(hash)
    const used = storageKey.usedRefreshToken(hash)
    const rotation = randomToken(16)
    const issued = await this.prepareTokens(
      client,
      grantId,
      grant,
      scopes.length > 0 ? scopes : record.scopes,
    )
    const liveness = this.grants.liveness(grantId)
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
          ttlSeconds: this.options.config.refreshTokenTtlSeconds,
        },
        ...issued.writes,
      ],
      expire: liveness.expire,
    }
    const applied = await this.#commitOrConfirm(
      step,
      async () => (await this.options.store.get<UsedRefreshToken>(used))?.rotation === rotation,
    )
    if (applied) return issued.response
    if ((await this.options.store.get(used)) !== undefined) {
      await this.grants.revoke(grantId)
      this.#auditReuse(client, grantId)
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        reason: 'refresh_token_reuse',
      })
    }
    throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
      reason: (await this.grants.isActiveNow(grantId)) ? 'refresh_token_gone' : 'grant_revoked',
    })
  }

  loadAccessToken(token: string): Promise<AccessToken | undefined> {
    return this.options.verifier.verifyToken(token)
  }

  /** Revokes the grant of a refresh or access token the client owns; anything else is ignored. */
  async revokeToken(client: OAuthClientInformation, token: string): Promise<void> {
    const refresh = await this.loadRefreshToken(client, token)
    if (refresh) {
      if (refresh.clientId === client.client_id) await this.grants.revoke(refresh.grantId)
      return
    }
    const access = await this.options.verifier.verifyToken(token)
    if (access?.grantId !== undefined && access.clientId === client.client_id) {
      await this.grants.revoke(access.grantId)
    }
  }

  /**
   * Mints an access token for the grant (narrowed to `scopes`) and, when the client registered the
   * `refresh_token` grant, a new refresh token carrying the grant's full scope; stores the refresh
   * token. Callers that change other records in the same exchange use {@link prepareTokens} and
   * one `Store.commit` instead.
   */
  async issueTokens(
    client: OAuthClientInformation,
    grantId: string,
    grant: GrantRecord,
    scopes: string[],
    options: { refresh?: boolean } = {},
  ): Promise<TokenResponse> {
    const issued = await this.prepareTokens(client, grantId, grant, scopes, options)
    await this.options.store.commit({ set: issued.writes })
    return issued.response
  }

  /**
   * {@link issueTokens} without writing anything: the response, and the writes (the refresh
   * token's record) that must be applied, atomically with the rest of the exchange, before the
   * response may be sent. Reads the key set when it may have rotated elsewhere.
   */
  async prepareTokens(
    client: OAuthClientInformation,
    grantId: string,
    grant: GrantRecord,
    scopes: string[],
    options: { refresh?: boolean } = {},
  ): Promise<PreparedTokens> {
    const { config } = this.options
    // Pick up a rotation made by another instance before signing with a retired key.
    if (this.options.now() - this.#keysCheckedAt > KEY_REFRESH_MS) {
      await this.options.keys.refresh()
      this.#keysCheckedAt = this.options.now()
    }
    const access = await signAccessToken(this.options.keys, {
      issuer: config.issuer,
      subject: grant.subject,
      audience: grant.resource,
      clientId: client.client_id,
      scopes,
      grantId,
      ttlSeconds: config.accessTokenTtlSeconds,
      now: this.options.now,
      extra: tokenClaims(grant),
    })
    const response: TokenResponse = {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: config.accessTokenTtlSeconds,
    }
    const scope = formatScope(scopes)
    if (scope !== undefined) response.scope = scope
    const writes: StepWrite[] = []
    if (options.refresh !== false && client.grant_types.includes('refresh_token')) {
      const refreshToken = randomToken(32)
      const ttl = config.refreshTokenTtlSeconds
      const record: RefreshToken = {
        clientId: client.client_id,
        grantId,
        scopes: grant.scopes,
        resource: grant.resource,
        expiresAt: this.#nowSeconds() + ttl,
      }
      writes.push({
        key: storageKey.refreshToken(await sha256(refreshToken)),
        value: record,
        ttlSeconds: ttl,
      })
      response.refresh_token = refreshToken
    }
    return { response, writes }
  }

  async #exchangeIdentityAssertion(
    assertions: IdentityAssertionVerifier,
    client: OAuthClientInformation,
    params: IdentityAssertionParams,
  ): Promise<TokenResponse> {
    const allowed = this.options.config.clients.find(
      (c) => c.clientId === client.client_id,
    )?.assertionScopes
    const { decision, replay } = await assertions.check(params.assertion, client, (verified) => {
      if (params.resource !== undefined) {
        const requested = resolveResource(params.resource, this.options.config)
        if (requested.url !== verified.resource.url) {
          throw new OAuthError('invalid_target', 'the resource is not the one the grant names', {
            reason: 'id_jag_resource_mismatch',
          })
        }
      }
      const known = verified.resource.scopes
      const delegated = verified.scopes.filter(
        (s) => (known.length === 0 || known.includes(s)) && (!allowed || allowed.includes(s)),
      )
      if (params.scopes.some((s) => !delegated.includes(s))) {
        throw new OAuthError('invalid_scope', 'the requested scope exceeds the grant', {
          reason: 'id_jag_scope_widening',
        })
      }
      return { verified, scopes: params.scopes.length > 0 ? params.scopes : delegated }
    })
    const { verified, scopes } = decision
    const record: GrantRecord = {
      clientId: client.client_id,
      subject: verified.subject,
      scopes,
      resource: verified.resource.url,
      createdAt: this.#nowSeconds(),
      claims: verified.claims,
      identityProvider: verified.issuer,
    }
    const grantId = this.grants.newId()
    // ID-JAG draft §4.4.3: no refresh token; the client presents a fresh ID-JAG instead.
    const issued = await this.prepareTokens(client, grantId, record, scopes, { refresh: false })
    // The jti is spent in the same atomic step that creates the grant: a request that fails, a
    // storage fault included, leaves the assertion usable for the client's retry.
    const applied = await this.#commitOrConfirm(
      {
        absent: [replay.key],
        set: [
          { key: replay.key, value: grantId, ttlSeconds: replay.ttlSeconds },
          this.grants.creation(grantId, record),
          ...issued.writes,
        ],
      },
      async () => (await this.options.store.get(replay.key)) === grantId,
    )
    if (!applied) throw replayRefusal()
    this.grants.created(grantId)
    // The draft asks for the granted scope and resource in the response (§4.4.1).
    return { ...issued.response, resource: verified.resource.url }
  }

  /**
   * Applies `step`; `confirm` settles a storage fault whose outcome is unknown (the backend may
   * have applied the step and lost the reply) by looking for the step's own unique marker. The
   * fault is rethrown (503, nothing changed) unless the step is known to have applied.
   */
  async #commitOrConfirm(step: AtomicStep, confirm: () => Promise<boolean>): Promise<boolean> {
    try {
      return await this.options.store.commit(step)
    } catch (error) {
      if (!(error instanceof StoreError) || error.code !== 'ERR_STORE_UNAVAILABLE') throw error
      let applied: boolean
      try {
        applied = await confirm()
      } catch {
        throw error
      }
      if (applied) return true
      throw error
    }
  }

  #auditReuse(client: OAuthClientInformation, grantId: string): void {
    this.options.audit?.emit({
      event: 'refresh_token_reuse',
      outcome: 'failure',
      clientId: client.client_id,
      grantId,
      reason: 'grant_revoked',
    })
  }

  async #rejectReplay(grantId: string, client: OAuthClientInformation): Promise<never> {
    await this.grants.revoke(grantId)
    this.options.audit?.emit({
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

  #nowSeconds(): number {
    return Math.floor(this.options.now() / 1000)
  }
}

/** The client's redirect URI with response parameters and RFC 9207 `iss` appended. */
export function authorizationResponseUrl(
  redirectUri: string,
  issuer: string,
  params: Record<string, string>,
): string {
  const url = new URL(redirectUri)
  for (const [k, v] of Object.entries(params)) url.searchParams.append(k, v)
  url.searchParams.append('iss', issuer)
  return url.href
}

/**
 * Claims of the signed-in user that travel in access tokens: app roles, for role checks; for a
 * grant from an identity assertion the asserting IdP (`idp`), which is part of the principal; and
 * for a proxy sign-in the user at the identity provider (`upstream`: `iss`, `sub`, and Entra's
 * `tid`/`oid` when it sent them), which tools read as `authOf(extra).extra.upstream`.
 */
function tokenClaims(grant: GrantRecord): Record<string, unknown> {
  const claims: Record<string, unknown> = {}
  const kept = grant.claims
  const roles = kept?.roles
  if (Array.isArray(roles) && roles.every((r) => typeof r === 'string')) claims.roles = roles
  if (grant.identityProvider !== undefined) claims.idp = grant.identityProvider
  if (grant.grantType !== undefined) claims.gty = grant.grantType
  // The proxy records the IdP's issuer (`upstream_iss`); the grant's subject is the IdP's `sub`.
  if (typeof kept?.upstream_iss === 'string' && grant.subject !== '') {
    const upstream: Record<string, string> = { iss: kept.upstream_iss, sub: grant.subject }
    if (typeof kept.tid === 'string') upstream.tid = kept.tid
    if (typeof kept.oid === 'string') upstream.oid = kept.oid
    claims.upstream = upstream
  }
  return claims
}
