/**
 * The few GitHub REST calls that tell who signed in, made with the user's token: `GET /user`,
 * `GET /user/emails`, `GET /user/memberships/orgs/{org}` and `GET /user/teams` (paginated). Every
 * call sends the headers GitHub asks for (`Accept: application/vnd.github+json`, the API version,
 * a `User-Agent`, without which GitHub answers 403), follows no redirect and has a deadline.
 * Nothing GitHub answers reaches an error message.
 */
import { UpstreamError } from '../../errors.js'
import { cappedFetch } from '../../upstream/upstream-client.js'

export const GITHUB_API_VERSION = '2022-11-28'
const USER_AGENT = 'mcp-gatehouse'
/** At most this many pages of 100 teams are read; a user in more is refused (fail closed). */
export const MAX_TEAM_PAGES = 10

export interface GitHubUser {
  id: number
  login: string
  name?: string
}

/** A team the user belongs to, as `{org}/{team-slug}` in lower case. */
export type TeamName = string

export type Membership = 'active' | 'pending' | 'none'

/** What GitHub's "check a token" API says about a token of this app. */
export interface CheckedToken {
  /** The user's numeric id. */
  userId: number
  /** The OAuth app scopes granted (none for GitHub Apps). */
  scopes: string[]
  /** Seconds since the epoch, for expiring (GitHub App) tokens. */
  expiresAt?: number
}

export class GitHubAPI {
  readonly #base: string
  readonly #fetch: typeof fetch
  readonly #timeoutMs: number

  constructor(options: { apiUrl: string; fetch?: typeof fetch; timeoutMs: number }) {
    this.#base = options.apiUrl.replace(/\/+$/, '')
    // GitHub's answers are read at most 1 MiB (`cappedFetch`).
    this.#fetch = cappedFetch(options.fetch)
    this.#timeoutMs = options.timeoutMs
  }

  async #get(token: string, path: string): Promise<Response> {
    try {
      return await this.#fetch(`${this.#base}${path}`, {
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${token}`,
          'user-agent': USER_AGENT,
          'x-github-api-version': GITHUB_API_VERSION,
        },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (error) {
      if (error instanceof UpstreamError) throw error // an answer over the size cap
      if (error instanceof DOMException && error.name === 'TimeoutError') {
        throw new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'the GitHub API did not answer in time')
      }
      throw new UpstreamError('ERR_UPSTREAM', 'the GitHub API could not be reached')
    }
  }

  async #json(response: Response, what: string): Promise<unknown> {
    try {
      return await response.json()
    } catch {
      throw new UpstreamError('ERR_UPSTREAM_RESPONSE', `GitHub's ${what} answer was not JSON`)
    }
  }

  /**
   * `POST /applications/{client_id}/token` ("check a token"), authenticated as the app with HTTP
   * Basic: the token's user and scopes when it is a live token **of this app**, undefined when
   * GitHub answers 404 (invalid, revoked, expired, or another app's). Anything else fails.
   */
  async checkToken(
    clientId: string,
    clientSecret: string,
    token: string,
  ): Promise<CheckedToken | undefined> {
    let response: Response
    try {
      response = await this.#fetch(
        `${this.#base}/applications/${encodeURIComponent(clientId)}/token`,
        {
          method: 'POST',
          headers: {
            accept: 'application/vnd.github+json',
            authorization: `Basic ${btoa(`${clientId}:${clientSecret}`)}`,
            'content-type': 'application/json',
            'user-agent': USER_AGENT,
            'x-github-api-version': GITHUB_API_VERSION,
          },
          body: JSON.stringify({ access_token: token }),
          redirect: 'manual',
          signal: AbortSignal.timeout(this.#timeoutMs),
        },
      )
    } catch (error) {
      if (error instanceof UpstreamError) throw error // an answer over the size cap
      if (error instanceof DOMException && error.name === 'TimeoutError') {
        throw new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'the GitHub API did not answer in time')
      }
      throw new UpstreamError('ERR_UPSTREAM', 'the GitHub API could not be reached')
    }
    if (response.status === 404) {
      await response.body?.cancel()
      return undefined
    }
    if (response.status !== 200) {
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        `GitHub refused the token check (status ${String(response.status)})`,
      )
    }
    const body = (await this.#json(response, 'token check')) as Record<string, unknown> | null
    const user = body?.user as Record<string, unknown> | null | undefined
    const app = body?.app as Record<string, unknown> | null | undefined
    const id = user?.id
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || app?.client_id !== clientId) {
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        'GitHub’s token check names no user of this app',
      )
    }
    const scopes = Array.isArray(body?.scopes)
      ? body.scopes.filter((x): x is string => typeof x === 'string')
      : []
    const expires = typeof body?.expires_at === 'string' ? Date.parse(body.expires_at) : NaN
    return {
      userId: id,
      scopes,
      ...(Number.isFinite(expires) ? { expiresAt: Math.floor(expires / 1000) } : {}),
    }
  }

  /** `GET /user`: the account behind the token; anything but 200 with a numeric id fails. */
  async user(token: string): Promise<GitHubUser> {
    const response = await this.#get(token, '/user')
    if (response.status !== 200) {
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        `GitHub refused GET /user (status ${String(response.status)})`,
      )
    }
    const body = (await this.#json(response, '/user')) as Record<string, unknown> | null
    const id = body?.id
    const login = body?.login
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || typeof login !== 'string') {
      throw new UpstreamError('ERR_UPSTREAM_RESPONSE', 'GitHub’s /user answer names no account')
    }
    return { id, login, ...(typeof body?.name === 'string' ? { name: body.name } : {}) }
  }

  /**
   * `GET /user/emails`: the primary address when GitHub says it is verified, else undefined (also
   * when the token may not read emails: the `user:email` scope or the app's "Email addresses"
   * permission is missing). The public profile email is never used: GitHub does not verify it.
   */
  async verifiedPrimaryEmail(token: string): Promise<string | undefined> {
    const response = await this.#get(token, '/user/emails')
    if (response.status !== 200) {
      await response.body?.cancel()
      return undefined
    }
    const body = await this.#json(response, '/user/emails')
    if (!Array.isArray(body)) return undefined
    for (const e of body as unknown[]) {
      if (typeof e !== 'object' || e === null) continue
      const { email, primary, verified } = e as Record<string, unknown>
      if (primary === true && verified === true && typeof email === 'string') return email
    }
    return undefined
  }

  /**
   * `GET /user/memberships/orgs/{org}`: `active`, `pending` (invited, not yet a member) or
   * `none` (404, or 403: no `read:org`, or the organization restricts this OAuth app). Any other
   * answer is an error, so a GitHub outage never reads as "not a member" nor as "member".
   */
  async membership(token: string, org: string): Promise<Membership> {
    const response = await this.#get(token, `/user/memberships/orgs/${encodeURIComponent(org)}`)
    if (response.status === 404 || response.status === 403) {
      await response.body?.cancel()
      return 'none'
    }
    if (response.status !== 200) {
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        `GitHub refused the membership check (status ${String(response.status)})`,
      )
    }
    const body = (await this.#json(response, 'membership')) as Record<string, unknown> | null
    const state = body?.state
    const login = (body?.organization as Record<string, unknown> | undefined)?.login
    if (typeof login !== 'string' || login.toLowerCase() !== org.toLowerCase()) return 'none'
    return state === 'active' ? 'active' : state === 'pending' ? 'pending' : 'none'
  }

  /**
   * `GET /user/teams`, every page (100 a page, at most `MAX_TEAM_PAGES`), as lower-case
   * `{org}/{team-slug}`. Fails on any answer but 200, and on more teams than it reads.
   */
  async teams(token: string): Promise<TeamName[]> {
    const teams: TeamName[] = []
    for (let page = 1; page <= MAX_TEAM_PAGES; page++) {
      const response = await this.#get(token, `/user/teams?per_page=100&page=${String(page)}`)
      if (response.status !== 200) {
        throw new UpstreamError(
          'ERR_UPSTREAM_RESPONSE',
          `GitHub refused GET /user/teams (status ${String(response.status)}; the token needs ` +
            'read:org, or the GitHub App the Members permission)',
        )
      }
      const body = await this.#json(response, '/user/teams')
      if (!Array.isArray(body)) {
        throw new UpstreamError('ERR_UPSTREAM_RESPONSE', 'GitHub’s /user/teams answer was no list')
      }
      for (const t of body as unknown[]) {
        const team = t as { slug?: unknown; organization?: { login?: unknown } } | null
        const slug = team?.slug
        const org = team?.organization?.login
        if (typeof slug === 'string' && typeof org === 'string') {
          teams.push(`${org}/${slug}`.toLowerCase())
        }
      }
      if (!/rel="next"/.test(response.headers.get('link') ?? '')) return teams
    }
    throw new UpstreamError(
      'ERR_UPSTREAM_RESPONSE',
      `the user is in more than ${String(MAX_TEAM_PAGES * 100)} GitHub teams`,
    )
  }
}
