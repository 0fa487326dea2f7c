/**
 * The GitHub provider profile against the local GitHub stand-in: what Gatehouse sends GitHub
 * (scopes, PKCE, `Accept: application/json`, API headers), identity from the API (numeric id,
 * verified primary email only), organization and team rules failing closed, teams as roles, the
 * token endpoint's 200-with-error answers, OAuth apps' non-expiring tokens and GitHub Apps'
 * expiring tokens with refresh.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import {
  startGitHubStandIn,
  type GitHubStandIn,
  type GitHubStandInUser,
} from '../../src/dev/github-stand-in/index.js'
import { OAuthError } from '../../src/errors.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { createClock, type TestClock } from '../helpers/gatehouse.js'
import { signInThrough } from '../helpers/provider-sign-in.js'

const GH = 'http://127.0.0.1:7793'
const OAUTH_APP = 'Ov23liOAuthApp'
const GITHUB_APP = 'Iv23liGitHubApp'
const SECRET = 'github-client-secret-0123456789'

const octocat: GitHubStandInUser = {
  login: 'octocat',
  password: 'octo-pw',
  id: 583231,
  name: 'The Octocat',
  publicEmail: 'public@unverified.example',
  emails: [
    { email: 'old@unverified.example', primary: false, verified: false },
    { email: 'octo@acme.example', primary: true, verified: true },
  ],
  orgs: { Acme: { role: 'admin' } },
  teams: ['acme/admins', 'acme/devs'],
}
const users = {
  octocat,
  invitee: {
    login: 'invitee',
    password: 'inv-pw',
    id: 1001,
    orgs: { acme: { state: 'pending' } },
    emails: [{ email: 'inv@x.example', primary: true, verified: false }],
  },
  outsider: { login: 'outsider', password: 'out-pw', id: 1002 },
  locked: {
    login: 'locked',
    password: 'lock-pw',
    id: 1003,
    orgs: { locked: {} },
    teams: ['locked/core'],
  },
  busy: {
    login: 'busy',
    password: 'busy-pw',
    id: 1004,
    orgs: { acme: {} },
    teams: [...Array.from({ length: 150 }, (_, i) => `acme/t${String(i)}`), 'acme/admins'],
  },
} satisfies Record<string, GitHubStandInUser>

const cred = (u: GitHubStandInUser) => ({ username: u.login, password: u.password })

describe('GitHub provider', () => {
  let github: GitHubStandIn
  beforeAll(async () => {
    github = await startGitHubStandIn({
      apps: [
        { clientId: OAUTH_APP, clientSecret: SECRET, callbackUrl: `${GH}/auth/callback` },
        {
          clientId: GITHUB_APP,
          clientSecret: SECRET,
          callbackUrl: `${GH}/auth/callback`,
          type: 'github-app',
          permissions: { emails: true, members: true },
        },
      ],
      users: Object.values(users),
      orgs: [{ login: 'Acme' }, { login: 'locked', restrictsOAuthApps: true }],
    })
  })
  afterAll(() => github.close())

  interface Setup {
    gh: Gatehouse
    clock: TestClock
    provider: OAuthProxy
    errors: (string | undefined)[]
  }

  async function gatehouse(
    upstream: Record<string, unknown> = {},
    fetchImpl?: typeof fetch,
  ): Promise<Setup> {
    const clock = createClock()
    const errors: (string | undefined)[] = []
    const gh = await createGatehouse({
      config: {
        issuer: GH,
        secret: 'g'.repeat(32),
        resources: [{ url: `${GH}/mcp` }],
        upstream: {
          kind: 'github',
          serverUrl: github.url,
          clientId: OAUTH_APP,
          clientSecret: SECRET,
          ...upstream,
        },
      },
      store: createMemoryStore(),
      now: clock.now,
      signatureVerifier: nodeSignatureVerifier,
      onError: (e) => errors.push(e.reason),
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    })
    if (!(gh.base instanceof OAuthProxy) || gh.base.profile.kind !== 'github') {
      throw new Error('expected the GitHub profile')
    }
    return { gh, clock, provider: gh.base, errors }
  }

  it('signs an OAuth app user in: what GitHub was sent, who the user is', async () => {
    const { gh, provider } = await gatehouse()
    github.clearRequests()
    const result = await signInThrough(gh, GH, cred(octocat))
    expect(result.token?.subject).toBe('583231')
    expect(result.token?.upstream).toEqual({ issuer: github.url, subject: '583231' })

    const authorize = github.requestsTo('authorize')[0]!.params
    expect(authorize).toMatchObject({
      client_id: OAUTH_APP,
      redirect_uri: `${GH}/auth/callback`,
      scope: 'read:user user:email',
      code_challenge_method: 'S256',
      response_type: 'code',
    })
    expect(authorize.nonce).toBeUndefined()
    expect(authorize.resource).toBeUndefined()
    const token = github.requestsTo('token')[0]!
    expect(token.headers.accept).toBe('application/json')
    expect(token.clientAuth).toBe('post')
    expect(token.params.code_verifier).toBeTypeOf('string')
    expect(token.params.scope).toBeUndefined()
    for (const api of [...github.requestsTo('user'), ...github.requestsTo('emails')]) {
      expect(api.headers.authorization).toMatch(/^Bearer gho_/)
      expect(api.headers['user-agent']).toBe('mcp-gatehouse')
      expect(api.headers['x-github-api-version']).toBe('2022-11-28')
      expect(api.headers.accept).toBe('application/vnd.github+json')
    }
    // The verified primary address, not the (unverified) public profile email.
    const grant = await provider.grants.get(result.token!.grantId!)
    expect(grant?.claims).toMatchObject({
      preferred_username: 'octocat',
      name: 'The Octocat',
      email: 'octo@acme.example',
      email_verified: true,
    })
    // No rules: no organization call, no roles.
    expect(github.requestsTo('membership')).toHaveLength(0)
    expect(result.token?.roles).toBeUndefined()
  })

  it('keeps no email GitHub has not verified', async () => {
    const { gh, provider } = await gatehouse()
    const result = await signInThrough(gh, GH, cred(users.invitee))
    const grant = await provider.grants.get(result.token!.grantId!)
    expect(grant?.claims?.email).toBeUndefined()
  })

  it('OAuth app tokens do not expire: used as they are, never refreshed', async () => {
    const { gh, clock, provider } = await gatehouse()
    const result = await signInThrough(gh, GH, cred(octocat))
    const grant = await provider.grants.get(result.token!.grantId!)
    const upstream = grant?.upstream as { refreshToken?: string; expiresAt?: number }
    expect(upstream.refreshToken).toBeUndefined()
    expect(upstream.expiresAt).toBeUndefined()
    clock.advance(365 * 86_400)
    const before = github.issued.refresh_token
    const token = await provider.getUpstreamToken(result.token!)
    expect(token).toMatch(/^gho_/)
    expect(github.issued.refresh_token).toBe(before)
  })

  it('allowedOrganizations: an active member signs in, asking read:org', async () => {
    const { gh } = await gatehouse({ allowedOrganizations: ['acme'] })
    github.clearRequests()
    const result = await signInThrough(gh, GH, cred(octocat))
    expect(result.token?.subject).toBe('583231')
    expect(github.requestsTo('authorize')[0]!.params.scope).toBe('read:user user:email read:org')
    expect(github.requestsTo('membership')[0]!.path).toBe('/api/v3/user/memberships/orgs/acme')
  })

  it('allowedOrganizations: pending invitations, non-members and restricted orgs are refused', async () => {
    const { gh, errors } = await gatehouse({ allowedOrganizations: ['acme', 'locked'] })
    for (const user of [users.invitee, users.outsider, users.locked]) {
      const result = await signInThrough(gh, GH, cred(user))
      expect(result.back.searchParams.get('error')).toBe('access_denied')
      expect(result.tokens).toBeUndefined()
    }
    expect(errors.filter((r) => r === 'upstream_org_not_allowed')).toHaveLength(3)
  })

  it('fails closed when GitHub cannot answer the membership check', async () => {
    const outage: typeof fetch = (input, init) =>
      String(input instanceof Request ? input.url : input).includes('/user/memberships/')
        ? Promise.resolve(new Response('{"message":"Server Error"}', { status: 502 }))
        : fetch(input, init)
    const { gh } = await gatehouse({ allowedOrganizations: ['acme'] }, outage)
    const result = await signInThrough(gh, GH, cred(octocat))
    expect(result.back.searchParams.get('error')).toBe('temporarily_unavailable')
    expect(result.back.searchParams.get('code')).toBeNull()
  })

  it('allowedTeams: members of the team sign in, with their teams as roles', async () => {
    const { gh, errors } = await gatehouse({ allowedTeams: ['ACME/admins'] })
    const ok = await signInThrough(gh, GH, cred(octocat))
    expect(ok.token?.roles).toEqual(['acme/admins', 'acme/devs'])
    const refused = await signInThrough(gh, GH, cred(users.locked))
    expect(refused.back.searchParams.get('error')).toBe('access_denied')
    expect(errors).toContain('upstream_team_not_allowed')
  })

  it('reads every page of /user/teams', async () => {
    const { gh } = await gatehouse({ allowedTeams: ['acme/admins'] })
    github.clearRequests()
    const result = await signInThrough(gh, GH, cred(users.busy))
    expect(result.token?.subject).toBe('1004')
    expect(github.requestsTo('teams').map((r) => r.params.page)).toEqual(['1', '2'])
  })

  it('teamRoles maps teams to Gatehouse roles; unmapped teams give none', async () => {
    const { gh } = await gatehouse({
      teamRoles: { 'acme/admins': ['admin', 'tools.write'], 'other/x': ['never'] },
    })
    const admin = await signInThrough(gh, GH, cred(octocat))
    expect(admin.token?.roles).toEqual(['admin', 'tools.write'])
    const nobody = await signInThrough(gh, GH, cred(users.outsider))
    expect(nobody.token?.subject).toBe('1002')
    expect(nobody.token?.roles ?? []).toEqual([])
  })

  it('a token endpoint error sent with status 200 fails the sign-in (wrong client secret)', async () => {
    const { gh, errors } = await gatehouse({ clientSecret: 'not-the-secret-at-all' })
    github.clearRequests()
    const result = await signInThrough(gh, GH, cred(octocat))
    expect(result.back.searchParams.get('error')).toBe('temporarily_unavailable')
    expect(github.requestsTo('token')).toHaveLength(1)
    // GitHub's refusal, not a parse failure, and none of GitHub's text.
    expect(errors).toContain('ERR_UPSTREAM_RESPONSE')
    expect(github.requestsTo('user')).toHaveLength(0)
  })

  it('GitHub App: no scopes, expiring tokens refreshed, a refused refresh ends the grant', async () => {
    const { gh, clock, provider } = await gatehouse({
      appType: 'github-app',
      clientId: GITHUB_APP,
      allowedOrganizations: ['acme'],
    })
    github.clearRequests()
    const result = await signInThrough(gh, GH, cred(octocat))
    expect(result.token?.subject).toBe('583231')
    expect(github.requestsTo('authorize')[0]!.params.scope).toBeUndefined()
    const first = await provider.getUpstreamToken(result.token!)
    expect(first).toMatch(/^ghu_/)

    clock.advance(8 * 3600)
    const refreshed = await provider.getUpstreamToken(result.token!)
    expect(refreshed).toMatch(/^ghu_/)
    expect(refreshed).not.toBe(first)
    const refresh = github.requestsTo('token').at(-1)!
    expect(refresh.params.grant_type).toBe('refresh_token')
    expect(refresh.headers.accept).toBe('application/json')
    // The new token works at GitHub, the old one does not.
    const me = (t: string) =>
      fetch(`${github.apiUrl}/user`, {
        headers: { authorization: `Bearer ${t}`, 'user-agent': 'test' },
      })
    expect((await me(refreshed)).status).toBe(200)
    expect((await me(first)).status).toBe(401)

    // GitHub answers bad_refresh_token with status 200: the grant ends, as with invalid_grant.
    github.revokeUser('octocat')
    clock.advance(8 * 3600)
    const ended = await provider.getUpstreamToken(result.token!).catch((e: unknown) => e)
    expect(ended).toBeInstanceOf(OAuthError)
    expect((ended as OAuthError).code).toBe('invalid_token')
    expect(await provider.grants.get(result.token!.grantId!)).toBeUndefined()
  })

  describe('accessTokenVerifier: GitHub tokens checked with GitHub, briefly cached', () => {
    it('verifies a token of this app by the check-token API and the rules, then from the cache', async () => {
      const { gh, clock, provider } = await gatehouse({ teamRoles: { 'acme/admins': ['admin'] } })
      const verifier = provider.capabilities.accessTokenVerifier!
      const result = await signInThrough(gh, GH, cred(octocat))
      const upstream = await provider.getUpstreamToken(result.token!)
      github.clearRequests()
      const checked = await verifier.verifyToken(upstream)
      expect(checked).toMatchObject({
        subject: '583231',
        issuer: github.url,
        clientId: OAUTH_APP,
        scopes: ['read:user', 'user:email', 'read:org'],
        roles: ['admin'],
        upstream: { issuer: github.url, subject: '583231' },
      })
      const check = github.requestsTo('check-token')
      expect(check).toHaveLength(1)
      expect(check[0]!.method).toBe('POST')
      expect(check[0]!.path).toBe(`/api/v3/applications/${OAUTH_APP}/token`)
      expect(check[0]!.headers.authorization).toMatch(/^Basic /)
      // Within the cache's minute: no call to GitHub.
      clock.advance(59)
      expect((await verifier.verifyToken(upstream))?.subject).toBe('583231')
      expect(github.requestsTo('check-token')).toHaveLength(1)
      // Revoked at GitHub: refused once the cached answer is older than a minute.
      github.revokeUser('octocat')
      expect((await verifier.verifyToken(upstream))?.subject).toBe('583231')
      clock.advance(2)
      expect(await verifier.verifyToken(upstream)).toBeUndefined()
      expect(github.requestsTo('check-token')).toHaveLength(2)
    })

    it("refuses another app's token for the same user, a user the rules refuse, and junk", async () => {
      const app = await gatehouse({
        clientId: GITHUB_APP,
        appType: 'github-app',
      })
      const other = await signInThrough(app.gh, GH, cred(octocat))
      const othersToken = await app.provider.getUpstreamToken(other.token!)
      const { gh, provider } = await gatehouse({ allowedOrganizations: ['acme'] })
      const verifier = provider.capabilities.accessTokenVerifier!
      // GET /user would accept it: the user is the same. The check-token API says whose it is.
      expect(await verifier.verifyToken(othersToken)).toBeUndefined()
      const outsider = await gatehouse()
      const signedIn = await signInThrough(outsider.gh, GH, cred(users.outsider))
      const outsiderToken = await outsider.provider.getUpstreamToken(signedIn.token!)
      expect(await verifier.verifyToken(outsiderToken)).toBeUndefined()
      expect(await verifier.verifyToken('gho_not-a-token')).toBeUndefined()
      expect(await verifier.verifyToken('has spaces')).toBeUndefined()
      const member = await signInThrough(gh, GH, cred(octocat))
      expect(
        (await verifier.verifyToken(await provider.getUpstreamToken(member.token!)))?.subject,
      ).toBe('583231')
    })

    it('fails closed when GitHub cannot answer (never valid)', async () => {
      const { gh, provider } = await gatehouse({}, async (input, init) => {
        const url = String(input instanceof Request ? input.url : input)
        if (url.includes('/applications/')) return new Response('down', { status: 502 })
        return fetch(input, init)
      })
      const result = await signInThrough(gh, GH, cred(octocat))
      const token = await provider.getUpstreamToken(result.token!)
      await expect(provider.capabilities.accessTokenVerifier!.verifyToken(token)).rejects.toThrow(
        /token check/,
      )
    })
  })
})
