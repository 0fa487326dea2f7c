/**
 * The Discord API calls that tell who signed in, made with the user's bearer token:
 * `GET /users/@me` (scope `identify`; `email` and `verified` with the `email` scope) and
 * `GET /users/@me/guilds` (scope `guilds`; at most 200 a page, paged with `after`). The API is
 * addressed with its version (`/api/v10`): unversioned paths get Discord's oldest default version.
 * No redirect is followed, every call has a deadline, and nothing Discord answers reaches an
 * error message.
 */
import { UpstreamError } from '../../errors.js'
import { cappedFetch } from '../../upstream/upstream-client.js'

export const DISCORD_API_VERSION = 'v10'
/** At most this many pages of 200 guilds are read; a user in more is refused (fail closed). */
export const MAX_GUILD_PAGES = 5
const PAGE = 200

export interface DiscordUser {
  /** The user's snowflake id: never changes, unlike the username. */
  id: string
  username: string
  globalName?: string
  /** Only with the `email` scope, and only when Discord has verified it. */
  verifiedEmail?: string
}

export class DiscordAPI {
  readonly #base: string
  readonly #fetch: typeof fetch
  readonly #timeoutMs: number

  constructor(options: { apiUrl: string; fetch?: typeof fetch; timeoutMs: number }) {
    this.#base = options.apiUrl.replace(/\/+$/, '')
    // Discord's answers are read at most 1 MiB (`cappedFetch`).
    this.#fetch = cappedFetch(options.fetch)
    this.#timeoutMs = options.timeoutMs
  }

  async #get(token: string, path: string, what: string): Promise<unknown> {
    let response: Response
    try {
      response = await this.#fetch(`${this.#base}${path}`, {
        headers: { accept: 'application/json', authorization: `Bearer ${token}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      })
    } catch (error) {
      if (error instanceof UpstreamError) throw error // an answer over the size cap
      if (error instanceof DOMException && error.name === 'TimeoutError') {
        throw new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'the Discord API did not answer in time')
      }
      throw new UpstreamError('ERR_UPSTREAM', 'the Discord API could not be reached')
    }
    if (response.status !== 200) {
      throw new UpstreamError(
        'ERR_UPSTREAM_RESPONSE',
        `Discord refused GET ${what} (status ${String(response.status)})`,
      )
    }
    try {
      return await response.json()
    } catch {
      throw new UpstreamError('ERR_UPSTREAM_RESPONSE', `Discord's ${what} answer was not JSON`)
    }
  }

  /** `GET /users/@me`: the account behind the token; an answer without a string id fails. */
  async user(token: string): Promise<DiscordUser> {
    const body = (await this.#get(token, '/users/@me', '/users/@me')) as Record<
      string,
      unknown
    > | null
    const id = body?.id
    const username = body?.username
    if (typeof id !== 'string' || !/^\d{1,21}$/.test(id) || typeof username !== 'string') {
      throw new UpstreamError('ERR_UPSTREAM_RESPONSE', 'Discord’s /users/@me answer names no user')
    }
    return {
      id,
      username,
      ...(typeof body?.global_name === 'string' ? { globalName: body.global_name } : {}),
      ...(body?.verified === true && typeof body.email === 'string'
        ? { verifiedEmail: body.email }
        : {}),
    }
  }

  /** `GET /users/@me/guilds`, every page: the ids of the user's guilds. */
  async guildIds(token: string): Promise<string[]> {
    const ids: string[] = []
    let after: string | undefined
    for (let page = 0; page < MAX_GUILD_PAGES; page++) {
      const query = new URLSearchParams({ limit: String(PAGE), ...(after ? { after } : {}) })
      const body = await this.#get(token, `/users/@me/guilds?${query}`, '/users/@me/guilds')
      if (!Array.isArray(body)) {
        throw new UpstreamError('ERR_UPSTREAM_RESPONSE', 'Discord’s guild list was not a list')
      }
      for (const g of body as unknown[]) {
        const id = (g as { id?: unknown } | null)?.id
        if (typeof id !== 'string') {
          throw new UpstreamError('ERR_UPSTREAM_RESPONSE', 'Discord’s guild list has no ids')
        }
        ids.push(id)
      }
      if (body.length < PAGE) return ids
      after = ids.at(-1)
    }
    throw new UpstreamError(
      'ERR_UPSTREAM_RESPONSE',
      `the user is in more than ${String(MAX_GUILD_PAGES * PAGE)} Discord guilds`,
    )
  }
}
