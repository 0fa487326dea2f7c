/**
 * The OCI IAM identity domain stand-in (development and tests only), as Oracle documents a domain:
 * - the domain URL (`https://idcs-<id>.identity.oraclecloud.com`; here `domainOrigin`) serves the
 *   discovery document and every endpoint under Oracle's paths (`/oauth2/v1/authorize`,
 *   `/oauth2/v1/token`, `/oauth2/v1/userinfo`, `/admin/v1/SigningCert/jwk`);
 * - the issuer is not the domain: every domain's document and tokens name the shared issuer
 *   `https://identity.oraclecloud.com/` (here a second loopback origin with a trailing slash,
 *   `issuer`, where a relying party has no reason to send anything);
 * - the ID token's `aud` holds the client id and the issuer ("turning the token into a user
 *   assertion"), with `azp` the client id;
 * - the signing keys are published only when the domain's "Configure client access" setting is on
 *   (`clientAccess`, default true); otherwise the key URL answers 401;
 * - the user's groups arrive in the `groups` ID-token claim only when a custom claim puts them
 *   there (`groups` on a user stands for that rule); refresh tokens with `offline_access`.
 */
import type { DevIdPClient, DevIdPUser } from '../oidc-idp/types.js'
import { startProviderStandIn, type ProviderStandIn } from './recording-proxy.js'

export interface OCIUser extends Omit<DevIdPUser, 'claims'> {
  groups?: string[]
}

export interface OCIStandInOptions {
  users: OCIUser[]
  clients: DevIdPClient[]
  /** The domain's "Configure client access" setting (default true). */
  clientAccess?: boolean
}

export type OCIStandIn = ProviderStandIn

/** Oracle's paths on the domain URL → the embedded IdP's. */
const ROUTES: Readonly<Record<string, string>> = {
  '/oauth2/v1/authorize': '/auth',
  '/oauth2/v1/token': '/token',
  '/oauth2/v1/userinfo': '/me',
  '/oauth2/v1/revoke': '/token/revocation',
  '/admin/v1/SigningCert/jwk': '/jwks',
}

export function startOCIStandIn(options: OCIStandInOptions): Promise<OCIStandIn> {
  return startProviderStandIn({
    issuerPath: '/',
    clients: options.clients,
    scopes: ['groups'],
    users: options.users.map(({ groups, ...u }) => ({
      ...u,
      ...(groups ? { claims: { groups } } : {}),
    })),
    domainRoutes: ROUTES,
    discovery: (doc, origin) => {
      const out: Record<string, unknown> = { ...doc }
      for (const [key, value] of Object.entries(doc)) {
        if (typeof value !== 'string' || !value.startsWith(origin)) continue
        const path = value.slice(origin.length)
        const oracle = Object.entries(ROUTES).find(([, ours]) => ours === path)?.[0]
        if (oracle !== undefined) out[key] = `${origin}${oracle}`
      }
      return out
    },
    idTokenClaims: (claims) => ({
      ...claims,
      aud: [claims.aud, claims.iss],
      azp: claims.aud,
    }),
    ...(options.clientAccess === false
      ? {
          answer: (call) =>
            call.endpoint === '/jwks'
              ? { status: 401, body: { detail: 'Authorization required', status: '401' } }
              : undefined,
        }
      : {}),
  })
}
