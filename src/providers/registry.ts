/**
 * The identity providers Gatehouse can sign users in at, keyed by `upstream.kind`, and
 * `createProxy`, which builds the OAuth proxy for `config.upstream` from its entry: the profile
 * (discovery at start-up, upstream client, token verifier) and the cookie signer. Adding a
 * provider is a folder under `src/providers/` exporting a `ProviderEntry`, plus one line here
 * (and its `upstream` member in the configuration schema). `createGatehouse` calls `createProxy`;
 * the flat-option builders (`src/presets/`) reach a provider through `upstream.kind`.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { createCookieSigner } from '../http/cookies.js'
import { OAuthProxy, type OAuthProxyOptions } from '../upstream/oauth-proxy.js'
import type { ProviderDeps } from '../upstream/profile.js'
import { auth0Provider } from './auth0/index.js'
import { azureProvider } from './azure/index.js'
import { cognitoProvider } from './cognito/index.js'
import type { ProviderEntry } from './entry.js'
import { keycloakProvider } from './keycloak/index.js'
import { oauthProvider } from './oauth/index.js'
import { oidcProvider } from './oidc/index.js'
import { oktaProvider } from './okta/index.js'
import type { UpstreamConfig } from './shared.js'

export const providers: { readonly [K in UpstreamConfig['kind']]: ProviderEntry<K> } = {
  oidc: oidcProvider,
  oauth: oauthProvider,
  azure: azureProvider,
  keycloak: keycloakProvider,
  auth0: auth0Provider,
  okta: oktaProvider,
  cognito: cognitoProvider,
}

/** The OAuth proxy for `config.upstream`, or undefined without one. */
export async function createProxy(
  config: ResolvedConfig,
  base: Omit<OAuthProxyOptions, 'cookies' | 'profile'>,
  deps: ProviderDeps,
): Promise<OAuthProxy | undefined> {
  const up = config.upstream
  if (!up) return undefined
  const entry = providers[up.kind] as ProviderEntry<UpstreamConfig['kind']>
  const profile = await entry.profile({ config, upstream: up, now: base.now, deps })
  const options = { ...base, cookies: await createCookieSigner(config.secret), profile }
  return entry.proxy ? entry.proxy(options) : new OAuthProxy(options)
}
