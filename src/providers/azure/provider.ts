/**
 * `AzureProvider`: the OAuth proxy over the Azure profile, the class `gatehouse.base` has with
 * `upstream.kind: 'azure'`. All of Azure's behaviour is in the profile (`./profile.ts`); this class
 * only keeps the members users reached before profiles: `azure` (authority, scope rules, verifier,
 * On-Behalf-Of client) and `onBehalfOf(token, scopes)`. New code asks the capability instead:
 * `proxy.capabilities.onBehalfOf`.
 */
import { OAuthProxy, type OAuthProxyOptions } from '../../upstream/oauth-proxy.js'
import type { ProviderProfile } from '../../upstream/profile.js'
import type { AccessToken } from '../../jwt/access-token.js'
import { azureProfile, type AzureParts, type AzureProfile } from './profile.js'

export interface AzureProviderOptions extends OAuthProxyOptions {
  /** Without an Azure `profile`: the parts one is made of (with `upstream` and `redirectPath`). */
  azure?: AzureParts
}

export class AzureProvider extends OAuthProxy {
  readonly azure: AzureParts

  constructor(options: AzureProviderOptions) {
    const profile = azureProfileOf(options)
    super({ ...options, profile })
    this.azure = profile.azure
  }

  /**
   * A token for a downstream API (`https://graph.microsoft.com/User.Read` …) on behalf of the
   * user behind `token`, by Entra On-Behalf-Of (the `onBehalfOf` capability).
   *
   * @throws {AzureOBOError} `ERR_OBO_NOT_SUPPORTED` (B2C), `ERR_OBO_NO_TOKEN`, `ERR_OBO_REFUSED`,
   *   `ERR_OBO_UNAVAILABLE`.
   */
  onBehalfOf(token: AccessToken, scopes: readonly string[]): Promise<string> {
    const obo = this.capabilities.onBehalfOf
    if (obo === undefined) throw new TypeError('the Azure profile offers no On-Behalf-Of')
    return obo(token, scopes)
  }
}

function isAzureProfile(profile: ProviderProfile): profile is AzureProfile {
  return profile.kind === 'azure' && 'azure' in profile
}

function azureProfileOf(options: AzureProviderOptions): AzureProfile {
  if (options.profile !== undefined) {
    if (!isAzureProfile(options.profile)) throw new TypeError('AzureProvider: not an Azure profile')
    return options.profile
  }
  if (options.azure === undefined || !options.upstream || options.redirectPath === undefined) {
    throw new TypeError('AzureProvider: pass an Azure profile, or azure, upstream and redirectPath')
  }
  return azureProfile(options.redirectPath, options.upstream, options.azure)
}
