/**
 * The Hugging Face stand-in (development and tests only): "Sign in with Hugging Face" as
 * huggingface.co/docs/hub/oauth documents it — an OpenID provider whose issuer is the site's
 * origin without a trailing slash (`https://huggingface.co`; here `http://127.0.0.1:PORT`), with the
 * scopes `openid profile email` (no `offline_access`, so no refresh token), and the user's
 * organizations in the `orgs` member of the userinfo answer, each with its name in
 * `preferred_username`, its id in `sub` and the user's `roleInOrg`.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/types.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface HuggingFaceOrg {
  /** The organization's name, as in `huggingface.co/{name}`. */
  name: string
  roleInOrg?: 'admin' | 'write' | 'contributor' | 'read'
}

export interface HuggingFaceUser extends Omit<DevIdPUser, 'claims'> {
  orgs?: HuggingFaceOrg[]
}

export interface HuggingFaceStandInOptions {
  users: HuggingFaceUser[]
  clients: DevIdPClient[]
}

export type HuggingFaceStandIn = ProviderStandIn

export function startHuggingFaceStandIn(
  options: HuggingFaceStandInOptions,
): Promise<HuggingFaceStandIn> {
  return startProviderStandIn({
    issuerPath: '',
    clients: options.clients,
    users: options.users.map(({ orgs, ...u }) => ({
      ...u,
      claims: {
        isPro: false,
        orgs: (orgs ?? []).map((o, i) => ({
          sub: `6${String(i).padStart(23, '0')}`,
          name: o.name,
          preferred_username: o.name,
          picture: `https://cdn-avatars.huggingface.co/${o.name}.png`,
          isEnterprise: false,
          ...(o.roleInOrg ? { roleInOrg: o.roleInOrg } : {}),
        })),
      },
    })),
  })
}
