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
import { ConfigError } from '../../src/errors.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { parseDiscovery } from '../../src/upstream/oidc-discovery.js'
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

  /** A fetch that passes everything on but rewrites the discovery document with `change`. */
  function discoveryRewritten(change: (doc: Record<string, unknown>) => void): typeof fetch {
    return async (input, init) => {
      const response = await fetch(input, init)
      const url = String(input instanceof Request ? input.url : input)
      if (!url.endsWith('/.well-known/openid-configuration')) return response
      const doc = (await response.json()) as Record<string, unknown>
      change(doc)
      return Response.json(doc)
    }
  }

  it('checks discovery strictly against the issuer with the slash: other rules still apply', async () => {
    // Before, the Auth0 profile read discovery non-strictly to get past the slash, and a document
    // that offers no authorization-code flow was taken.
    const noCode = discoveryRewritten((doc) => {
      doc.response_types_supported = ['token']
    })
    await expect(gatehouse({}, noCode)).rejects.toThrow(/response_types_supported must include/)
  })

  it('refuses an issuer without the trailing slash, naming upstream.domain', async () => {
    const noSlash = discoveryRewritten((doc) => {
      doc.issuer = auth0.url
    })
    await expect(gatehouse({}, noSlash)).rejects.toThrow(
      new RegExp(`the issuer is ${auth0.url}, not ${auth0.url}/ .*upstream\\.domain`),
    )
  })
})

describe('strict discovery with a documented issuer', () => {
  const doc = (issuer: string) => ({
    issuer,
    authorization_endpoint: `${issuer}authorize`,
    token_endpoint: `${issuer}oauth/token`,
    jwks_uri: `${issuer}.well-known/jwks.json`,
    response_types_supported: ['code'],
    id_token_signing_alg_values_supported: ['RS256'],
  })
  const url = 'https://acme.us.auth0.com/.well-known/openid-configuration'

  it('takes the exact issuer the provider documents, slash included', () => {
    const d = parseDiscovery(
      url,
      doc('https://acme.us.auth0.com/'),
      true,
      'https://acme.us.auth0.com/',
    )
    expect(d.issuer).toBe('https://acme.us.auth0.com/')
  })

  it('is not loosened: without a documented issuer the slash is still refused', () => {
    expect(() => parseDiscovery(url, doc('https://acme.us.auth0.com/'), true)).toThrow(
      /does not match the discovery URL/,
    )
  })

  it('compares exactly: another host or a missing slash is refused', () => {
    for (const issuer of ['https://acme.us.auth0.com', 'https://evil.example/']) {
      expect(() => parseDiscovery(url, doc(issuer), true, 'https://acme.us.auth0.com/')).toThrow(
        ConfigError,
      )
    }
  })
})
