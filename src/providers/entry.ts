/**
 * A registry entry: how one `upstream.kind` becomes a provider profile (and, for Azure, the class
 * of the proxy over it). Each provider folder exports one; `./registry.ts` lists them.
 */
import type { OAuthProxy, OAuthProxyOptions } from '../upstream/oauth-proxy.js'
import type { ProfileContext, ProviderProfile } from '../upstream/profile.js'
import type { UpstreamConfig, UpstreamOf } from './shared.js'

export interface ProviderEntry<K extends UpstreamConfig['kind']> {
  /** Builds the profile from the `upstream` configuration (discovery runs here, at start-up). */
  profile(ctx: ProfileContext<UpstreamOf<K>>): Promise<ProviderProfile>
  /** The proxy over the profile (default `OAuthProxy`). */
  proxy?(options: OAuthProxyOptions & { profile: ProviderProfile }): OAuthProxy
}
