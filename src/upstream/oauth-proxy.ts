/**
 * `OAuthProxy`: Gatehouse as the authorization server MCP clients register with, signing users in
 * at an identity provider that has no dynamic registration. It replaces only the sign-in step of
 * the store-backed provider:
 * 1. `/authorize` stores a transaction (10 min) and sends the browser to the consent page;
 * 2. approval sets a browser-binding cookie and redirects to the IdP with Gatehouse's own client
 *    id, callback, PKCE pair, `state` (= transaction id) and `nonce`;
 * 3. the callback takes the transaction once, checks the cookie, exchanges the code, verifies the
 *    ID token (or access token), keeps the IdP's tokens encrypted in the grant and issues
 *    Gatehouse's own code to the client's redirect URI.
 * Everything that differs between identity providers comes from its `ProviderProfile`
 * (`./profile.ts`): scopes, who the user is, which tokens are kept, capabilities such as
 * On-Behalf-Of. The proxy knows no provider by name.
 *
 * With several IdPs (`idps`, from `config.upstreams`) the proxy holds one profile per IdP id:
 * approval leads to the chooser (`./chooser.ts`), the transaction records the chosen id, each IdP
 * has its own callback that accepts only its own transactions, the subject is the IdP's `sub`
 * behind the IdP's prefix (or, with `linkAccountsByEmail`, the verified email of an
 * email-authoritative IdP), and the grant records the IdP (`upstream_idp`), so refreshing the
 * IdP's token goes to the IdP that signed the user in (docs/providers/multiple.md).
 */
import { AUTHORITY_LIST_CLAIMS, AUTHORITY_NAMED_CLAIM } from '../config/qualified-authority.js'
import { LINKED_SUBJECT_PREFIX } from '../config/schema.js'
import { OAuthError, StoreError } from '../errors.js'
import type { GrantRecord } from '../grants/grant-store.js'
import { serializeCookie, type CookieSigner } from '../http/cookies.js'
import { randomToken, sha256 } from '../http/random.js'
import { redirectResponse } from '../http/responses.js'
import type { Route } from '../http/app.js'
import {
  GatehouseProvider,
  type GatehouseProviderOptions,
  type UserIdentity,
} from '../oauth/gatehouse-provider.js'
import type { AuthorizationParams, OAuthClientInformation } from '../contract/types.js'
import type { AccessToken, TokenVerifier } from '../jwt/access-token.js'
import { handleCallback, type CallbackHost, type Transaction } from './callback.js'
import { handleChooserGet, handleChooserPost, type ChooserHost } from './chooser.js'
import {
  BINDING_COOKIE,
  consentGiven,
  handleConsentGet,
  handleConsentPost,
  TRANSACTION_TTL_SECONDS,
  type ConsentHost,
} from './consent.js'
import {
  genericProfile,
  type ProviderProfile,
  type ResolveIdentity,
  type UpstreamResult,
} from './profile.js'
import { UpstreamRefusal, type UpstreamClient, type UpstreamTokens } from './upstream-client.js'
import { storageKey } from '../storage/keys.js'

export type { Transaction } from './callback.js'
export type { ResolveIdentity } from './profile.js'

/** One of several identity providers (`config.upstreams`) and its profile. */
export interface IdentityProviderEntry {
  /** In the chooser form, the callback path and (by default) the subject prefix. */
  id: string
  /** "Continue with <label>". */
  label: string
  /** Put before the IdP's `sub` to make the user's subject. */
  subjectPrefix: string
  /** Its `email_verified: true` may link accounts (`linkAccountsByEmail`). */
  emailAuthoritative: boolean
  profile: ProviderProfile
}

export interface OAuthProxyOptions extends GatehouseProviderOptions {
  cookies: CookieSigner
  /**
   * Several identity providers, chosen by the user after consent (instead of `profile`). Their
   * ids, callback paths and subject prefixes must be distinct (`resolveConfig` checks them).
   */
  idps?: readonly IdentityProviderEntry[]
  /** With `idps`: link users by verified email of email-authoritative IdPs (default false). */
  linkAccountsByEmail?: boolean
  /** The identity provider's profile (see `ProviderProfile`); without it, one is made of the fields below. */
  profile?: ProviderProfile
  /** Without `profile`: the leg to the IdP. */
  upstream?: UpstreamClient
  /** Without `profile`: path of the IdP callback under the issuer (e.g. `/auth/callback`). */
  redirectPath?: string
  /** Without `profile`: scopes Gatehouse asks the IdP for; `mapScopes` may add some. */
  upstreamScopes?: readonly string[]
  /** Without `profile`: maps the client's scopes to the IdP's. */
  mapScopes?: (clientScopes: readonly string[]) => readonly string[]
  /** Without `profile`: verifies the IdP's ID token (OIDC) or access token; its `subject` becomes the user. */
  upstreamVerifier?: TokenVerifier
  /** Without `profile`: replaces the verifier-based identification. */
  resolveIdentity?: ResolveIdentity
}

/** The grant claim naming the IdP (its `id`) that signed the user in, with several IdPs. */
export const GRANT_IDP_CLAIM = 'upstream_idp'

/**
 * With `upstreams`, what an IdP asserts about a user's authority is named by that IdP, as its
 * subjects are: each of `roles` and `groups` becomes `<id>:<value>`, and so does Entra's `tid`.
 * Otherwise any IdP could give its users a role, group or directory that the operator meant as
 * another IdP's (a partner IdP's administrators, or anyone who names a Hugging Face organisation),
 * and with it the `/admin` page or a gateway rule. Config naming them must say whose they are
 * (`checkQualifiedAuthority`).
 */
function qualifiedAuthority(
  claims: Record<string, unknown> | undefined,
  idp: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...claims, [AUTHORITY_NAMED_CLAIM]: true }
  for (const name of AUTHORITY_LIST_CLAIMS) {
    const values = out[name]
    if (values === undefined) continue
    out[name] = Array.isArray(values)
      ? values.filter((v): v is string => typeof v === 'string').map((v) => `${idp}:${v}`)
      : []
  }
  if (out.tid !== undefined) {
    if (typeof out.tid === 'string') out.tid = `${idp}:${out.tid}`
    else delete out.tid
  }
  return out
}

/** The proxy's options with the profile's leg to the IdP filled in. */
export type ResolvedProxyOptions = OAuthProxyOptions & {
  upstream: UpstreamClient
  redirectPath: string
}

/** A capability of the profile, bound to this proxy's grants. */
export interface ProxyCapabilities {
  /**
   * A downstream token on behalf of the user behind `token` (the profile's `onBehalfOf`, given the
   * user's IdP access token, refreshed first when it is about to expire).
   */
  onBehalfOf?: (token: AccessToken, scopes: readonly string[]) => Promise<string>
  /** Verifies the IdP's access tokens for this API. */
  accessTokenVerifier?: TokenVerifier
}

const REFRESH_MARGIN_SECONDS = 30

export class OAuthProxy extends GatehouseProvider {
  readonly proxy: ResolvedProxyOptions

  /** What differs between identity providers. */
  readonly profile: ProviderProfile

  /** The profile's optional capabilities; absent members are not offered by this IdP. */
  readonly capabilities: ProxyCapabilities

  /** The consent page's view of this proxy: approval sends the browser to the IdP. */
  readonly consent: ConsentHost

  /** With several IdPs: each by its id, in the configured order (empty with one IdP). */
  readonly idps: ReadonlyMap<string, IdentityProviderEntry>

  /** With several IdPs: the chooser's view of this proxy. */
  readonly chooser: ChooserHost | undefined

  readonly #linkByEmail: boolean
  /**
   * IdP tokens a refresh got but the store would not take (a fault), by grant, with the refresh
   * token they replace: the IdP has rotated it, so sending the old one again would be refused and
   * end the user's sign-in. The next refresh of the grant on this instance writes these instead.
   */
  readonly #unsaved = new Map<string, { tokens: UpstreamTokens; replaces: string | undefined }>()

  constructor(options: OAuthProxyOptions) {
    super(options)
    const idps = options.idps ?? []
    if (idps.length > 0 && options.profile !== undefined) {
      throw new TypeError('OAuthProxy: pass a profile or idps, not both')
    }
    this.idps = new Map(idps.map((e) => [e.id, e]))
    if (this.idps.size !== idps.length) throw new TypeError('OAuthProxy: duplicate idp id')
    this.#linkByEmail = options.linkAccountsByEmail ?? false
    // With several IdPs `profile` is the first one's, for the members that read it (none on the
    // request path: those pick the grant's or the transaction's IdP).
    this.profile = options.profile ?? idps[0]?.profile ?? profileOf(options)
    this.proxy = {
      ...options,
      upstream: this.profile.upstream,
      redirectPath: this.profile.redirectPath,
    }
    // Several IdPs offer no capabilities yet: On-Behalf-Of and IdP-token verification would have
    // to pick the grant's IdP (docs/providers/multiple.md).
    const offered = this.idps.size > 0 ? {} : (this.profile.capabilities ?? {})
    const onBehalfOf = offered.onBehalfOf
    this.capabilities = {
      ...(onBehalfOf
        ? {
            onBehalfOf: (token, scopes) => onBehalfOf(() => this.getUpstreamToken(token), scopes),
          }
        : {}),
      ...(offered.accessTokenVerifier ? { accessTokenVerifier: offered.accessTokenVerifier } : {}),
    }
    this.consent = {
      config: options.config,
      store: options.store,
      cookies: options.cookies,
      onError: options.onError,
      audit: options.audit,
      getClient: (clientId) => this.getClient(clientId),
      approve: (id, txn, _client, secure) => this.#approve(id, txn as Transaction, secure),
    }
    this.chooser =
      this.idps.size > 0
        ? {
            consent: this.consent,
            choices: idps.map((e) => ({ id: e.id, label: e.label })),
            choose: (id, _txn, idp) => this.#choose(id, idp),
          }
        : undefined
  }

  /**
   * After consent: a browser-binding cookie (checked at the callback) and a 303 to the IdP. The
   * transaction is marked approved, so the same consent cannot be posted twice.
   */
  async #approve(id: string, txn: Transaction, secure: boolean): Promise<Response> {
    const nonce = randomToken(32)
    await this.options.store.set(
      storageKey.transaction(id),
      { ...txn, bindingHash: await sha256(nonce) } satisfies Transaction,
      { ttlSeconds: TRANSACTION_TTL_SECONDS },
    )
    consentGiven(this.consent, txn)
    const binding = serializeCookie(
      BINDING_COOKIE,
      await this.proxy.cookies.sign(BINDING_COOKIE, { txn: id, nonce }),
      { secure, maxAgeSeconds: TRANSACTION_TTL_SECONDS },
    )
    if (this.chooser) {
      const chooser = redirectResponse(
        `${this.options.config.issuer}/consent/provider?txn=${encodeURIComponent(id)}`,
        303,
      )
      chooser.headers.append('set-cookie', binding)
      return chooser
    }
    const upstream = await this.proxy.upstream.authorizationUrl({
      redirectUri: `${this.options.config.issuer}${this.proxy.redirectPath}`,
      state: id,
      codeVerifier: txn.codeVerifier,
      ...(txn.nonce !== undefined ? { nonce: txn.nonce } : {}),
      scopes: this.upstreamScopesFor(txn),
    })
    const response = redirectResponse(upstream, 303)
    response.headers.append('set-cookie', binding)
    return response
  }

  /**
   * The user chose IdP `idp` (known) for the approved transaction `id`: taken once and stored
   * again with the choice (and, for an OpenID provider, the ID token's nonce), then a 303 to that
   * IdP with its own callback. `undefined` when the transaction was taken already.
   */
  async #choose(id: string, idp: string): Promise<Response | undefined> {
    const entry = this.idps.get(idp)
    const taken = await this.options.store.take<Transaction>(storageKey.transaction(id))
    if (!entry || !taken?.bindingHash || taken.idp !== undefined) return undefined
    const { nonce: _none, ...rest } = taken
    const profile = entry.profile
    const txn: Transaction = {
      ...rest,
      idp,
      ...(profile.upstream.settings.openid ? { nonce: randomToken(24) } : {}),
    }
    await this.options.store.set(storageKey.transaction(id), txn, {
      ttlSeconds: TRANSACTION_TTL_SECONDS,
    })
    const upstream = await profile.upstream.authorizationUrl({
      redirectUri: `${this.options.config.issuer}${profile.redirectPath}`,
      state: id,
      codeVerifier: txn.codeVerifier,
      ...(txn.nonce !== undefined ? { nonce: txn.nonce } : {}),
      scopes: profile.scopes.authorize(txn.params.scopes),
    })
    return redirectResponse(upstream, 303)
  }

  /** Stores the transaction and sends the browser to the consent page. */
  override async authorize(
    client: OAuthClientInformation,
    params: AuthorizationParams,
  ): Promise<string> {
    const id = randomToken(32)
    const txn: Transaction = {
      clientId: client.client_id,
      params,
      codeVerifier: randomToken(48),
      // With several IdPs the nonce is made once the user chose one.
      ...(this.idps.size === 0 && this.proxy.upstream.settings.openid
        ? { nonce: randomToken(24) }
        : {}),
      ...(client.metadata_document_fingerprint !== undefined
        ? { clientFingerprint: client.metadata_document_fingerprint }
        : {}),
    }
    await this.options.store.set(storageKey.transaction(id), txn, {
      ttlSeconds: TRANSACTION_TTL_SECONDS,
    })
    return `${this.options.config.issuer}/consent?txn=${encodeURIComponent(id)}`
  }

  /** The consent and callback routes this provider adds to the server. */
  routes(): Route[] {
    const base = this.options.config.basePath
    const consent: Route = {
      path: `${base}/consent`,
      cors: false,
      methods: {
        GET: (r) => handleConsentGet(r, this.consent),
        POST: (r) => handleConsentPost(r, this.consent),
      },
    }
    const chooser = this.chooser
    if (!chooser) {
      return [
        consent,
        {
          path: `${base}${this.proxy.redirectPath}`,
          cors: false,
          methods: { GET: (r) => handleCallback(r, this) },
        },
      ]
    }
    return [
      consent,
      {
        path: `${base}/consent/provider`,
        cors: false,
        methods: {
          GET: (r) => handleChooserGet(r, chooser),
          POST: (r) => handleChooserPost(r, chooser),
        },
      },
      ...[...this.idps.values()].map((entry): Route => ({
        path: `${base}${entry.profile.redirectPath}`,
        cors: false,
        methods: { GET: (r) => handleCallback(r, this.#callbackHost(entry)) },
      })),
    ]
  }

  /** The callback of one of several IdPs: its leg, its profile, only its transactions. */
  #callbackHost(entry: IdentityProviderEntry): CallbackHost {
    const profile = entry.profile
    return {
      proxy: { ...this.proxy, upstream: profile.upstream, redirectPath: profile.redirectPath },
      consent: this.consent,
      idp: entry.id,
      upstreamTokenScopesFor: (txn) =>
        profile.scopes.token?.(txn.params.scopes) ?? profile.scopes.authorize(txn.params.scopes),
      identify: (result) => this.#identifyAt(entry, result),
      issueCode: (client, params, identity) => this.issueCode(client, params, identity),
    }
  }

  /**
   * The user as IdP `entry` reports them, in Gatehouse's subject space: the IdP's `sub` behind its
   * prefix, or `email|<address>` when linking by email is on, the IdP is authoritative for email
   * and says `email_verified: true`. The grant records the IdP (`upstream_idp`) and its `sub`.
   */
  async #identifyAt(entry: IdentityProviderEntry, result: UpstreamResult): Promise<UserIdentity> {
    const identity = await entry.profile.identify(result)
    const claims: Record<string, unknown> = {
      ...qualifiedAuthority(identity.claims, entry.id),
      [GRANT_IDP_CLAIM]: entry.id,
      upstream_sub: identity.subject,
    }
    const email = claims.email
    const linked =
      this.#linkByEmail &&
      entry.emailAuthoritative &&
      claims.email_verified === true &&
      typeof email === 'string' &&
      email.includes('@')
    return {
      ...identity,
      subject: linked
        ? `${LINKED_SUBJECT_PREFIX}${email.toLowerCase()}`
        : `${entry.subjectPrefix}${identity.subject}`,
      claims,
    }
  }

  /**
   * The profile of the IdP that signed the user in: the only one, or with several IdPs the one
   * the grant (or identity) records; an IdP no longer configured is `invalid_token`.
   */
  #profileOf(claims: Record<string, unknown> | undefined): ProviderProfile {
    if (this.idps.size === 0) return this.profile
    const id = claims?.[GRANT_IDP_CLAIM]
    const entry = typeof id === 'string' ? this.idps.get(id) : undefined
    if (!entry) {
      throw new OAuthError('invalid_token', "the grant's identity provider is not configured", {
        reason: 'grant_idp_unknown',
      })
    }
    return entry.profile
  }

  /** The scopes to ask the IdP for on behalf of this transaction (the profile's `scopes.authorize`). */
  upstreamScopesFor(txn: Transaction): readonly string[] {
    return this.profile.scopes.authorize(txn.params.scopes)
  }

  /** The scopes to send with the code exchange (default: those of the authorize request). */
  upstreamTokenScopesFor(txn: Transaction): readonly string[] {
    return this.profile.scopes.token?.(txn.params.scopes) ?? this.upstreamScopesFor(txn)
  }

  /** The scopes to send with an upstream refresh of `grant` (default: none, the IdP keeps them). */
  upstreamRefreshScopesFor(grant: GrantRecord): readonly string[] | undefined {
    return this.#profileOf(grant.claims).scopes.refresh?.(grant.scopes)
  }

  /** What is kept of the IdP's tokens after a refresh (the profile's `keepTokens`). */
  keepUpstreamTokens(tokens: UpstreamTokens, grant?: GrantRecord): UpstreamTokens {
    const profile = grant ? this.#profileOf(grant.claims) : this.profile
    return profile.keepTokens?.(tokens) ?? tokens
  }

  /** Releases what the profiles hold in memory (caches); `gatehouse.close()` calls it. */
  close(): void {
    if (this.idps.size === 0) this.profile.close?.()
    for (const entry of this.idps.values()) entry.profile.close?.()
  }

  /** Turns the IdP's answer into a user (the profile's `identify`). */
  async identify(result: UpstreamResult): Promise<UserIdentity> {
    return this.profile.identify(result)
  }

  /**
   * Issues Gatehouse's code for the scopes the profile lets it carry (`grantedScopes`: e.g. only
   * those the IdP granted, so Gatehouse's token never claims more than the IdP gave).
   */
  override async issueCode(
    client: OAuthClientInformation,
    params: AuthorizationParams,
    identity: UserIdentity,
  ): Promise<string> {
    const granted = this.#profileOf(identity.claims).grantedScopes?.(params.scopes, identity)
    return super.issueCode(
      client,
      granted === undefined ? params : { ...params, scopes: [...granted] },
      identity,
    )
  }

  /**
   * The grant and the IdP tokens kept in it. A grant that is gone is `invalid_token` (the client
   * signs the user in again); one that never had IdP tokens (client credentials, ID-JAG, token
   * exchange: no sign-in at the IdP) is `access_denied` with reason `no_upstream_tokens` and 403,
   * since no new token of that client would have them either.
   */
  private async upstreamTokensOf(grantId: string) {
    const grant = await this.grants.get(grantId)
    if (!grant)
      throw new OAuthError('invalid_token', 'the grant was revoked', { reason: 'grant_revoked' })
    const tokens = grant.upstream as UpstreamTokens | undefined
    if (!tokens) {
      throw new OAuthError(
        'access_denied',
        'no sign-in at the identity provider behind this token',
        {
          reason: 'no_upstream_tokens',
          status: 403,
        },
      )
    }
    return { grant, tokens }
  }

  /**
   * The IdP's access token for the grant behind `token`, refreshed upstream when it is about to
   * expire. One refresh per grant at a time, also across instances (a lock in the store); an IdP
   * that refuses the refresh revokes the grant (`invalid_token`).
   */
  async getUpstreamToken(token: AccessToken): Promise<string> {
    const grantId = token.grantId
    if (grantId === undefined)
      throw new OAuthError('invalid_token', 'the token has no grant', { reason: 'no_grant' })
    for (let attempt = 0; attempt < 50; attempt++) {
      const now = Math.floor(this.options.now() / 1000)
      const before = await this.upstreamTokensOf(grantId)
      if (!needsRefresh(before.tokens, now)) return before.tokens.accessToken
      const lock = storageKey.upstreamRefreshLock(grantId)
      // The lock outlives the longest refresh its holder should make (the upstream timeout, plus
      // the grant write). Should a holder still outlive it (a stalled process), the release is
      // fenced: it frees the lock only while this holder's own token is in it, never the lock of
      // an instance that took it over, so at most the one late holder overlaps with the next.
      const upstream = this.#profileOf(before.grant.claims).upstream
      const lockSeconds = Math.ceil(upstream.settings.timeoutMs / 1000) * 2 + 10
      const owner = randomToken(16)
      if (await this.options.store.acquireLock(lock, owner, { ttlSeconds: lockSeconds })) {
        try {
          // Read the grant again under the lock: the holder before us may have refreshed and
          // released between our read and our acquire. Refreshing again would spend a rotated
          // refresh token, and the IdP's refusal would end the user's sign-in.
          const { grant, tokens: stored } = await this.upstreamTokensOf(grantId)
          if (!needsRefresh(stored, now)) return stored.accessToken
          // A refresh of this instance whose write failed: its tokens are the current ones.
          const unsaved = this.#unsaved.get(grantId)
          const tokens =
            unsaved !== undefined && unsaved.replaces === stored.refreshToken
              ? unsaved.tokens
              : stored
          const fresh = needsRefresh(tokens, now)
            ? this.keepUpstreamTokens(
                await upstream.refresh(tokens, this.upstreamRefreshScopesFor(grant)),
                grant,
              )
            : tokens
          let written: boolean
          try {
            written = await writeWithRetry(() =>
              this.grants.update(grantId, { ...grant, upstream: fresh }),
            )
          } catch (error) {
            this.#keepUnsaved(grantId, fresh, stored.refreshToken)
            throw error
          }
          this.#unsaved.delete(grantId)
          if (!written) {
            throw new OAuthError('invalid_token', 'the grant was revoked', {
              reason: 'grant_revoked',
            })
          }
          return fresh.accessToken
        } catch (error) {
          if (error instanceof UpstreamRefusal && error.upstreamCode === 'invalid_grant') {
            await this.grants.revoke(grantId)
            throw new OAuthError(
              'invalid_token',
              'the sign-in at the identity provider has ended',
              {
                reason: 'upstream_refresh_refused',
                cause: error,
              },
            )
          }
          throw error
        } finally {
          // A release that fails must not turn a refresh that worked into an error: the lock
          // expires by itself.
          await this.options.store.releaseLock(lock, owner).catch(() => false)
        }
      }
      // Another request (maybe another instance) is refreshing: wait for its result.
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new OAuthError('temporarily_unavailable', 'the identity provider is slow to answer', {
      reason: 'upstream_refresh_lock_timeout',
    })
  }

  #keepUnsaved(grantId: string, tokens: UpstreamTokens, replaces: string | undefined): void {
    this.#unsaved.delete(grantId)
    if (this.#unsaved.size >= MAX_UNSAVED) {
      const oldest = this.#unsaved.keys().next()
      if (!oldest.done) this.#unsaved.delete(oldest.value)
    }
    this.#unsaved.set(grantId, { tokens, replaces })
  }
}

/** Most refreshed IdP token sets held for a store that failed (one per grant). */
const MAX_UNSAVED = 1000

/**
 * `write`, tried again twice (after 100 and 300 ms) when the store fails: the IdP has rotated
 * its refresh token already, so giving up loses the only copy of the new one.
 */
async function writeWithRetry(write: () => Promise<boolean>): Promise<boolean> {
  for (const pause of [100, 300]) {
    try {
      return await write()
    } catch (error) {
      if (!(error instanceof StoreError)) throw error
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
  return write()
}

/** Whether the IdP's access token expires within the refresh margin (one without a lifetime never does). */
function needsRefresh(tokens: UpstreamTokens, now: number): boolean {
  return tokens.expiresAt !== undefined && tokens.expiresAt - REFRESH_MARGIN_SECONDS <= now
}

/** A generic profile from the proxy options of before profiles. */
function profileOf(options: OAuthProxyOptions): ProviderProfile {
  if (options.upstream === undefined || options.redirectPath === undefined) {
    throw new TypeError('OAuthProxy: pass a profile, or upstream and redirectPath')
  }
  return genericProfile({
    kind: 'oauth',
    upstream: options.upstream,
    redirectPath: options.redirectPath,
    upstreamScopes: options.upstreamScopes ?? [],
    ...(options.mapScopes ? { mapScopes: options.mapScopes } : {}),
    ...(options.upstreamVerifier ? { upstreamVerifier: options.upstreamVerifier } : {}),
    ...(options.resolveIdentity ? { resolveIdentity: options.resolveIdentity } : {}),
  })
}
