/**
 * Who signed in with GitHub, and whether they may: the account from `GET /user` (subject = the
 * numeric id, which never changes, unlike the login), the verified primary email, organization
 * and team rules, and the team → role mapping. Every rule fails closed: a membership GitHub does
 * not confirm as `active`, or an answer that cannot be read, refuses the sign-in.
 */
import { OAuthError } from '../../errors.js'
import type { GitHubAPI } from './api.js'

export interface GitHubRules {
  /** Lower-case organization logins; one active membership is enough. */
  allowedOrganizations?: readonly string[]
  /** Lower-case `{org}/{team-slug}`; one is enough. */
  allowedTeams?: readonly string[]
  /** Lower-case `{org}/{team-slug}` → roles. */
  teamRoles?: Readonly<Record<string, readonly string[]>>
}

export interface GitHubIdentity {
  subject: string
  claims: Record<string, unknown>
}

/** Lower-cases what GitHub compares without regard to case (logins and slugs). */
export function normaliseRules(input: {
  allowedOrganizations?: readonly string[] | undefined
  allowedTeams?: readonly string[] | undefined
  teamRoles?: Readonly<Record<string, readonly string[]>> | undefined
}): GitHubRules {
  return {
    ...(input.allowedOrganizations
      ? { allowedOrganizations: input.allowedOrganizations.map((o) => o.toLowerCase()) }
      : {}),
    ...(input.allowedTeams ? { allowedTeams: input.allowedTeams.map((t) => t.toLowerCase()) } : {}),
    ...(input.teamRoles
      ? {
          teamRoles: Object.fromEntries(
            Object.entries(input.teamRoles).map(([k, v]) => [k.toLowerCase(), [...v]]),
          ),
        }
      : {}),
  }
}

/** Whether the rules need the user's teams (and so `read:org`). */
export function readsTeams(rules: GitHubRules): boolean {
  return rules.allowedTeams !== undefined || rules.teamRoles !== undefined
}

function refuse(description: string, reason: string): OAuthError {
  return new OAuthError('access_denied', description, { reason })
}

/**
 * Resolves the user behind a GitHub access token and applies the rules. Throws `OAuthError`
 * `access_denied` for a user the rules refuse, `UpstreamError` when GitHub cannot say.
 */
export async function resolveGitHubIdentity(
  api: GitHubAPI,
  token: string,
  rules: GitHubRules,
  issuer: string,
): Promise<GitHubIdentity> {
  const user = await api.user(token)
  const orgs = rules.allowedOrganizations
  if (orgs !== undefined) {
    let member = false
    for (const org of orgs) {
      if ((await api.membership(token, org)) === 'active') {
        member = true
        break
      }
    }
    if (!member) {
      throw refuse(
        'this GitHub account is not a member of an allowed organization',
        'upstream_org_not_allowed',
      )
    }
  }
  let roles: string[] | undefined
  if (readsTeams(rules)) {
    const teams = await api.teams(token)
    const allowed = rules.allowedTeams
    if (allowed !== undefined && !teams.some((t) => allowed.includes(t))) {
      throw refuse('this GitHub account is not in an allowed team', 'upstream_team_not_allowed')
    }
    const map = rules.teamRoles
    roles = map ? teams.flatMap((t) => map[t] ?? []) : teams
  }
  const email = await api.verifiedPrimaryEmail(token)
  const claims: Record<string, unknown> = {
    upstream_iss: issuer,
    preferred_username: user.login,
    ...(user.name !== undefined ? { name: user.name } : {}),
    ...(email !== undefined ? { email, email_verified: true } : {}),
    ...(roles !== undefined ? { roles: [...new Set(roles)] } : {}),
  }
  return { subject: String(user.id), claims }
}
