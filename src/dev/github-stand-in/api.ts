/**
 * The part of GitHub's REST API (under `/api/v3`, as on GitHub Enterprise Server) that identifies
 * users, with GitHub's rules: a `User-Agent` is required (403 without); `Authorization: Bearer` or
 * `token` (401 `Bad credentials` for unknown, expired or replaced tokens); OAuth apps see emails
 * only with `user:email`/`user` and organization membership only with `read:org` (or a broader
 * org scope), GitHub Apps only with the "Email addresses" and "Members" permissions; an
 * organization that restricts OAuth apps answers 403 for apps it has not approved and hides its
 * teams; `/user/teams` is paginated (`per_page` ≤ 100, `Link: rel="next"`).
 * `POST /applications/{client_id}/token` ("check a token") takes the app's id and secret by HTTP
 * Basic and `{ access_token }`: 200 with the token's user, scopes and app for a live token of that
 * app, 404 for anything else (wrong credentials, unknown, revoked, expired or another app's token),
 * 422 without `access_token`.
 */
import { parseBasic, recordedHeaders, same } from '../stand-in-kit.js'
import { isGitHubApp, type GitHubStandInOrg, type GitHubState, type IssuedToken } from './state.js'

const ORG_SCOPES = ['read:org', 'write:org', 'admin:org']

export function handleAPI(
  state: GitHubState,
  request: Request,
  path: string,
): Response | Promise<Response> {
  const url = new URL(request.url)
  const endpoint =
    path === '/user'
      ? 'user'
      : path === '/user/emails'
        ? 'emails'
        : path === '/user/teams'
          ? 'teams'
          : path.startsWith('/user/memberships/orgs/')
            ? 'membership'
            : /^\/applications\/[^/]+\/token$/.test(path)
              ? 'check-token'
              : 'api'
  state.requests.push({
    endpoint,
    method: request.method,
    path: url.pathname,
    params: Object.fromEntries(url.searchParams),
    headers: recordedHeaders(request),
  })
  if (endpoint === 'check-token') return checkToken(state, request, path)
  if (request.method !== 'GET') return message(404, 'Not Found')
  if (!request.headers.get('user-agent')) {
    return message(
      403,
      'Request forbidden by administrative rules. Please make sure your request has a User-Agent header',
    )
  }
  const auth = /^(?:bearer|token) (\S+)$/i.exec(request.headers.get('authorization') ?? '')
  if (!auth) return message(401, 'Requires authentication')
  const token = state.token(auth[1] ?? '')
  if (!token) return message(401, 'Bad credentials')
  const headers = isGitHubApp(token.app) ? {} : { 'x-oauth-scopes': token.scopes.join(', ') }
  const json = (body: unknown, extra: Record<string, string> = {}) =>
    Response.json(body, { headers: { ...headers, ...extra } })
  const user = token.user
  if (endpoint === 'user') {
    return json({
      login: user.login,
      id: user.id,
      node_id: `U_${String(user.id)}`,
      type: 'User',
      name: user.name ?? null,
      email: user.publicEmail ?? null,
    })
  }
  if (endpoint === 'emails') {
    const allowed = isGitHubApp(token.app)
      ? token.app.permissions?.emails === true
      : token.scopes.some((s) => s === 'user' || s === 'user:email')
    if (!allowed) return message(404, 'Not Found')
    return json(
      (user.emails ?? []).map((e) => ({ ...e, visibility: e.primary ? 'private' : null })),
    )
  }
  if (!canReadOrgs(token)) {
    return message(
      403,
      isGitHubApp(token.app)
        ? 'Resource not accessible by integration'
        : 'You need at least read:org scope or user scope to list your organizations.',
    )
  }
  if (endpoint === 'membership') {
    const org = state.org(decodeURIComponent(path.slice('/user/memberships/orgs/'.length)))
    const membership = org ? membershipOf(user.orgs, org.login) : undefined
    if (!org || !membership) return message(404, 'Not Found')
    if (restricted(org, token)) {
      return message(
        403,
        `Although you appear to have the correct authorization credentials, the \`${org.login}\` ` +
          'organization has enabled OAuth App access restrictions.',
      )
    }
    return json({
      state: membership.state ?? 'active',
      role: membership.role ?? 'member',
      organization: { login: org.login },
      user: { login: user.login },
    })
  }
  if (endpoint === 'teams') {
    const perPage = Math.min(Math.max(Number(url.searchParams.get('per_page') ?? 30) || 30, 1), 100)
    const page = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1)
    const visible = (user.teams ?? []).filter((t) => {
      const org = state.org(t.split('/')[0] ?? '')
      return org !== undefined && !restricted(org, token)
    })
    const slice = visible.slice((page - 1) * perPage, page * perPage)
    const link =
      page * perPage < visible.length
        ? {
            link: `<${state.base}/api/v3/user/teams?per_page=${String(perPage)}&page=${String(page + 1)}>; rel="next"`,
          }
        : undefined
    return json(
      slice.map((t, i) => {
        const [org = '', slug = ''] = t.split('/')
        return {
          id: 1000 + (page - 1) * perPage + i,
          slug,
          name: slug,
          organization: { login: state.org(org)?.login ?? org },
        }
      }),
      link,
    )
  }
  return message(404, 'Not Found')
}

function canReadOrgs(token: IssuedToken): boolean {
  return isGitHubApp(token.app)
    ? token.app.permissions?.members === true
    : token.scopes.some((s) => ORG_SCOPES.includes(s) || s === 'user')
}

function restricted(org: GitHubStandInOrg, token: IssuedToken): boolean {
  return (
    !isGitHubApp(token.app) &&
    org.restrictsOAuthApps === true &&
    !(org.approvedApps ?? []).includes(token.app.clientId)
  )
}

function membershipOf(
  orgs: Record<string, { role?: 'admin' | 'member'; state?: 'active' | 'pending' }> | undefined,
  login: string,
) {
  const key = Object.keys(orgs ?? {}).find((k) => k.toLowerCase() === login.toLowerCase())
  return key === undefined ? undefined : orgs?.[key]
}

function message(status: number, text: string): Response {
  return Response.json(
    { message: text, documentation_url: 'https://docs.github.com/rest' },
    { status },
  )
}

async function checkToken(state: GitHubState, request: Request, path: string): Promise<Response> {
  const clientId = decodeURIComponent(path.split('/')[2] ?? '')
  if (request.method !== 'POST') return message(404, 'Not Found')
  const basic = parseBasic(request.headers.get('authorization'))
  const app = state.app(clientId)
  if (!app || basic?.id !== clientId || !same(basic.secret, app.clientSecret)) {
    return message(404, 'Not Found')
  }
  let body: unknown
  try {
    body = await request.json()
  } catch {
    body = undefined
  }
  const given = (body as { access_token?: unknown } | undefined)?.access_token
  if (typeof given !== 'string' || given === '') return message(422, 'Validation Failed')
  const token = state.token(given)
  if (!token || token.app !== app) return message(404, 'Not Found')
  return Response.json({
    id: 1,
    token: given,
    token_last_eight: given.slice(-8),
    scopes: isGitHubApp(app) ? [] : token.scopes,
    app: { client_id: app.clientId, name: app.clientId, url: 'https://example.invalid' },
    expires_at: token.expiresAt === undefined ? null : new Date(token.expiresAt).toISOString(),
    user: { login: token.user.login, id: token.user.id, type: 'User' },
  })
}
