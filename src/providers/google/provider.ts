/**
 * `GoogleProvider`: the OIDC proxy with Google's rules.
 * - Endpoints and keys from Google's discovery document, read once at start-up.
 * - Refresh tokens: Google sends one only with `access_type=offline`, and only on the first
 *   consent unless `prompt=consent` asks again; `offlineAccess` (default) sends both. Google
 *   refuses the `offline_access` scope, so it is never asked for.
 * - Access tokens are opaque: the user is the ID token's `sub`, verified with Google's keys
 *   (`iss` may be `https://accounts.google.com` or `accounts.google.com`, as Google documents).
 * - `hostedDomains` is checked on the ID token's `hd` claim (sending `hd` only picks the account
 *   chooser's domain; anyone can edit the URL), and `email_verified` must be true.
 * Google ID tokens carry no groups: a Google user has no roles in Gatehouse's tokens.
 */
import type { ResolvedConfig } from '../../config/schema.js'
import { ASYMMETRIC_ALGORITHMS } from '../../config/schema.js'
import { isLoopbackHost } from '../../config/urls.js'
import { ConfigError, OAuthError } from '../../errors.js'
import { createCookieSigner } from '../../http/cookies.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import type { GatehouseProviderOptions, UserIdentity } from '../../oauth/gatehouse-provider.js'
import type { TokenVerifier } from '../../resource/access-token.js'
import type { ProxyDeps } from '../../upstream/create-proxy.js'
import { OAuthProxy, type OAuthProxyOptions, type Transaction } from '../../upstream/oauth-proxy.js'
import { discoverOidc } from '../../upstream/oidc-discovery.js'
import { UpstreamClient, type UpstreamTokens } from '../../upstream/upstream-client.js'

export type GoogleUpstream = Extract<NonNullable<ResolvedConfig['upstream']>, { kind: 'google' }>

export const GOOGLE_SCOPES = ['openid', 'email', 'profile']

export interface GoogleProviderOptions extends OAuthProxyOptions {
  google: {
    /** Verifies Google's ID tokens (keys from the discovery document's `jwks_uri`). */
    idTokenVerifier: TokenVerifier
    /** Lower-case Workspace domains whose users may sign in; undefined: any account. */
    hostedDomains: readonly string[] | undefined
    requireVerifiedEmail: boolean
    /** The issuer recorded as the user's `upstream.iss` (the scheme-less form normalised). */
    issuer: string
  }
}

/** Claims of Google's ID token carried into the grant. */
const KEPT_CLAIMS = ['name', 'hd', 'given_name', 'family_name'] as const

function refuse(description: string, reason: string): OAuthError {
  return new OAuthError('access_denied', description, { reason })
}

export class GoogleProvider extends OAuthProxy {
  readonly google: GoogleProviderOptions['google']

  constructor(options: GoogleProviderOptions) {
    super(options)
    this.google = options.google
  }

  /** Google takes no scope at the code exchange. */
  override upstreamTokenScopesFor(_txn: Transaction): readonly string[] {
    return []
  }

  /** The user is the verified ID token's `sub`, if its `hd` and `email_verified` pass. */
  override async identify(result: {
    tokens: UpstreamTokens
    idTokenClaims?: Record<string, unknown>
  }): Promise<UserIdentity> {
    const idToken = result.tokens.idToken
    const verified =
      idToken === undefined ? undefined : await this.google.idTokenVerifier.verifyToken(idToken)
    if (!verified?.subject) {
      throw refuse('the identity provider did not prove who signed in', 'upstream_token_unverified')
    }
    const claims = verified.claims
    const domains = this.google.hostedDomains
    if (domains !== undefined) {
      const hd = typeof claims.hd === 'string' ? claims.hd.toLowerCase() : undefined
      if (hd === undefined || !domains.includes(hd)) {
        throw refuse(
          'this Google account is not in an allowed Workspace domain',
          'upstream_hosted_domain_not_allowed',
        )
      }
    }
    const emailVerified = claims.email_verified === true
    if (this.google.requireVerifiedEmail && !(emailVerified && typeof claims.email === 'string')) {
      throw refuse('this Google account has no verified email address', 'upstream_email_unverified')
    }
    const kept: Record<string, unknown> = { upstream_iss: this.google.issuer }
    if (emailVerified && typeof claims.email === 'string') {
      kept.email = claims.email
      kept.email_verified = true
    }
    for (const k of KEPT_CLAIMS) if (typeof claims[k] === 'string') kept[k] = claims[k]
    return { subject: verified.subject, claims: kept, upstream: result.tokens }
  }
}

/** `https://accounts.google.com` → `accounts.google.com`: the other `iss` Google puts in ID tokens. */
export function schemelessIssuer(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '')
}

export async function buildGoogleProvider(
  config: ResolvedConfig,
  up: GoogleUpstream,
  base: GatehouseProviderOptions,
  deps: ProxyDeps,
): Promise<GoogleProvider> {
  const timeoutMs = up.timeoutSeconds * 1000
  const d = await discoverOidc(up.discoveryUrl, {
    strict: true,
    timeoutMs,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  })
  const algorithms = d.idTokenAlgorithms.filter((a) =>
    (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a),
  )
  if (algorithms.length === 0) {
    throw new ConfigError([
      'upstream discovery: Google’s document offers no asymmetric ID-token algorithm',
    ])
  }
  const bare = schemelessIssuer(d.issuer)
  const prompt = up.prompt ?? (up.offlineAccess ? 'consent' : undefined)
  if (up.offlineAccess && !(prompt ?? '').includes('consent')) {
    ;(deps.onWarning ?? console.warn)(
      `gatehouse: upstream.prompt is ${prompt ?? 'unset'} with offlineAccess: Google sends a ` +
        'refresh token only on a user’s first consent to this client, so users who consented ' +
        'before get none and their Google access token cannot be renewed after an hour',
    )
  }
  const domains = up.hostedDomains
  const loopback = isLoopbackUrl(d.issuer)
  const upstream = new UpstreamClient(
    {
      clientId: up.clientId,
      ...(up.clientSecret !== undefined ? { clientSecret: up.clientSecret } : {}),
      tokenEndpointAuthMethod: up.tokenEndpointAuthMethod,
      issuer: d.issuer,
      authorizationEndpoint: d.authorizationEndpoint,
      tokenEndpoint: d.tokenEndpoint,
      ...(d.revocationEndpoint ? { revocationEndpoint: d.revocationEndpoint } : {}),
      jwksUri: d.jwksUri,
      issParameterSupported: d.issParameterSupported,
      openid: true,
      idTokenAlgorithms: algorithms,
      extraAuthorizeParams: {
        ...up.extraAuthorizeParams,
        access_type: up.offlineAccess ? 'offline' : 'online',
        ...(prompt !== undefined ? { prompt } : {}),
        // A hint for the account chooser only; the `hd` claim is what is checked.
        ...(domains?.length === 1 && domains[0] !== undefined ? { hd: domains[0] } : {}),
      },
      extraTokenParams: { ...up.extraTokenParams },
      allowInsecureRequests: loopback,
      timeoutMs,
      idTokenIssuer: (claims) => (claims.iss === bare ? bare : undefined),
    },
    deps.fetch,
    base.now,
  )
  const idTokenVerifier = new JWTVerifier({
    issuer: [d.issuer, bare],
    audience: up.clientId,
    jwksUri: d.jwksUri,
    algorithms,
    allowHttpLoopback: isLoopbackUrl(d.jwksUri),
    dangerouslyAllowPrivateNetwork: isLoopbackUrl(d.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    now: base.now,
    clockToleranceSeconds: config.clockToleranceSeconds,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.transport ? { transport: deps.transport } : {}),
    ...(deps.signatureVerifier ? { signatureVerifier: deps.signatureVerifier } : {}),
    ...(deps.observer ? { observer: deps.observer } : {}),
  })
  return new GoogleProvider({
    ...base,
    upstream,
    cookies: await createCookieSigner(config.secret),
    redirectPath: up.redirectPath,
    upstreamScopes: up.scopes ?? GOOGLE_SCOPES,
    upstreamVerifier: idTokenVerifier,
    google: {
      idTokenVerifier,
      hostedDomains: domains,
      requireVerifiedEmail: up.requireVerifiedEmail,
      issuer: d.issuer,
    },
  })
}

function isLoopbackUrl(value: string): boolean {
  const url = new URL(value)
  return url.protocol === 'http:' && isLoopbackHost(url.hostname)
}
