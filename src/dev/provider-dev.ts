/**
 * The identity providers of `gatehouse dev --provider <name>`, one registry entry each: the local
 * stand-in with Gatehouse's app registered (callback `{issuer}/auth/callback`), the dev user, and
 * the `upstream` section that points Gatehouse's profile at it. The dev user has the role
 * `Tools.Admin` wherever the provider has roles (GitHub: team `gatehouse-dev/admins`; Auth0: the
 * namespaced roles claim; Keycloak: a realm role; Okta, Cognito, OCI: a group; Discord: the server
 * `gatehouse-dev`; Hugging Face: the organization `gatehouse-dev`; WorkOS: the role of the
 * organization membership; Descope: a project role; Scalekit: a role in the access token;
 * Supabase: the claim `user_role` a Custom Access Token Hook adds; Clerk: `public_metadata.role`;
 * PropelAuth: the role in the organization `gatehouse-dev`). Google: a Workspace user of
 * `gatehouse.dev`, restricted to that domain. The names and their help lines are in
 * `dev-stand-in-names.ts` (the CLI reads them; `oidc` and `azure` are its own).
 */
import { randomBytes } from 'node:crypto'
import type { DevStandInName } from './dev-stand-in-names.js'
import { startAuth0StandIn } from './auth0-stand-in/index.js'
import { startDiscordStandIn } from './discord-stand-in/index.js'
import { startGitHubStandIn } from './github-stand-in/index.js'
import { startGoogleStandIn } from './google-stand-in/index.js'
import { startClerkStandIn } from './provider-stand-ins/clerk.js'
import { startCognitoStandIn } from './provider-stand-ins/cognito.js'
import { startDescopeStandIn } from './provider-stand-ins/descope.js'
import { startHuggingFaceStandIn } from './provider-stand-ins/huggingface.js'
import { startKeycloakStandIn } from './provider-stand-ins/keycloak.js'
import { startOCIStandIn } from './provider-stand-ins/oci.js'
import { startOktaStandIn } from './provider-stand-ins/okta.js'
import { startPropelAuthStandIn } from './provider-stand-ins/propelauth.js'
import { startScalekitStandIn } from './provider-stand-ins/scalekit.js'
import { startSupabaseStandIn } from './provider-stand-ins/supabase.js'
import { startWorkOSStandIn } from './provider-stand-ins/workos.js'

export interface ProviderDevUpstream {
  /** The stand-in's base URL (its issuer, for OpenID providers). */
  url: string
  issuer: string
  /** Gatehouse's `upstream` configuration. */
  upstream: Record<string, unknown>
  close(): Promise<void>
}

interface StandInContext {
  issuer: string
  user: string
  password: string
  /** Gatehouse's callback at the stand-in. */
  callback: string
  clientSecret: string
}

export interface DevStandIn {
  start(ctx: StandInContext): Promise<ProviderDevUpstream>
}

const ROLE = 'Tools.Admin'

export const DEV_STAND_INS = {
  github: {
    async start({ user, password, callback, clientSecret }) {
      const github = await startGitHubStandIn({
        apps: [{ clientId: 'Ov23liGatehouseDev', clientSecret, callbackUrl: callback }],
        users: [
          {
            login: user,
            password,
            id: 1,
            name: user,
            emails: [{ email: `${user}@gatehouse.dev`, primary: true, verified: true }],
            orgs: { 'gatehouse-dev': { role: 'admin' } },
            teams: ['gatehouse-dev/admins'],
          },
        ],
        orgs: [{ login: 'gatehouse-dev' }],
      })
      return {
        url: github.url,
        issuer: github.url,
        upstream: {
          kind: 'github',
          serverUrl: github.url,
          clientId: 'Ov23liGatehouseDev',
          clientSecret,
          allowedOrganizations: ['gatehouse-dev'],
          teamRoles: { 'gatehouse-dev/admins': [ROLE] },
        },
        close: () => github.close(),
      }
    },
  },
  google: {
    async start({ user, password, callback, clientSecret }) {
      const clientId = 'gatehouse-dev.apps.googleusercontent.com'
      const google = await startGoogleStandIn({
        clients: [{ clientId, clientSecret, redirectUris: [callback] }],
        users: [
          {
            email: user,
            password,
            sub: '100000000000000000001',
            name: user,
            hd: 'gatehouse.dev',
          },
        ],
      })
      return {
        url: google.url,
        issuer: google.url,
        upstream: {
          kind: 'google',
          discoveryUrl: google.discoveryUrl,
          clientId,
          clientSecret,
          hostedDomains: ['gatehouse.dev'],
        },
        close: () => google.close(),
      }
    },
  },
  auth0: {
    async start({ user, password, callback, clientSecret }) {
      const rolesClaim = 'https://gatehouse.dev/roles'
      const audience = 'https://mcp.gatehouse.dev/api'
      const auth0 = await startAuth0StandIn({
        clients: [{ clientId: 'gatehouse-dev', clientSecret, callbacks: [callback] }],
        apis: [{ identifier: audience }],
        users: [{ email: user, password, sub: `auth0|${user}`, name: user, roles: [ROLE] }],
        rolesClaim,
      })
      return {
        url: auth0.url,
        issuer: auth0.issuer,
        upstream: {
          kind: 'auth0',
          domain: 'gatehouse-dev.us.auth0.com',
          authority: auth0.url,
          clientId: 'gatehouse-dev',
          clientSecret,
          audience,
          rolesClaim,
        },
        close: () => auth0.close(),
      }
    },
  },
  keycloak: {
    async start({ user, password, callback, clientSecret }) {
      const kc = await startKeycloakStandIn({
        realm: 'gatehouse-dev',
        users: [{ username: user, password, sub: user, name: user, realmRoles: [ROLE] }],
        clients: [{ clientId: 'gatehouse', clientSecret, redirectUris: [callback] }],
      })
      return {
        url: kc.origin,
        issuer: kc.issuer,
        upstream: {
          kind: 'keycloak',
          url: kc.origin,
          realm: 'gatehouse-dev',
          clientId: 'gatehouse',
          clientSecret,
        },
        close: () => kc.close(),
      }
    },
  },
  okta: {
    async start({ user, password, callback, clientSecret }) {
      const okta = await startOktaStandIn({
        users: [{ username: user, password, sub: `00u${user}`, name: user, groups: [ROLE] }],
        clients: [{ clientId: '0oaGatehouseDev', clientSecret, redirectUris: [callback] }],
      })
      return {
        url: okta.origin,
        issuer: okta.issuer,
        upstream: { kind: 'okta', domain: okta.origin, clientId: '0oaGatehouseDev', clientSecret },
        close: () => okta.close(),
      }
    },
  },
  cognito: {
    async start({ user, password, callback, clientSecret }) {
      const userPoolId = 'eu-west-1_GatehouseDev'
      const pool = await startCognitoStandIn({
        userPoolId,
        users: [{ username: user, password, sub: user, name: user, groups: [ROLE] }],
        clients: [{ clientId: 'gatehousedevclient', clientSecret, redirectUris: [callback] }],
      })
      return {
        url: pool.origin,
        issuer: pool.issuer,
        upstream: {
          kind: 'cognito',
          region: 'eu-west-1',
          userPoolId,
          domain: pool.domainOrigin,
          endpoint: pool.origin,
          clientId: 'gatehousedevclient',
          clientSecret,
        },
        close: () => pool.close(),
      }
    },
  },
  discord: {
    async start({ user, password, callback, clientSecret }) {
      const guild = '100000000000000001'
      const discord = await startDiscordStandIn({
        apps: [{ clientId: '100000000000000000', clientSecret, redirects: [callback] }],
        users: [
          {
            username: user,
            password,
            id: '100000000000000002',
            globalName: user,
            email: `${user}@gatehouse.dev`,
            guilds: { [guild]: 'gatehouse-dev' },
          },
        ],
      })
      return {
        url: discord.url,
        issuer: discord.url,
        upstream: {
          kind: 'discord',
          serverUrl: discord.url,
          clientId: '100000000000000000',
          clientSecret,
          guildRoles: { [guild]: [ROLE] },
        },
        close: () => discord.close(),
      }
    },
  },
  huggingface: {
    async start({ user, password, callback, clientSecret }) {
      const hf = await startHuggingFaceStandIn({
        users: [
          { username: user, password, sub: user, name: user, orgs: [{ name: 'gatehouse-dev' }] },
        ],
        clients: [{ clientId: 'gatehouse-dev', clientSecret, redirectUris: [callback] }],
      })
      return {
        url: hf.origin,
        issuer: hf.issuer,
        upstream: {
          kind: 'huggingface',
          url: hf.origin,
          clientId: 'gatehouse-dev',
          clientSecret,
          organizationRoles: { 'gatehouse-dev': [ROLE] },
        },
        close: () => hf.close(),
      }
    },
  },
  oci: {
    async start({ user, password, callback, clientSecret }) {
      const clientId = 'gatehousedev0000000000000000000'
      const oci = await startOCIStandIn({
        users: [{ username: user, password, sub: user, name: user, groups: [ROLE] }],
        clients: [{ clientId, clientSecret, redirectUris: [callback] }],
      })
      return {
        url: oci.domainOrigin ?? oci.origin,
        issuer: oci.issuer,
        upstream: {
          kind: 'oci',
          domainUrl: oci.domainOrigin,
          issuer: oci.issuer,
          clientId,
          clientSecret,
        },
        close: () => oci.close(),
      }
    },
  },
  workos: {
    async start({ user, password, callback, clientSecret }) {
      const clientId = 'client_01GATEHOUSEDEV'
      const authkit = await startWorkOSStandIn({
        users: [
          {
            username: user,
            password,
            sub: `user_${user}`,
            name: user,
            email: `${user}@gatehouse.dev`,
            orgId: 'org_gatehouse_dev',
            roles: [ROLE],
          },
        ],
        clients: [{ clientId, clientSecret, redirectUris: [callback] }],
      })
      return {
        url: authkit.origin,
        issuer: authkit.issuer,
        // The dev user's organization is the operator's: its roles are plain roles.
        upstream: {
          kind: 'workos',
          domain: authkit.origin,
          clientId,
          clientSecret,
          organizationId: 'org_gatehouse_dev',
        },
        close: () => authkit.close(),
      }
    },
  },
  descope: {
    async start({ user, password, callback, clientSecret }) {
      const projectId = 'P2GatehouseDev'
      const descope = await startDescopeStandIn({
        projectId,
        users: [{ username: user, password, sub: `U2${user}`, name: user, roles: [ROLE] }],
        clients: [{ clientId: 'gatehouse-dev', clientSecret, redirectUris: [callback] }],
      })
      return {
        url: descope.origin,
        issuer: descope.issuer,
        upstream: {
          kind: 'descope',
          projectId,
          baseUrl: descope.origin,
          clientId: 'gatehouse-dev',
          clientSecret,
        },
        close: () => descope.close(),
      }
    },
  },
  scalekit: {
    async start({ user, password, callback, clientSecret }) {
      const clientId = 'skc_gatehousedev'
      const sk = await startScalekitStandIn({
        users: [
          {
            username: user,
            password,
            sub: `usr_${user}`,
            name: user,
            email: `${user}@gatehouse.dev`,
            organizationId: 'org_gatehouse_dev',
            roles: [ROLE],
          },
        ],
        clients: [{ clientId, clientSecret, redirectUris: [callback] }],
      })
      return {
        url: sk.origin,
        issuer: sk.issuer,
        upstream: {
          kind: 'scalekit',
          environmentUrl: sk.origin,
          clientId,
          clientSecret,
          organizationId: 'org_gatehouse_dev',
        },
        close: () => sk.close(),
      }
    },
  },
  supabase: {
    async start({ user, password, callback, clientSecret }) {
      const clientId = '00000000-0000-4000-8000-00000000c11e'
      const sb = await startSupabaseStandIn({
        users: [
          {
            username: user,
            password,
            sub: '00000000-0000-4000-8000-000000000001',
            name: user,
            email: `${user}@gatehouse.dev`,
            hookClaims: { user_role: ROLE },
          },
        ],
        clients: [{ clientId, clientSecret, redirectUris: [callback] }],
      })
      return {
        url: sb.origin,
        issuer: sb.issuer,
        upstream: {
          kind: 'supabase',
          projectUrl: sb.origin,
          clientId,
          clientSecret,
          rolesClaim: 'user_role',
        },
        close: () => sb.close(),
      }
    },
  },
  clerk: {
    async start({ user, password, callback, clientSecret }) {
      const clerk = await startClerkStandIn({
        users: [
          {
            username: user,
            password,
            sub: `user_${user}`,
            name: user,
            email: `${user}@gatehouse.dev`,
            publicMetadata: { role: ROLE },
          },
        ],
        clients: [{ clientId: 'gatehouse-dev', clientSecret, redirectUris: [callback] }],
      })
      return {
        url: clerk.origin,
        issuer: clerk.issuer,
        upstream: {
          kind: 'clerk',
          domain: clerk.origin,
          clientId: 'gatehouse-dev',
          clientSecret,
          rolesClaim: 'public_metadata.role',
        },
        close: () => clerk.close(),
      }
    },
  },
  propelauth: {
    async start({ user, password, callback, clientSecret }) {
      const pa = await startPropelAuthStandIn({
        users: [
          {
            username: user,
            password,
            sub: '00000000-0000-4000-8000-000000000002',
            name: user,
            email: `${user}@gatehouse.dev`,
            orgs: { '00000000-0000-4000-8000-0000000000d0': { name: 'gatehouse-dev', role: ROLE } },
          },
        ],
        clients: [{ clientId: 'gatehouse-dev', clientSecret, redirectUris: [callback] }],
        introspectionClient: {
          clientId: 'gatehouse-dev-mcp',
          clientSecret: randomBytes(32).toString('base64url'),
        },
      })
      return {
        url: pa.origin,
        issuer: pa.issuer,
        upstream: {
          kind: 'propelauth',
          authUrl: pa.origin,
          clientId: 'gatehouse-dev',
          clientSecret,
          orgId: '00000000-0000-4000-8000-0000000000d0',
        },
        close: () => pa.close(),
      }
    },
  },
} satisfies Record<DevStandInName, DevStandIn>

export function startProviderDevUpstream(
  provider: DevStandInName,
  options: { issuer: string; user: string; password: string },
): Promise<ProviderDevUpstream> {
  const entry: DevStandIn = DEV_STAND_INS[provider]
  return entry.start({
    ...options,
    callback: `${options.issuer}/auth/callback`,
    clientSecret: randomBytes(32).toString('base64url'),
  })
}
