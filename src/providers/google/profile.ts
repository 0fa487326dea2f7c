/**
 * The Google profile (`upstream.kind: 'google'`): the OIDC proxy with Google's rules.
 * - Endpoints and keys from Google's discovery document, read once at start-up.
 * - Refresh tokens: Google sends one only with `access_type=offline`, and only on the first
 *   consent unless `prompt=consent` asks again; `offlineAccess` (default) sends both. Google
 *   refuses the `offline_access` scope, so it is never asked for.
 * - Access tokens are opaque: the user is the ID token's `sub`, verified with Google's keys
 *   (`iss` may be `https://accounts.google.com` or `accounts.google.com`, as Google documents).
 * - `hostedDomains` is checked on the ID token's `hd` claim (sending `hd` only picks the account
 *   chooser's domain; anyone can edit the URL), and `email_verified` must be true.
 * - The grant's `email_verified` is true only where Google is authoritative for the address
 *   (`isGoogleAuthoritativeFor`): a consumer account may be registered with any address Google
 *   once verified, and must not become that address's owner when accounts are linked by email.
 * Google ID tokens carry no groups: a Google user has no roles in Gatehouse's tokens.
 */
import { ASYMMETRIC_ALGORITHMS } from '../../config/protocol.js'
import { ConfigError, OAuthError } from '../../errors.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import type { TokenVerifier } from '../../jwt/access-token.js'
import { discoverOIDC } from '../../upstream/oidc-discovery.js'
import type {
  ProfileContext,
  ProviderProfile,
  UpstreamResult,
  UserIdentity,
} from '../../upstream/profile.js'
import { UpstreamClient } from '../../upstream/upstream-client.js'
import { commonSettings, isLoopbackURL, verifierDeps, type UpstreamOf } from '../shared.js'

export type GoogleUpstream = UpstreamOf<'google'>

export const GOOGLE_SCOPES = ['openid', 'email', 'profile']

/** Claims of Google's ID token carried into the grant. */
const KEPT_CLAIMS = ['name', 'hd', 'given_name', 'family_name'] as const

export interface GoogleRules {
  /** Lower-case Workspace domains whose users may sign in; undefined: any account. */
  hostedDomains: readonly string[] | undefined
  requireVerifiedEmail: boolean
  /** The issuer recorded as the user's `upstream.iss` (the scheme-less form normalised). */
  issuer: string
}

function refuse(description: string, reason: string): OAuthError {
  return new OAuthError('access_denied', description, { reason })
}

/** The user is the verified ID token's `sub`, if its `hd` and `email_verified` pass. */
export async function identifyGoogleUser(
  verifier: TokenVerifier,
  rules: GoogleRules,
  result: UpstreamResult,
): Promise<UserIdentity> {
  const idToken = result.tokens.idToken
  const verified = idToken === undefined ? undefined : await verifier.verifyToken(idToken)
  if (!verified?.subject) {
    throw refuse('the identity provider did not prove who signed in', 'upstream_token_unverified')
  }
  const claims = verified.claims
  const domains = rules.hostedDomains
  if (domains !== undefined) {
    const hd = typeof claims.hd === 'string' ? claims.hd.toLowerCase() : undefined
    if (hd === undefined || !domains.includes(hd)) {
      throw refuse(
        'this Google account is not in an allowed Workspace domain',
        'upstream_hosted_domain_not_allowed',
      )
    }
  }
  const emailVerified = claims.email_verified === true && typeof claims.email === 'string'
  if (rules.requireVerifiedEmail && !emailVerified) {
    throw refuse('this Google account has no verified email address', 'upstream_email_unverified')
  }
  const kept: Record<string, unknown> = { upstream_iss: rules.issuer }
  if (emailVerified) {
    kept.email = claims.email
    // What `linkAccountsByEmail` trusts: `email_verified: true` only for an address Google owns.
    kept.email_verified = isGoogleAuthoritativeFor(claims)
  }
  for (const k of KEPT_CLAIMS) if (typeof claims[k] === 'string') kept[k] = claims[k]
  return { subject: verified.subject, claims: kept, upstream: result.tokens }
}

/** The address domains of Google's own consumer accounts. */
const GOOGLE_MAIL_DOMAINS = ['gmail.com', 'googlemail.com']

/**
 * Whether Google vouches that the ID token's `email` belongs to this user, as Google's OpenID
 * Connect guide ("Authenticate the user") lets a relying party rely on it: a verified `@gmail.com`
 * (or `@googlemail.com`) address, or a verified address of a Workspace account (`hd` present: the
 * organization's primary domain; the address may be in any domain the organization has verified,
 * a secondary one included). A consumer account registered with another address
 * (`alice@corp.example`, no `hd`) proves only that someone once read mail there.
 */
export function isGoogleAuthoritativeFor(claims: Readonly<Record<string, unknown>>): boolean {
  const email = claims.email
  if (claims.email_verified !== true || typeof email !== 'string') return false
  const at = email.lastIndexOf('@')
  if (at < 1) return false
  const domain = email.slice(at + 1).toLowerCase()
  if (GOOGLE_MAIL_DOMAINS.includes(domain)) return true
  return typeof claims.hd === 'string' && claims.hd !== ''
}

/** `https://accounts.google.com` → `accounts.google.com`: the other `iss` Google puts in ID tokens. */
export function schemelessIssuer(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '')
}

export async function buildGoogleProfile(
  ctx: ProfileContext<GoogleUpstream>,
): Promise<ProviderProfile> {
  const up = ctx.upstream
  const d = await discoverOIDC(up.discoveryUrl, {
    strict: true,
    timeoutMs: up.timeoutSeconds * 1000,
    ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
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
    ;(ctx.deps.onWarning ?? console.warn)(
      `gatehouse: upstream.prompt is ${prompt ?? 'unset'} with offlineAccess: Google sends a ` +
        'refresh token only on a user’s first consent to this client, so users who consented ' +
        'before get none and their Google access token cannot be renewed after an hour',
    )
  }
  const domains = up.hostedDomains
  const upstream = new UpstreamClient(
    {
      ...commonSettings(up),
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
      allowInsecureRequests: isLoopbackURL(d.issuer),
      idTokenIssuer: (claims) => (claims.iss === bare ? bare : undefined),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const verifier = new JWTVerifier({
    issuer: [d.issuer, bare],
    audience: up.clientId,
    jwksUri: d.jwksUri,
    algorithms,
    allowHttpLoopback: isLoopbackURL(d.jwksUri),
    dangerouslyAllowPrivateNetwork: isLoopbackURL(d.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  const rules: GoogleRules = {
    hostedDomains: domains,
    requireVerifiedEmail: up.requireVerifiedEmail,
    issuer: d.issuer,
  }
  const scopes = up.scopes ?? GOOGLE_SCOPES
  return {
    kind: 'google',
    upstream,
    redirectPath: up.redirectPath,
    scopes: { authorize: () => scopes, token: () => [] },
    identify: (result) => identifyGoogleUser(verifier, rules, result),
  }
}
