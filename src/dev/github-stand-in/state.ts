/** The GitHub stand-in's directory (apps, users, organizations) and memory (codes, tokens). */
import type { RecordedRequest } from '../stand-in-kit.js'

export interface GitHubStandInApp {
  clientId: string
  clientSecret: string
  /** The app's "Authorization callback URL"; `redirect_uri` must be it or a path below it. */
  callbackUrl: string
  /** Default `oauth-app`. */
  type?: 'oauth-app' | 'github-app'
  /** GitHub Apps: "Expire user authorization tokens" (default true, as GitHub's default). */
  expiringTokens?: boolean
  /** GitHub Apps: account permission "Email addresses" and organization "Members" (read). */
  permissions?: { emails?: boolean; members?: boolean }
}

export interface GitHubStandInUser {
  login: string
  password: string
  id: number
  name?: string
  /** The public profile email (`/user`'s `email`), which GitHub does not say is verified. */
  publicEmail?: string
  emails?: { email: string; primary: boolean; verified: boolean }[]
  /** Organization login → membership. */
  orgs?: Record<string, { role?: 'admin' | 'member'; state?: 'active' | 'pending' }>
  /** Teams as `{org}/{team-slug}`. */
  teams?: string[]
}

export interface GitHubStandInOrg {
  login: string
  /** "Third-party application access policy: access restricted" for OAuth apps. */
  restrictsOAuthApps?: boolean
  /** OAuth apps (client ids) the organization approved despite the restriction. */
  approvedApps?: string[]
}

export interface IssuedCode {
  app: GitHubStandInApp
  user: GitHubStandInUser
  scopes: string[]
  redirectUri: string | undefined
  codeChallenge: string | undefined
  expiresAt: number
}

export interface IssuedToken {
  app: GitHubStandInApp
  user: GitHubStandInUser
  scopes: string[]
  /** ms since the epoch; undefined: never expires (OAuth apps). */
  expiresAt: number | undefined
  live: boolean
}

export class GitHubState {
  readonly requests: RecordedRequest[] = []
  readonly pending = new Map<
    string,
    {
      app: GitHubStandInApp
      scopes: string[]
      redirectUri: string
      givenRedirectUri: string | undefined
      state: string | undefined
      codeChallenge: string | undefined
    }
  >()
  readonly codes = new Map<string, IssuedCode>()
  readonly tokens = new Map<string, IssuedToken>()
  readonly refreshTokens = new Map<string, IssuedToken & { accessToken: string }>()
  readonly issued = { authorization_code: 0, refresh_token: 0 }
  readonly apps: readonly GitHubStandInApp[]
  readonly users: readonly GitHubStandInUser[]
  readonly orgs: readonly GitHubStandInOrg[]
  readonly base: string
  now: () => number

  constructor(
    input: {
      apps: GitHubStandInApp[]
      users: GitHubStandInUser[]
      orgs: GitHubStandInOrg[]
      now: () => number
    },
    base: string,
  ) {
    this.apps = input.apps
    this.users = input.users
    this.orgs = input.orgs
    this.now = input.now
    this.base = base
  }

  app(clientId: string | undefined): GitHubStandInApp | undefined {
    return this.apps.find((a) => a.clientId === clientId)
  }

  user(name: string): GitHubStandInUser | undefined {
    const lower = name.toLowerCase()
    return this.users.find((u) => u.login.toLowerCase() === lower)
  }

  org(login: string): GitHubStandInOrg | undefined {
    const lower = login.toLowerCase()
    return this.orgs.find((o) => o.login.toLowerCase() === lower)
  }

  /** The live, unexpired token a request presents. */
  token(value: string): IssuedToken | undefined {
    const t = this.tokens.get(value)
    if (!t?.live) return undefined
    if (t.expiresAt !== undefined && t.expiresAt <= this.now()) return undefined
    return t
  }
}

export function isGitHubApp(app: GitHubStandInApp): boolean {
  return app.type === 'github-app'
}
