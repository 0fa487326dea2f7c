/**
 * The IdP's tokens behind a grant: refreshed upstream once per grant at a time when a tool needs
 * them after they expire; an IdP that refuses the refresh revokes the grant.
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { startDevIdentityProvider, type DevIdp } from '../../src/dev/idp.js'
import { createGatehouse } from '../../src/gatehouse.js'
import type { AccessToken } from '../../src/resource/access-token.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import type { Store } from '../../src/storage/store.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { createClock } from '../helpers/gatehouse.js'
import { approveAndSignIn, UserAgent } from '../helpers/user-agent.js'

const GH = 'http://127.0.0.1:7778'
const CB = 'http://127.0.0.1:5556/cb'

describe('upstream tokens', () => {
  let idp: DevIdp
  beforeAll(async () => {
    idp = await startDevIdentityProvider({
      users: [{ username: 'bob', password: 'builder', sub: 'bob' }],
      clients: [
        { clientId: 'gh', clientSecret: 'upstream-secret', redirectUris: [`${GH}/auth/callback`] },
      ],
      accessTokenTtlSeconds: 600,
    })
  })
  afterAll(() => idp.close())

  async function signedIn(store: Store = createMemoryStore()) {
    const clock = createClock()
    const gh = await createGatehouse({
      config: {
        issuer: GH,
        secret: 'u'.repeat(32),
        resources: [{ url: `${GH}/mcp` }],
        upstream: {
          kind: 'oidc',
          configUrl: `${idp.issuer}/.well-known/openid-configuration`,
          clientId: 'gh',
          clientSecret: 'upstream-secret',
        },
      },
      store,
      now: clock.now,
      signatureVerifier: nodeSignatureVerifier,
    })
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const reg = await gh.fetch(
      new Request(`${GH}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [CB],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
        }),
      }),
    )
    const { client_id } = (await reg.json()) as { client_id: string }
    const verifier = randomBytes(32).toString('base64url')
    const q = new URLSearchParams({
      response_type: 'code',
      client_id,
      redirect_uri: CB,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })
    const back = await approveAndSignIn(
      ua,
      `${GH}/authorize?${q}`,
      { username: 'bob', password: 'builder' },
      CB,
    )
    const code = back.searchParams.get('code')!
    const tokenRes = await gh.fetch(
      new Request(`${GH}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          redirect_uri: CB,
          client_id,
        }).toString(),
      }),
    )
    const tokens = (await tokenRes.json()) as { access_token: string; refresh_token: string }
    const proxy = gh.base
    if (!(proxy instanceof OAuthProxy)) throw new Error('expected the proxy')
    const token = (await gh.verifier.verifyToken(tokens.access_token)) as AccessToken
    return { gh, proxy, clock, token, tokens, client_id }
  }

  const tokenCalls = () =>
    idp.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/token')).length

  it('returns the stored IdP token while it is fresh, without calling the IdP', async () => {
    const { proxy, token } = await signedIn()
    const before = tokenCalls()
    const a = await proxy.getUpstreamToken(token)
    const b = await proxy.getUpstreamToken(token)
    expect(a).toBe(b)
    expect(tokenCalls()).toBe(before)
  })

  it('refreshes an expired IdP token once, even for concurrent callers', async () => {
    const { proxy, token, clock } = await signedIn()
    const first = await proxy.getUpstreamToken(token)
    clock.advance(600)
    const before = tokenCalls()
    const results = await Promise.all(
      Array.from({ length: 5 }, () => proxy.getUpstreamToken(token)),
    )
    expect(new Set(results).size).toBe(1)
    expect(results[0]).not.toBe(first)
    expect(tokenCalls() - before).toBe(1)
  })

  it('revokes the grant when the IdP refuses the refresh, and the client then gets invalid_grant', async () => {
    const { gh, proxy, token, clock, tokens, client_id } = await signedIn()
    // Make the IdP refuse: spend the upstream refresh token behind Gatehouse's back.
    const grant = await proxy.grants.get(token.grantId!)
    const upstream = grant!.upstream as { refreshToken: string }
    const spend = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('gh:upstream-secret').toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: upstream.refreshToken,
      }).toString(),
    })
    expect(spend.status).toBe(200)
    await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('gh:upstream-secret').toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: upstream.refreshToken,
      }).toString(),
    })
    clock.advance(600)
    await expect(proxy.getUpstreamToken(token)).rejects.toMatchObject({
      code: 'invalid_token',
      reason: 'upstream_refresh_refused',
    })
    const refresh = await gh.fetch(
      new Request(`${GH}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token,
          client_id,
        }).toString(),
      }),
    )
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant')
  })
})
