/**
 * The `kind: 'github'` member of the upstream union: GitHub (or GitHub Enterprise Server) as the
 * identity provider, through an OAuth app or a GitHub App. Only shapes and the rules a user must
 * fix in configuration are checked here; `src/providers/github/` derives endpoints and scopes.
 * Every message names the option and the GitHub setting to look at.
 */
import * as z from 'zod'
import { absoluteURL } from './urls.js'

/** An organization login as GitHub allows it (the `{org}` of `github.com/{org}`). */
export const GITHUB_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/
/** A team slug (the `{team-slug}` of `github.com/orgs/{org}/teams/{team-slug}`). */
export const GITHUB_TEAM_SLUG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/

/** Fields of the GitHub upstream besides those every upstream has. */
export const githubUpstreamFields = {
  kind: z.literal('github'),
  /**
   * `oauth-app` (default): tokens that do not expire, scopes requested per sign-in.
   * `github-app`: permissions fixed on the app (no scopes sent), user tokens that expire after
   * eight hours with a refresh token, when the app has "Expire user authorization tokens" on.
   */
  appType: z.enum(['oauth-app', 'github-app']).default('oauth-app'),
  /** GitHub Enterprise Server's address (`https://github.example.com`); default github.com. */
  serverUrl: absoluteURL().optional(),
  /** The REST API's base (default `https://api.github.com`, or `{serverUrl}/api/v3`). */
  apiUrl: absoluteURL().optional(),
  /** Only members (state `active`) of one of these organizations may sign in. */
  allowedOrganizations: z.array(z.string()).optional(),
  /** Only members of one of these teams, written `{org}/{team-slug}`, may sign in. */
  allowedTeams: z.array(z.string()).optional(),
  /**
   * Team → Gatehouse roles (`{ "acme/admins": ["admin"] }`). Set: only mapped teams give roles.
   * Unset while teams are read (`allowedTeams`): each team becomes the role `{org}/{team-slug}`.
   */
  teamRoles: z.record(z.string(), z.array(z.string().min(1)).min(1)).optional(),
  /** GitHub takes the secret in the form body, as its documentation shows. */
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'none'])
    .default('client_secret_post'),
}

interface GitHubRulesInput {
  appType: 'oauth-app' | 'github-app'
  allowedOrganizations?: string[] | undefined
  allowedTeams?: string[] | undefined
  teamRoles?: Record<string, string[]> | undefined
  scopes?: string[] | undefined
}

const TEAM_FORMAT =
  'write "{org}/{team-slug}", as in the team\'s address github.com/orgs/{org}/teams/{team-slug}'

/** The start-up checks of a GitHub upstream (paths relative to `upstream`). */
export function checkGitHubUpstream(g: GitHubRulesInput, ctx: z.RefinementCtx): void {
  const orgs = g.allowedOrganizations
  if (orgs?.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['allowedOrganizations'],
      message:
        'names no organization: list the organization logins (the {org} in github.com/{org}), ' +
        'or leave the option out to let any GitHub user sign in',
    })
  }
  orgs?.forEach((org, i) => {
    if (!GITHUB_LOGIN.test(org)) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowedOrganizations', i],
        message:
          org.trim() === ''
            ? 'names no organization: give the organization login (the {org} in github.com/{org})'
            : `"${org}" is not an organization login (the {org} in github.com/{org}, no slashes)`,
      })
    }
  })
  if (g.allowedTeams?.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['allowedTeams'],
      message: `names no team: ${TEAM_FORMAT}, or leave the option out`,
    })
  }
  g.allowedTeams?.forEach((team, i) => {
    const problem = teamProblem(team)
    if (problem) ctx.addIssue({ code: 'custom', path: ['allowedTeams', i], message: problem })
  })
  for (const team of Object.keys(g.teamRoles ?? {})) {
    const problem = teamProblem(team)
    if (problem) ctx.addIssue({ code: 'custom', path: ['teamRoles', team], message: problem })
  }
  const readsOrgs = orgs !== undefined || g.allowedTeams !== undefined || g.teamRoles !== undefined
  if (g.appType === 'github-app' && g.scopes !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['scopes'],
      message:
        'a GitHub App takes no scopes: set its permissions instead (GitHub → Settings → ' +
        'Developer settings → GitHub Apps → your app → Permissions & events)',
    })
  }
  if (g.appType === 'oauth-app' && readsOrgs && g.scopes && !g.scopes.includes('read:org')) {
    ctx.addIssue({
      code: 'custom',
      path: ['scopes'],
      message:
        'must include read:org for allowedOrganizations, allowedTeams or teamRoles (without it ' +
        'GitHub hides organization and team membership), or leave scopes out',
    })
  }
}

function teamProblem(team: string): string | undefined {
  const slash = team.indexOf('/')
  if (slash < 0) return `"${team}" names no organization: ${TEAM_FORMAT}`
  const org = team.slice(0, slash)
  const slug = team.slice(slash + 1)
  if (org === '') return `"${team}" names no organization: ${TEAM_FORMAT}`
  if (!GITHUB_LOGIN.test(org)) return `"${org}" is not an organization login: ${TEAM_FORMAT}`
  if (!GITHUB_TEAM_SLUG.test(slug)) return `"${slug}" is not a team slug: ${TEAM_FORMAT}`
  return undefined
}
