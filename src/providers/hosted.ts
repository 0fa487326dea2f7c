/**
 * What the hosted identity platforms (WorkOS AuthKit, Descope, Scalekit, Supabase Auth, Clerk …)
 * share as proxy-mode profiles: an issuer the provider's settings imply, checked at start-up
 * against its discovery document (`./discovered-issuer.ts`, the error naming the options and the
 * console setting); the OpenID Connect profile over it; the user from the verified ID token; and
 * the roles from the provider's own claims (`./roles.ts`), read from the verified ID token or —
 * where the provider puts them only there — from its verified JWT access token, which must then
 * name the same user. Each provider folder gives its rules; the remote-AS verifiers live there too.
 */
import type { AccessToken, TokenCheck, TokenVerifier } from '../jwt/access-token.js'
import type { JWTVerifierOptions } from '../jwt/verifier.js'
import { JWTVerifier } from '../jwt/verifier.js'
import { OAuthError } from '../errors.js'
import type { ProfileContext, ProviderProfile, UserIdentity } from '../upstream/profile.js'
import { verifiedIdentity } from '../upstream/profile.js'
import { discoverExpectedIssuer, discoveryURLOf } from './discovered-issuer.js'
import { buildOIDCProfile } from './oidc/profile.js'
import { member, stringList, withRoles } from './roles.js'
import { isLoopbackURL, verifierDeps, type UpstreamConfig, type UpstreamOf } from './shared.js'

/** The settings every upstream member has, as the OIDC profile takes them. */
export type CommonUpstream = Omit<UpstreamOf<'oidc'>, 'kind' | 'configUrl' | 'strict' | 'audience'>

export interface HostedRules {
  /** The `upstream.kind`. */
  kind: string
  /** The issuer the settings imply. */
  issuer: string
  /** Which options and console settings to check when the issuer is not there. */
  hint: string
  /** Scopes asked for when `upstream.scopes` is unset. */
  defaultScopes: readonly string[]
  /** The provider's roles, from the claims of the token `rolesFrom` names. */
  roles: (claims: Readonly<Record<string, unknown>>) => string[]
  /** Where the roles are: the ID token (default) or the JWT access token. */
  rolesFrom?: 'id_token' | 'access_token'
  /** The `aud` the access token must name (one of them) when roles come from it. */
  accessTokenAudience?: string | string[]
  /** Sent with every authorization request (before `upstream.extraAuthorizeParams`). */
  authorizeParams?: Record<string, string>
}

function refuse(reason: string): OAuthError {
  return new OAuthError('access_denied', 'the identity provider did not prove who signed in', {
    reason,
  })
}

/** `https://{domain}`, or the domain itself when it is a loopback stand-in's `http://` origin. */
export function originOf(domain: string): string {
  return domain.startsWith('http://') ? domain : `https://${domain}`
}

/**
 * Roles from the claim at the dotted path `path` (`user_role`, `public_metadata.roles`): a string
 * is one role, a list of strings several, anything else none; no path, no roles.
 */
export function rolesAt(
  path: string | undefined,
): (claims: Readonly<Record<string, unknown>>) => string[] {
  return (claims) => {
    if (path === undefined) return []
    const value = path.split('.').reduce<unknown>((at, name) => member(at, name), claims)
    return typeof value === 'string' ? [value] : stringList(value)
  }
}

/** The proxy-mode profile of a hosted provider under `rules`. */
export async function buildHostedProfile(
  ctx: ProfileContext<UpstreamConfig>,
  common: CommonUpstream,
  rules: HostedRules,
): Promise<ProviderProfile> {
  const found = await discoverExpectedIssuer(rules.issuer, rules.hint, {
    timeoutMs: common.timeoutSeconds * 1000,
    ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
  })
  const oidc = await buildOIDCProfile({
    ...ctx,
    upstream: {
      ...common,
      kind: 'oidc',
      configUrl: discoveryURLOf(rules.issuer),
      strict: true,
      scopes: common.scopes ?? [...rules.defaultScopes],
      extraAuthorizeParams: { ...rules.authorizeParams, ...common.extraAuthorizeParams },
    },
  })
  const algorithms = oidc.upstream.settings.idTokenAlgorithms
  const keys = {
    jwksUri: found.jwksUri,
    ...(algorithms ? { algorithms: [...algorithms] } : {}),
    allowHttpLoopback: isLoopbackURL(found.jwksUri),
    dangerouslyAllowPrivateNetwork:
      isLoopbackURL(found.jwksUri) || common.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  }
  const idTokens = new JWTVerifier({ issuer: rules.issuer, audience: common.clientId, ...keys })
  const accessTokens =
    rules.rolesFrom === 'access_token'
      ? new JWTVerifier({
          issuer: rules.issuer,
          audience: rules.accessTokenAudience ?? common.clientId,
          allowExtraAudiences: true,
          ...keys,
        })
      : undefined
  const identifyUser = verifiedIdentity(idTokens)
  return {
    ...oidc,
    kind: rules.kind,
    async identify(result): Promise<UserIdentity> {
      if (result.tokens.idToken === undefined) throw refuse('upstream_id_token_missing')
      const identity = await identifyUser(result)
      if (accessTokens === undefined) {
        const claims = (await idTokens.verifyToken(result.tokens.idToken))?.claims ?? {}
        return withRoles(identity, rules.roles(claims))
      }
      const access = await accessTokens
        .verifyToken(result.tokens.accessToken)
        .catch(() => undefined)
      if (access?.subject !== identity.subject) throw refuse('upstream_access_token_unverified')
      return withRoles(identity, rules.roles(access.claims))
    },
  }
}

/**
 * The verifier of the remote-AS mode: the provider is the MCP clients' authorization server and
 * Gatehouse only checks its JWT access tokens (`createRemoteAuthProvider`): issuer, keys, audience
 * and expiry, with the provider's roles as `claimsToRoles`.
 */
export function remoteVerifier(
  options: Pick<
    JWTVerifierOptions,
    | 'issuer'
    | 'audience'
    | 'jwksUri'
    | 'claimsToRoles'
    | 'allowExtraAudiences'
    | 'fetch'
    | 'now'
    | 'requiredScopes'
    | 'claimsToScopes'
    | 'typ'
  > & { jwksUri: string },
): JWTVerifier {
  const { jwksUri } = options
  return new JWTVerifier({
    ...options,
    allowHttpLoopback: isLoopbackURL(jwksUri),
    dangerouslyAllowPrivateNetwork: isLoopbackURL(jwksUri),
  })
}

/**
 * `verifier` for a provider whose tokens name something else than the MCP URL in `aud` (Descope's
 * project, Supabase's `authenticated` …): once the provider's own audience rule has held, the
 * token counts as one for `resource`, the URL the guard protects. Use it only where that rule is
 * the provider's documented binding; the provider's docs page says what it does not bind.
 */
export function boundToResource(verifier: TokenVerifier, resource: string): TokenVerifier {
  const bind = (token: AccessToken): AccessToken => ({ ...token, resource })
  return {
    async verifyToken(token) {
      const verified = await verifier.verifyToken(token)
      return verified === undefined ? undefined : bind(verified)
    },
    async checkToken(token): Promise<TokenCheck> {
      const check: TokenCheck = verifier.checkToken
        ? await verifier.checkToken(token)
        : await verifier
            .verifyToken(token)
            .then((t) => (t === undefined ? { status: 'invalid' } : { status: 'valid', token: t }))
      return check.status === 'invalid' ? check : { ...check, token: bind(check.token) }
    },
  }
}
