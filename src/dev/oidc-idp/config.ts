/**
 * The oidc-provider configuration of the development identity provider: static clients, PKCE S256
 * always, code flow only, automatic consent, and accounts from the options.
 */
import type { JWK } from 'jose'
import type { Configuration, Grant, KoaContextWithOIDC, Provider } from 'oidc-provider'

import type { DevIdPAccount, DevIdPSettings } from './types.js'
export type { DevIdPAccount, DevIdPSettings } from './types.js'
import { pageHeaders, renderErrorPage } from './login-page.js'

/** How long an unfinished sign-in (interaction) stays usable, in seconds. */
const INTERACTION_TTL = 10 * 60
/** How long the IdP's own browser session lasts, in seconds. */
const SESSION_TTL = 8 * 60 * 60
const AUTHORIZATION_CODE_TTL = 60

/** Builds the oidc-provider configuration; `keys` are private JWKs, the signing key first. */
export function buildProviderConfiguration(
  settings: DevIdPSettings,
  keys: readonly JWK[],
): Configuration {
  const bySub = new Map(settings.accounts.map((account) => [account.sub, account]))

  return {
    adapter: settings.adapter,
    clients: settings.clients,
    jwks: { keys: keys.map((key) => ({ ...key })) },
    cookies: {
      keys: settings.cookieKeys,
      // Browsers scope cookies by host, not port: the IdP shares 127.0.0.1 with Gatehouse and the
      // app, so its cookies get names no one else would pick.
      names: {
        session: 'gatehouse_dev_idp_session',
        interaction: 'gatehouse_dev_idp_interaction',
        resume: 'gatehouse_dev_idp_resume',
      },
    },
    scopes: settings.scopes,
    claims: {
      openid: ['sub', ...settings.customClaims],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // Scope claims go in the ID token too, as with Entra, not only at the userinfo endpoint.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    allowOmittingSingleRegisteredRedirectUri: false,
    // One algorithm, advertised alone in discovery, so a relying party that assumes RS256
    // (OpenID Connect's default) fails here as it would at an IdP that signs otherwise.
    enabledJWA: {
      idTokenSigningAlgValues: [settings.signingAlg],
      userinfoSigningAlgValues: [settings.signingAlg],
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: settings.signingAlg,
    },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: false },
      userinfo: { enabled: true },
      resourceIndicators: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      revocation: { enabled: false },
      introspection: { enabled: false },
    },
    clientBasedCORS: () => true,
    ttl: {
      AccessToken: settings.accessTokenTtl,
      AuthorizationCode: AUTHORIZATION_CODE_TTL,
      IdToken: settings.idTokenTtl,
      RefreshToken: settings.refreshTokenTtl,
      Grant: Math.max(settings.refreshTokenTtl, SESSION_TTL),
      Interaction: INTERACTION_TTL,
      Session: SESSION_TTL,
    },
    issueRefreshToken: (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') &&
      (settings.refreshTokenWithoutOfflineAccess || code.scopes.has('offline_access')),
    // Every refresh answers a new refresh token and consumes the old one (reuse revokes the grant).
    rotateRefreshToken: true,
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    loadExistingGrant: grantEverythingRequested,
    findAccount: (_ctx, sub) => {
      const account = bySub.get(sub)
      if (account === undefined) return undefined
      return { accountId: account.sub, claims: () => claimsOf(account) }
    },
    renderError: (ctx, out) => {
      ctx.set(pageHeaders())
      ctx.body = renderErrorPage(out.error, out.error_description ?? 'The request was refused.')
    },
  }
}

/**
 * Makes `offline_access` work without `prompt=consent`, as with Entra.
 *
 * oidc-provider follows OIDC Core and drops `offline_access` unless the request has
 * `prompt=consent`; this middleware adds `consent` to the prompt of authorization requests that ask
 * for `offline_access` (unless they say `prompt=none`). The consent step is then granted
 * automatically by the interaction routes, so the user sees nothing more.
 */
export function impliedConsentForOfflineAccess(provider: Provider): void {
  const authorizationPath = provider.pathFor('authorization')
  provider.use(async (ctx, next) => {
    // With an issuer path (`/realms/demo`, `/oauth2/default`) `pathFor` names the mount too,
    // while the request reaches here with the mount taken off: compare the route's tail.
    if (ctx.method === 'GET' && ctx.path !== '/' && authorizationPath.endsWith(ctx.path)) {
      const params = new URLSearchParams(ctx.querystring)
      const scopes = (params.get('scope') ?? '').split(' ')
      const prompts = params.getAll('prompt')
      const prompt = (prompts[0] ?? '').split(' ').filter(Boolean)
      if (
        scopes.includes('offline_access') &&
        prompts.length <= 1 &&
        !prompt.includes('consent') &&
        !prompt.includes('none')
      ) {
        params.set('prompt', [...prompt, 'consent'].join(' '))
        ctx.querystring = params.toString()
      }
    }
    await next()
  })
}

/** The claims of an account, before oidc-provider filters them by the granted scopes. */
function claimsOf(account: DevIdPAccount): { sub: string; [claim: string]: unknown } {
  const claims: { sub: string; [claim: string]: unknown } = {
    ...account.claims,
    sub: account.sub,
    preferred_username: account.username,
  }
  if (account.name !== undefined) claims.name = account.name
  if (account.email !== undefined) {
    claims.email = account.email
    claims.email_verified = true
  }
  return claims
}

/**
 * Consent is automatic on a dev IdP: the grant (the existing one for this session and client, or a
 * new one) is widened to every scope and claim the request asks for, so the consent prompt never
 * finds anything missing.
 */
async function grantEverythingRequested(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
  const { oidc } = ctx
  const { client, session, account } = oidc
  if (client === undefined || session === undefined || account === undefined) return undefined
  const grantId = oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId)
  const existing = grantId === undefined ? undefined : await oidc.provider.Grant.find(grantId)
  const grant =
    existing?.accountId === account.accountId
      ? existing
      : new oidc.provider.Grant({ accountId: account.accountId, clientId: client.clientId })
  grant.addOIDCScope(oidc.requestParamOIDCScopes)
  grant.addOIDCClaims(oidc.requestParamClaims)
  await grant.save()
  return grant
}
