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
import {
  OAuthProxy,
  type IdentityProviderEntry,
  type OAuthProxyOptions,
} from '../upstream/oauth-proxy.js'
import type { ProviderDeps, ProviderProfile } from '../upstream/profile.js'
import { auth0Provider } from './auth0/index.js'
import { azureProvider } from './azure/index.js'
import { githubProvider } from './github/index.js'
import { googleProvider } from './google/index.js'
import { cognitoProvider } from './cognito/index.js'
import { discordProvider } from './discord/index.js'
import { huggingFaceProvider } from './huggingface/index.js'
import { ociProvider } from './oci/index.js'
import type { ProviderEntry } from './entry.js'
import { keycloakProvider } from './keycloak/index.js'
import { oauthProvider } from './oauth/index.js'
import { oidcProvider } from './oidc/index.js'
import { oktaProvider } from './okta/index.js'
import { workosProvider } from './workos/index.js'
import { descopeProvider } from './descope/index.js'
import { scalekitProvider } from './scalekit/index.js'
import { supabaseProvider } from './supabase/index.js'
import { clerkProvider } from './clerk/index.js'
import { propelauthProvider } from './propelauth/index.js'
import type { UpstreamConfig } from './shared.js'

export const providers: { readonly [K in UpstreamConfig['kind']]: ProviderEntry<K> } = {
  oidc: oidcProvider,
  oauth: oauthProvider,
  azure: azureProvider,
  github: githubProvider,
  google: googleProvider,
  auth0: auth0Provider,
  keycloak: keycloakProvider,
  okta: oktaProvider,
  cognito: cognitoProvider,
  discord: discordProvider,
  huggingface: huggingFaceProvider,
  oci: ociProvider,
  workos: workosProvider,
  descope: descopeProvider,
  scalekit: scalekitProvider,
  supabase: supabaseProvider,
  clerk: clerkProvider,
  propelauth: propelauthProvider,
}

/** The profile of one `upstream` member, built by its kind's entry (discovery runs here). */
function buildProfile(
  config: ResolvedConfig,
  up: UpstreamConfig,
  now: () => number,
  deps: ProviderDeps,
): Promise<ProviderProfile> {
  const entry = providers[up.kind] as ProviderEntry<UpstreamConfig['kind']>
  return entry.profile({ config, upstream: up, now, deps })
}

/**
 * The OAuth proxy for `config.upstream`, or for the several IdPs of `config.upstreams` (one
 * `OAuthProxy` holding a profile per IdP id, each built through its kind's entry), or undefined
 * without either.
 */
export async function createProxy(
  config: ResolvedConfig,
  base: Omit<OAuthProxyOptions, 'cookies' | 'profile'>,
  deps: ProviderDeps,
): Promise<OAuthProxy | undefined> {
  if (config.upstreams) {
    const idps: IdentityProviderEntry[] = []
    for (const e of config.upstreams) {
      idps.push({
        id: e.id,
        label: e.label,
        subjectPrefix: e.subjectPrefix,
        emailAuthoritative: e.emailAuthoritative,
        profile: await buildProfile(config, e.upstream, base.now, deps),
      })
    }
    return new OAuthProxy({
      ...base,
      cookies: await createCookieSigner(config.secret),
      idps,
      linkAccountsByEmail: config.linkAccountsByEmail,
    })
  }
  const up = config.upstream
  if (!up) return undefined
  const entry = providers[up.kind] as ProviderEntry<UpstreamConfig['kind']>
  const profile = await buildProfile(config, up, base.now, deps)
  const options = { ...base, cookies: await createCookieSigner(config.secret), profile }
  return entry.proxy ? entry.proxy(options) : new OAuthProxy(options)
}
