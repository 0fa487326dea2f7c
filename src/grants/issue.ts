/**
 * The issuance step every grant ends in: the access token (an RFC 9068 JWT signed with the current
 * key) for a grant, narrowed to the granted scopes; a new rotating refresh token when the client
 * registered that grant; the response body; and the writes (the refresh token's record) that the
 * grant applies in its own atomic step before the response may be sent. With a DPoP binding
 * (RFC 9449) the access token carries `cnf.jkt` and `token_type` is `DPoP`; a public client's
 * refresh token is bound to the same key (`refreshTokenJkt`).
 */
import { authorityReadable } from '../config/qualified-authority.js'
import { refreshTokenLifetime } from './refresh-policy.js'
import type { ResolvedConfig } from '../config/schema.js'
import { randomToken, sha256, type Sha256Function } from '../http/random.js'
import { refreshTokenJkt } from '../contract/dpop-binding.js'
import { formatScope } from '../contract/scopes.js'
import type {
  OAuthClientInformation,
  RefreshToken,
  TokenBinding,
  TokenResponse,
} from '../contract/types.js'
import { storageKey } from '../storage/keys.js'
import type { StepWrite } from '../storage/store.js'
import { signAccessToken } from '../tokens/access-token.js'
import type { SigningKeys } from '../tokens/keys.js'
import type { GrantRecord } from './grant-store.js'

/** Tokens ready to hand out, and the writes that make them valid (not yet applied). */
export interface PreparedTokens {
  response: TokenResponse
  writes: StepWrite[]
}

/** How the issuance step issues: with a refresh token or not, bound or not. */
export interface IssueOptions {
  /** `false`: no refresh token, whatever the client registered (ID-JAG, client credentials). */
  refresh?: boolean
  /** RFC 9449: the DPoP key the access token (and a public client's refresh token) is bound to. */
  binding?: TokenBinding
  /** The access token's lifetime when shorter than `accessTokenTtlSeconds` (token exchange). */
  ttlSeconds?: number
}

/** The issuance step's signature (`TokenIssuer.prepare`, `GatehouseProvider.prepareTokens`). */
export type PrepareTokens = (
  client: OAuthClientInformation,
  grantId: string,
  grant: GrantRecord,
  scopes: string[],
  options?: IssueOptions,
) => Promise<PreparedTokens>

export interface TokenIssuerOptions {
  config: ResolvedConfig
  keys: SigningKeys
  now: () => number
  /** SHA-256 of refresh tokens; default Web Crypto (`http/random.ts`). */
  sha256?: Sha256Function
}

/** How often an issuing instance re-reads the key set (rotations elsewhere). */
const KEY_REFRESH_MS = 60_000

/** Mints tokens for grants; re-reads the key set when it may have rotated on another instance. */
export class TokenIssuer {
  readonly #config: ResolvedConfig
  readonly #keys: SigningKeys
  readonly #now: () => number
  readonly #sha256: Sha256Function
  #keysCheckedAt: number

  constructor(options: TokenIssuerOptions) {
    this.#config = options.config
    this.#keys = options.keys
    this.#now = options.now
    this.#sha256 = options.sha256 ?? sha256
    this.#keysCheckedAt = options.now()
  }

  /**
   * An access token for the grant (narrowed to `scopes`) and, when the refresh-token policy
   * (`refresh-policy.ts`) gives this client one and `options.refresh` is not `false`, a new refresh token carrying the
   * grant's full scope. Writes nothing: the refresh token's record is among the returned writes.
   */
  async prepare(
    client: OAuthClientInformation,
    grantId: string,
    grant: GrantRecord,
    scopes: string[],
    options: IssueOptions = {},
  ): Promise<PreparedTokens> {
    const config = this.#config
    const jkt = options.binding?.dpopJkt
    // Pick up a rotation made by another instance before signing with a retired key.
    if (this.#now() - this.#keysCheckedAt > KEY_REFRESH_MS) {
      await this.#keys.refresh()
      this.#keysCheckedAt = this.#now()
    }
    // Token exchange: never longer than the configured lifetime, possibly shorter.
    const ttlSeconds = Math.min(config.accessTokenTtlSeconds, options.ttlSeconds ?? Infinity)
    const access = await signAccessToken(this.#keys, {
      issuer: config.issuer,
      subject: grant.subject,
      audience: grant.resource,
      clientId: client.client_id,
      scopes,
      grantId,
      ttlSeconds,
      now: this.#now,
      extra: tokenClaims(grant),
      ...(jkt !== undefined ? { jkt } : {}),
    })
    const response: TokenResponse = {
      access_token: access.token,
      token_type: jkt !== undefined ? 'DPoP' : 'Bearer',
      expires_in: ttlSeconds,
    }
    const scope = formatScope(scopes)
    if (scope !== undefined) response.scope = scope
    const writes: StepWrite[] = []
    const refreshTtl = refreshTokenLifetime(
      config,
      client,
      grant.createdAt,
      Math.floor(this.#now() / 1000),
    )
    if (options.refresh !== false && refreshTtl !== undefined) {
      const refreshToken = randomToken(32)
      const ttl = refreshTtl
      const record: RefreshToken = {
        clientId: client.client_id,
        grantId,
        scopes: grant.scopes,
        resource: grant.resource,
        expiresAt: Math.floor(this.#now() / 1000) + ttl,
      }
      const boundTo = refreshTokenJkt(client, options.binding ?? {})
      if (boundTo !== undefined) record.dpopJkt = boundTo
      writes.push({
        key: storageKey.refreshToken(await this.#sha256(refreshToken)),
        value: record,
        ttlSeconds: ttl,
      })
      response.refresh_token = refreshToken
    }
    return { response, writes }
  }
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
  // Roles and `tid` that were never named by their IdP, in a grant from `upstreams`, count for
  // nothing (config/qualified-authority.ts).
  const authority = authorityReadable(kept)
  const roles = authority ? kept?.roles : undefined
  if (Array.isArray(roles) && roles.every((r) => typeof r === 'string')) claims.roles = roles
  if (grant.identityProvider !== undefined) claims.idp = grant.identityProvider
  if (grant.grantType !== undefined) claims.gty = grant.grantType
  if (grant.actor !== undefined) claims.act = grant.actor
  // The proxy records the IdP's issuer (`upstream_iss`) and, with several IdPs (where the grant's
  // subject is namespaced, `alpha|…` or `email|…`), the IdP's own `sub` (`upstream_sub`).
  if (typeof kept?.upstream_iss === 'string' && grant.subject !== '') {
    const sub = typeof kept.upstream_sub === 'string' ? kept.upstream_sub : grant.subject
    const upstream: Record<string, string> = { iss: kept.upstream_iss, sub }
    if (authority && typeof kept.tid === 'string') upstream.tid = kept.tid
    if (typeof kept.oid === 'string') upstream.oid = kept.oid
    claims.upstream = upstream
  }
  return claims
}
