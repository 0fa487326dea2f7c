/**
 * The store-backed implementation of the provider contract: clients, authorization codes, grants,
 * access tokens (RFC 9068 JWTs) and rotating refresh tokens. The proxies extend it and replace
 * only how the user is signed in (`authorize`).
 *
 * Stored form: codes and refresh tokens only as SHA-256; client secrets only as SHA-256.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError, type ErrorHook } from '../errors.js'
import type { Grants, GrantRecord } from '../grants/grants.js'
import { randomToken, sha256 } from '../http/random.js'
import type { AccessToken, TokenVerifier } from '../resource/access-token.js'
import type { AuditSink } from '../ops/audit-event.js'
import type { Store } from '../storage/store.js'
import { signAccessToken } from '../tokens/access-token.js'
import type { SigningKeys } from '../tokens/keys.js'
import { resolveResource } from './authorize.js'
import type { IdentityAssertionVerifier } from './identity-assertion.js'
import { isClientIdUrl } from './client-id-url.js'
import type { ClientMetadataResolver } from './client-metadata-resolver.js'
import type { OAuthServerProvider } from './provider.js'
import { staticClients } from './static-clients.js'
import { formatScope } from './scopes.js'
import type {
  AuthorizationCode,
  AuthorizationParams,
  IdentityAssertionParams,
  OAuthClientInformation,
  RefreshToken,
  TokenResponse,
} from './types.js'

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
    return this.options.store.get<OAuthClientInformation>(`client:${clientId}`)
  }

  async registerClient(client: OAuthClientInformation): Promise<void> {
    const stored: OAuthClientInformation = { ...client }
    delete stored.client_secret
    await this.options.store.set(`client:${client.client_id}`, stored)
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
    await this.options.store.set(`code:${await sha256(code)}`, record, { ttlSeconds: ttl })
    return code
  }

  async loadAuthorizationCode(
    _client: OAuthClientInformation,
    authorizationCode: string,
  ): Promise<AuthorizationCode | undefined> {
    const hash = await sha256(authorizationCode)
    const live = await this.options.store.get<AuthorizationCode>(`code:${hash}`)
    if (live) return live
    return this.options.store.get<AuthorizationCode>(`code-used:${hash}`)
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
    // Single use: the grant exists before the code is claimed, and the claim is one atomic
    // write of the redemption marker. Of concurrent redemptions one claim wins; every other one
    // reads the winner's grant from the marker and revokes it (OAuth 2.1 §4.1.3).
    const grantId = await this.grants.create(record)
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
    const claimed = await this.options.store.setIfAbsent(`code-used:${hash}`, marker, {
      ttlSeconds: this.options.config.refreshTokenTtlSeconds,
    })
    if (!claimed) {
      await this.grants.revoke(grantId)
      const used = await this.options.store.get<AuthorizationCode>(`code-used:${hash}`)
      if (used?.redeemedGrantId !== undefined)
        return this.#rejectReplay(used.redeemedGrantId, client)
      throw new OAuthError('invalid_grant', 'the authorization code is invalid or expired', {
        reason: 'code_missing',
      })
    }
    await this.options.store.delete(`code:${hash}`)
    return this.issueTokens(client, grantId, record, code.scopes)
  }

  async loadRefreshToken(
    _client: OAuthClientInformation,
    refreshToken: string,
  ): Promise<RefreshToken | undefined> {
    const hash = await sha256(refreshToken)
    const live = await this.options.store.get<RefreshToken>(`rt:${hash}`)
    if (live) return (await this.grants.get(live.grantId)) ? live : undefined
    const used = await this.options.store.get<UsedRefreshToken>(`rt-used:${hash}`)
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
    const hash = await sha256(refreshToken)
    // One atomic claim per refresh token: the winner rotates it; any other presentation, even a
    // concurrent one, is reuse and revokes the family (RFC 9700 §4.14.2).
    const claimed = await this.options.store.setIfAbsent(
      `rt-used:${hash}`,
      { clientId: record.clientId, grantId: record.grantId } satisfies UsedRefreshToken,
      { ttlSeconds: this.options.config.refreshTokenTtlSeconds },
    )
    if (!claimed) {
      await this.grants.revoke(record.grantId)
      this.#auditReuse(client, record.grantId)
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        reason: 'refresh_token_reuse',
      })
    }
    const taken = await this.options.store.take<RefreshToken>(`rt:${hash}`)
    if (!taken) {
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        reason: 'refresh_token_gone',
      })
    }
    const grant = await this.grants.get(taken.grantId)
    if (grant && grant.clientFingerprint !== client.metadata_document_fingerprint) {
      // A changed metadata document (redirect URIs or keys) ends the grant: sign in again.
      await this.grants.revoke(taken.grantId)
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        reason: 'client_metadata_changed',
      })
    }
    if (!grant || !(await this.grants.update(taken.grantId, grant))) {
      throw new OAuthError('invalid_grant', 'the refresh token is invalid', {
        reason: 'grant_revoked',
      })
    }
    return this.issueTokens(client, taken.grantId, grant, scopes.length > 0 ? scopes : taken.scopes)
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
   * `refresh_token` grant, a new refresh token carrying the grant's full scope.
   */
  async issueTokens(
    client: OAuthClientInformation,
    grantId: string,
    grant: GrantRecord,
    scopes: string[],
    options: { refresh?: boolean } = {},
  ): Promise<TokenResponse> {
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
      await this.options.store.set(`rt:${await sha256(refreshToken)}`, record, { ttlSeconds: ttl })
      response.refresh_token = refreshToken
    }
    return response
  }

  async #exchangeIdentityAssertion(
    assertions: IdentityAssertionVerifier,
    client: OAuthClientInformation,
    params: IdentityAssertionParams,
  ): Promise<TokenResponse> {
    const allowed = this.options.config.clients.find(
      (c) => c.clientId === client.client_id,
    )?.assertionScopes
    const decision = await assertions.verify(params.assertion, client, (verified) => {
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
    const grantId = await this.grants.create(record)
    // ID-JAG draft §4.4.3: no refresh token; the client presents a fresh ID-JAG instead.
    const response = await this.issueTokens(client, grantId, record, scopes, { refresh: false })
    // The draft asks for the granted scope and resource in the response (§4.4.1).
    return { ...response, resource: verified.resource.url }
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
 * Claims of the signed-in user that travel in access tokens: app roles, for role checks, and for
 * a grant from an identity assertion the asserting IdP (`idp`), which is part of the principal.
 */
function tokenClaims(grant: GrantRecord): Record<string, unknown> {
  const claims: Record<string, unknown> = {}
  const roles = grant.claims?.roles
  if (Array.isArray(roles) && roles.every((r) => typeof r === 'string')) claims.roles = roles
  if (grant.identityProvider !== undefined) claims.idp = grant.identityProvider
  return claims
}
