/**
 * The identity providers of `gatehouse dev --provider github|google`: the local GitHub or Google
 * stand-in with Gatehouse's app registered (callback `{issuer}/auth/callback`), the dev user, and
 * the `upstream` section that points Gatehouse's profile at it. GitHub: an OAuth app, the user in
 * the organization `gatehouse-dev` and its team `admins` (mapped to the role `Tools.Admin`).
 * Google: a Workspace user of `gatehouse.dev`, restricted to that domain.
 */
import { randomBytes } from 'node:crypto'
import { startGitHubStandIn } from './github-stand-in/index.js'
import { startGoogleStandIn } from './google-stand-in/index.js'

export interface ProviderDevUpstream {
  /** The stand-in's base URL (its issuer, for Google). */
  url: string
  issuer: string
  /** Gatehouse's `upstream` configuration. */
  upstream: Record<string, unknown>
  close(): Promise<void>
}

export async function startProviderDevUpstream(
  provider: 'github' | 'google',
  options: { issuer: string; user: string; password: string },
): Promise<ProviderDevUpstream> {
  const clientSecret = randomBytes(32).toString('base64url')
  const callback = `${options.issuer}/auth/callback`
  if (provider === 'github') {
    const github = await startGitHubStandIn({
      apps: [{ clientId: 'Ov23liGatehouseDev', clientSecret, callbackUrl: callback }],
      users: [
        {
          login: options.user,
          password: options.password,
          id: 1,
          name: options.user,
          emails: [{ email: `${options.user}@gatehouse.dev`, primary: true, verified: true }],
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
        teamRoles: { 'gatehouse-dev/admins': ['Tools.Admin'] },
      },
      close: () => github.close(),
    }
  }
  const clientId = 'gatehouse-dev.apps.googleusercontent.com'
  const google = await startGoogleStandIn({
    clients: [{ clientId, clientSecret, redirectUris: [callback] }],
    users: [
      {
        email: options.user,
        password: options.password,
        sub: '100000000000000000001',
        name: options.user,
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
}
