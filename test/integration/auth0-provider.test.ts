/**
 * The Auth0 profile against the local Auth0 stand-in: the trailing-slash issuer, `audience` sent so
 * Auth0 issues a JWT access token (verified, same user as the ID token), roles from the namespaced
 * claim, and rotated refresh tokens kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { startAuth0StandIn, type Auth0StandIn } from '../../src/dev/auth0-stand-in/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { createClock, type TestClock } from '../helpers/gatehouse.js'
import { signInThrough } from '../helpers/provider-sign-in.js'

const GH = 'http://127.0.0.1:7795'
const API = 'https://mcp.example.com/api'
const ROLES = 'https://mcp.example.com/roles'
const ada = {
  email: 'ada@example.com',
  password: 'ada-pw',
  sub: 'auth0|ada',
  name: 'Ada',
  roles: ['admin'],
}

describe('Auth0 provider', () => {
  let auth0: Auth0StandIn
  beforeAll(async () => {
    auth0 = await startAuth0StandIn({
      clients: [
        {
          clientId: 'auth0-client',
          clientSecret: 'auth0-secret',
          callbacks: [`${GH}/auth/callback`],
        },
      ],
      apis: [{ identifier: API }],
      users: [ada],
      rolesClaim: ROLES,
    })
  })
  afterAll(() => auth0.close())

  async function gatehouse(upstream: Record<string, unknown> = {}, fetchImpl?: typeof fetch) {
    const clock: TestClock = createClock()
    const errors: (string | undefined)[] = []
    const gh: Gatehouse = await createGatehouse({
      config: {
        issuer: GH,
        secret: 'a'.repeat(32),
        resources: [{ url: `${GH}/mcp` }],
        upstream: {
          kind: 'auth0',
          domain: 'acme.us.auth0.com',
          authority: auth0.url,
          clientId: 'auth0-client',
          clientSecret: 'auth0-secret',
          audience: API,
          rolesClaim: ROLES,
          ...upstream,
        },
      },
      store: createMemoryStore(),
      now: clock.now,
      signatureVerifier: nodeSignatureVerifier,
      onError: (e) => errors.push(e.reason),
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    })
    if (!(gh.base instanceof OAuthProxy)) throw new Error('expected the proxy')
    return { gh, clock, provider: gh.base, errors }
  }

  it('signs in with the trailing-slash issuer, a JWT access token for the API and its roles', async () => {
    const { gh, provider } = await gatehouse()
    expect(provider.profile.kind).toBe('auth0')
    auth0.clearRequests()
    const result = await signInThrough(gh, GH, { username: ada.email, password: ada.password })
    expect(result.token?.subject).toBe('auth0|ada')
    expect(result.token?.upstream).toEqual({ issuer: `${auth0.url}/`, subject: 'auth0|ada' })
    expect(result.token?.roles).toEqual(['admin'])
    const authorize = auth0.requestsTo('authorize')[0]!.params
    expect(authorize).toMatchObject({
      audience: API,
      scope: 'openid profile email offline_access',
      code_challenge_method: 'S256',
    })
    expect(authorize.resource).toBeUndefined()
  })

  it('refuses a sign-in whose access token is opaque (Auth0 ignored the audience)', async () => {
    const opaque: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      if (!String(input instanceof Request ? input.url : input).endsWith('/oauth/token')) {
        return response
      }
      const body = (await response.json()) as Record<string, unknown>
      return Response.json({ ...body, access_token: 'opaque-token-of-auth0' })
    }
    const { gh, errors } = await gatehouse({}, opaque)
    const result = await signInThrough(gh, GH, { username: ada.email, password: ada.password })
    expect(result.back.searchParams.get('error')).toBe('access_denied')
    expect(errors).toContain('upstream_access_token_unverified')
  })

  it('refreshes with Auth0’s rotated refresh token', async () => {
    const { gh, clock, provider } = await gatehouse()
    const result = await signInThrough(gh, GH, { username: ada.email, password: ada.password })
    await provider.getUpstreamToken(result.token!)
    auth0.clearRequests()
    clock.advance(86_400)
    await provider.getUpstreamToken(result.token!)
    clock.advance(86_400)
    await provider.getUpstreamToken(result.token!)
    const refreshes = auth0.requestsTo('token').map((r) => r.params)
    expect(refreshes.map((r) => r.grant_type)).toEqual(['refresh_token', 'refresh_token'])
    // Auth0 rotated the refresh token at the first refresh: the second used the new one.
    expect(refreshes[1]!.refresh_token).not.toBe(refreshes[0]!.refresh_token)
    // As Auth0 documents for a regular web application ("Post"): client_id and client_secret in
    // the form, not HTTP Basic; no audience or resource on the refresh.
    for (const request of auth0.requestsTo('token')) {
      expect(request.params.client_secret).toBeTruthy()
      expect(request.headers.authorization).toBeUndefined()
      expect(request.params.client_id).toBe('auth0-client')
      expect(request.params.resource).toBeUndefined()
    }
  })
})
