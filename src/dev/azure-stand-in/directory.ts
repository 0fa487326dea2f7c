/**
 * What the Entra stand-in knows: directories (tenants), app registrations (with their exposed
 * scopes, app roles and redirect URIs), users, and Microsoft Graph as a built-in resource.
 */

/** A directory. `domain` (`contoso.onmicrosoft.com`) also names it in URLs. */
export interface StandInTenant {
  id: string
  domain?: string
  /** An Azure AD B2C directory: URLs name it `{name}.onmicrosoft.com/{policy}`. */
  b2c?: { name: string; policies: string[] }
}

/** An app registration. */
export interface StandInApp {
  clientId: string
  clientSecret: string
  /** The home directory. */
  tenantId: string
  /** Application ID URI (default `api://{clientId}`). */
  identifierUri?: string
  /** Scopes under "Expose an API" (short names). */
  scopes?: string[]
  /** Web redirect URIs (exact match). */
  redirectUris: string[]
  /** `requestedAccessTokenVersion` of the manifest (default 2). */
  accessTokenVersion?: 1 | 2
  /** A certificate credential (PEM): client assertions signed with its key are accepted. */
  certificate?: string
  /** Sign-in audience: only the home tenant's users (default false: any tenant). */
  singleTenant?: boolean
}

/** A user. */
export interface StandInUser {
  username: string
  password: string
  tenantId: string
  /** Object id (default: derived from the username). */
  oid?: string
  name?: string
  email?: string
  /** App roles per resource app client id. */
  roles?: Record<string, string[]>
  /** Scopes (full form) consented beforehand (admin consent); sign-in adds what it asked for. */
  consented?: string[]
  /** On-Behalf-Of answers `interaction_required` (MFA, AADSTS50076). */
  requireMfaForObo?: boolean
}

/** Microsoft Graph's app id and resource URI. */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000'
export const GRAPH_RESOURCE = 'https://graph.microsoft.com'
export const GRAPH_SCOPES = ['User.Read', 'Mail.Read', 'Calendars.Read']
/** The directory of personal Microsoft accounts. */
export const MSA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad'

export const OIDC = new Set(['openid', 'profile', 'email', 'offline_access'])

/** The resource a (full-form) scope belongs to: `{resource}` and the short scope name. */
export interface ResolvedScope {
  resource: string
  /** `aud` of tokens for it. */
  audience: string
  app: StandInApp | undefined
  name: string
}

export class Directory {
  readonly tenants: StandInTenant[]
  readonly apps: StandInApp[]
  readonly users: StandInUser[]

  constructor(tenants: StandInTenant[], apps: StandInApp[], users: StandInUser[]) {
    this.tenants = tenants
    this.apps = apps
    this.users = users
  }

  app(clientId: string | undefined): StandInApp | undefined {
    return this.apps.find((a) => a.clientId === clientId)
  }

  identifierUri(app: StandInApp): string {
    return app.identifierUri ?? `api://${app.clientId}`
  }

  /**
   * The directory a URL's tenant segment names: a GUID, a domain, `organizations`/`common`
   * (any directory: `undefined` id), `consumers`, or a B2C `{name}.onmicrosoft.com/{policy}`.
   */
  tenantFor(segment: string): { id: string | undefined; alias: string; b2c: boolean } | null {
    const s = segment.toLowerCase()
    if (s === 'organizations' || s === 'common') return { id: undefined, alias: s, b2c: false }
    if (s === 'consumers') return { id: MSA_TENANT, alias: s, b2c: false }
    for (const t of this.tenants) {
      if (t.b2c) {
        if (t.b2c.policies.some((p) => `${t.b2c?.name}.onmicrosoft.com/${p}`.toLowerCase() === s)) {
          return { id: t.id, alias: s, b2c: true }
        }
        continue
      }
      if (t.id === s || t.domain?.toLowerCase() === s) return { id: t.id, alias: s, b2c: false }
    }
    return null
  }

  /** Resolves a full-form scope (`api://x/read`, `https://graph.microsoft.com/User.Read`). */
  resolveScope(scope: string): ResolvedScope | undefined {
    const slash = scope.lastIndexOf('/')
    if (slash <= 0) {
      // Entra reads a bare scope as Graph's (`User.Read`).
      return GRAPH_SCOPES.includes(scope)
        ? { resource: GRAPH_RESOURCE, audience: GRAPH_RESOURCE, app: undefined, name: scope }
        : undefined
    }
    const resource = scope.slice(0, slash)
    const name = scope.slice(slash + 1)
    if (resource === GRAPH_RESOURCE || resource === GRAPH_APP_ID) {
      return GRAPH_SCOPES.includes(name) || name === '.default'
        ? { resource: GRAPH_RESOURCE, audience: GRAPH_RESOURCE, app: undefined, name }
        : undefined
    }
    const app = this.apps.find((a) => this.identifierUri(a) === resource || a.clientId === resource)
    if (!app) return undefined
    if (name !== '.default' && !(app.scopes ?? []).includes(name)) return undefined
    const audience = (app.accessTokenVersion ?? 2) === 1 ? this.identifierUri(app) : app.clientId
    return { resource: this.identifierUri(app), audience, app, name }
  }

  user(username: string): StandInUser | undefined {
    return this.users.find((u) => u.username === username)
  }
}
