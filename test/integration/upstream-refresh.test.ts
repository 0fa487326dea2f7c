/**
 * The IdP's tokens behind a grant: refreshed upstream once per grant at a time when a tool needs
 * them after they expire; an IdP that refuses the refresh revokes the grant.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createGatehouse } from '../../src/gatehouse.js'
import type { AccessToken } from '../../src/jwt/access-token.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { GRANT_PREFIX } from '../../src/storage/keys.js'
import { createSqliteStore } from '../../src/storage/sqlite.js'
import type { AtomicStep, Store } from '../../src/storage/store.js'
import { StoreError } from '../../src/errors.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { createClock, type TestClock } from '../helpers/gatehouse.js'
import { approveAndSignIn, UserAgent } from '../helpers/user-agent.js'

const GH = 'http://127.0.0.1:7778'
const CB = 'http://127.0.0.1:5556/cb'

describe('upstream tokens', () => {
  let idp: DevIdP
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

  function startGatehouse(
    store: Store,
    clock: TestClock,
    fetchImpl?: typeof fetch,
    refreshTokens?: { issueTo: 'confidential' },
  ) {
    return createGatehouse({
      config: {
        ...(refreshTokens ? { refreshTokens } : {}),
        clientCredentials: { enabled: true },
        clients: [
          {
            clientId: 'reporter',
            clientSecret: 'r'.repeat(32),
            grantTypes: ['client_credentials'],
          },
        ],
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
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    })
  }

  async function signedIn(
    store: Store = createMemoryStore(),
    clock = createClock(),
    fetchImpl?: typeof fetch,
    refreshTokens?: { issueTo: 'confidential' },
  ) {
    const gh = await startGatehouse(store, clock, fetchImpl, refreshTokens)
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
    const tokens = (await tokenRes.json()) as {
      access_token: string
      refresh_token?: string
      expires_in: number
    }
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

  it('refuses a machine client, whose grant has no IdP sign-in, with access_denied (403), not invalid_token', async () => {
    const { gh, proxy } = await signedIn()
    const res = await gh.fetch(
      new Request(`${GH}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`reporter:${'r'.repeat(32)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${GH}/mcp` }),
      }),
    )
    expect(res.status).toBe(200)
    const { access_token } = (await res.json()) as { access_token: string }
    const machine = (await gh.verifier.verifyToken(access_token)) as AccessToken
    expect(machine.grantId).toBeDefined()
    const before = tokenCalls()
    await expect(proxy.getUpstreamToken(machine)).rejects.toMatchObject({
      code: 'access_denied',
      status: 403,
      reason: 'no_upstream_tokens',
    })
    expect(tokenCalls()).toBe(before)
  })

  /**
   * A memory store whose next `failures` commits throw `StoreError` (nothing written), armed once
   * the IdP has answered a refresh: the IdP has rotated its refresh token by then.
   */
  function faultAfterRefresh() {
    const memory = createMemoryStore()
    let failures = 0
    let armed = 0
    const store: Store = Object.assign(Object.create(memory) as Store, {
      commit: (step: AtomicStep) => {
        if (failures > 0) {
          failures--
          return Promise.reject(new StoreError('ERR_STORE_UNAVAILABLE', 'injected: store down'))
        }
        return memory.commit(step)
      },
    })
    const idpFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      const body =
        init?.body instanceof URLSearchParams || typeof init?.body === 'string'
          ? init.body.toString()
          : ''
      if (body.includes('grant_type=refresh_token') && res.ok) failures = armed
      return res
    }
    return {
      store,
      idpFetch,
      failNextWrites(n: number) {
        armed = n
      },
    }
  }

  it('writes the refreshed IdP tokens again when the store fails once', async () => {
    const faults = faultAfterRefresh()
    const { proxy, token, clock } = await signedIn(faults.store, createClock(), faults.idpFetch)
    faults.failNextWrites(1)
    clock.advance(600)
    const before = tokenCalls()
    const fresh = await proxy.getUpstreamToken(token)
    expect(tokenCalls() - before).toBe(1)
    // Kept: the next call finds it in the grant and asks the IdP nothing.
    expect(await proxy.getUpstreamToken(token)).toBe(fresh)
    expect(tokenCalls() - before).toBe(1)
  })

  it('keeps the rotated IdP tokens through a store outage: the retry uses them, the grant lives', async () => {
    const faults = faultAfterRefresh()
    const { proxy, token, clock } = await signedIn(faults.store, createClock(), faults.idpFetch)
    faults.failNextWrites(3) // every write of the first call
    clock.advance(600)
    const before = tokenCalls()
    await expect(proxy.getUpstreamToken(token)).rejects.toMatchObject({
      code: 'ERR_STORE_UNAVAILABLE',
    })
    faults.failNextWrites(0)
    // The store is back: the IdP's rotated refresh token is not spent again (the IdP would
    // refuse it and the grant would end); the tokens the first call got are written and used.
    const retried = await proxy.getUpstreamToken(token)
    expect(tokenCalls() - before).toBe(1)
    expect(await proxy.grants.get(token.grantId!)).toBeDefined()
    expect(await proxy.getUpstreamToken(token)).toBe(retried)
    expect(tokenCalls() - before).toBe(1)
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

  it('keeps the end of a grant that cannot be refreshed when it refreshes the IdP token', async () => {
    // The store follows the test clock, so lifetimes in the store pass as the clock advances.
    const clock = createClock()
    const store = createMemoryStore({ now: clock.now })
    const { proxy, token, tokens } = await signedIn(store, clock, undefined, {
      issueTo: 'confidential',
    })
    expect(tokens.refresh_token).toBeUndefined() // a public client: this grant is never refreshed
    const grant = () => store.get(`${GRANT_PREFIX}${token.grantId!}`)
    clock.advance(600)
    const before = tokenCalls()
    await proxy.getUpstreamToken(token)
    expect(tokenCalls() - before).toBe(1) // the IdP token was refreshed, the grant rewritten
    // The grant still ends when its access token does, plus the clock tolerance (30 s).
    clock.advance(tokens.expires_in - 600 + 29)
    expect(await grant()).toBeDefined()
    clock.advance(2)
    expect(await grant()).toBeUndefined()
  })

  it('does not refresh again when the lock comes free after another caller already refreshed', async () => {
    // A caller reads the expired tokens, then waits for the lock while another caller refreshes
    // and releases it. Refreshing again would spend the rotated refresh token a second time.
    // Which of the two callers reaches the lock first is not fixed (reading the grant awaits
    // crypto off the main thread), so the second acquire, whoever makes it, waits for the first
    // release.
    const memory = createMemoryStore()
    let open!: () => void
    const released = new Promise<void>((resolve) => (open = resolve))
    let acquires = 0
    const isRefreshLock = (key: string) => key.startsWith('lock:upstream-refresh:')
    const store: Store = Object.assign(Object.create(memory) as Store, {
      acquireLock: async (key: string, owner: string, options: { ttlSeconds: number }) => {
        if (isRefreshLock(key) && ++acquires === 2) await released
        return memory.acquireLock(key, owner, options)
      },
      releaseLock: async (key: string, owner: string) => {
        const freed = await memory.releaseLock(key, owner)
        if (isRefreshLock(key)) open()
        return freed
      },
    })
    const { proxy, token, clock } = await signedIn(store)
    clock.advance(600)
    const before = tokenCalls()
    const [a, b] = await Promise.all([proxy.getUpstreamToken(token), proxy.getUpstreamToken(token)])
    expect(acquires).toBe(2)
    expect(b).toBe(a)
    expect(tokenCalls() - before).toBe(1)
    expect(await proxy.grants.get(token.grantId!)).toBeDefined()
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
          refresh_token: tokens.refresh_token!,
          client_id,
        }).toString(),
      }),
    )
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant')
  })

  describe.each([
    {
      name: 'one memory store',
      open: (clock: TestClock) => {
        const store = createMemoryStore({ now: clock.now })
        return Promise.resolve({ a: store, b: store, cleanup: () => Promise.resolve() })
      },
    },
    {
      name: 'one SQLite file, two connections',
      open: async (clock: TestClock) => {
        const dir = await mkdtemp(join(tmpdir(), 'gh-lock-'))
        return {
          a: createSqliteStore({ dataDir: dir, now: clock.now }),
          b: createSqliteStore({ dataDir: dir, now: clock.now }),
          cleanup: () => rm(dir, { recursive: true, force: true }),
        }
      },
    },
  ])('the refresh lock across two instances on $name', ({ open }) => {
    it('is not released by a holder whose refresh outlived the lock, so refreshes never overlap', async () => {
      const clock = createClock()
      const { a, b, cleanup } = await open(clock)
      const upstream = holdUpstreamRefreshes()
      const one = await signedIn(a, clock, upstream.fetch)
      const two = await startGatehouse(b, clock, upstream.fetch)
      const proxyTwo = two.base
      if (!(proxyTwo instanceof OAuthProxy)) throw new Error('expected the proxy')
      try {
        const lockSeconds = Math.ceil(one.proxy.proxy.upstream.settings.timeoutMs / 1000) * 2 + 10
        clock.advance(600) // the IdP's access token has expired
        // Instance one takes the lock; its refresh hangs at the IdP.
        const first = one.proxy.getUpstreamToken(one.token).then(
          () => 'resolved',
          (error: unknown) => error,
        )
        await upstream.arrivals(1)
        // It hangs past the lock's lifetime: instance two takes the expired lock and refreshes.
        clock.advance(lockSeconds + 1)
        const second = proxyTwo.getUpstreamToken(one.token)
        second.catch(() => undefined) // awaited below; a failed assertion must not leave it unhandled
        await upstream.arrivals(2)
        // The first refresh now fails (the network dropped it); its holder releases "its" lock.
        upstream.settle(0, 'fail')
        expect(await first).toBeInstanceOf(Error)
        // A third caller must wait for instance two's refresh, not start its own next to it.
        const third = one.proxy.getUpstreamToken(one.token)
        third.catch(() => undefined)
        await new Promise((resolve) => setTimeout(resolve, 400))
        expect(upstream.count()).toBe(2)
        upstream.settle(1, 'pass')
        const fresh = await second
        expect(await third).toBe(fresh)
        expect(upstream.count()).toBe(2)
      } finally {
        upstream.settleAll()
        await one.gh.close()
        await two.close()
        await cleanup()
      }
    })
  })
})

/**
 * A fetch for Gatehouse's calls to the IdP that holds every refresh-token request until the test
 * settles it: passed on to the IdP, or failed as a dropped connection.
 */
function holdUpstreamRefreshes() {
  const held: ((how: 'pass' | 'fail') => void)[] = []
  let notify: (() => void) | undefined
  const isRefresh = (init: RequestInit | undefined) =>
    init?.method === 'POST' &&
    init.body instanceof URLSearchParams &&
    init.body.get('grant_type') === 'refresh_token'
  const wrapped: typeof fetch = async (input, init) => {
    if (isRefresh(init)) {
      const how = await new Promise<'pass' | 'fail'>((resolve) => {
        held.push(resolve)
        notify?.()
      })
      if (how === 'fail') throw new TypeError('fetch failed: connection reset')
    }
    return fetch(input, init)
  }
  return {
    fetch: wrapped,
    count: () => held.length,
    /** Resolves once `n` refresh requests have reached the IdP. */
    async arrivals(n: number) {
      const deadline = Date.now() + 5000
      while (held.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${held.length} refreshes arrived`)
        await new Promise<void>((resolve) => {
          notify = resolve
          setTimeout(resolve, 50)
        })
      }
    },
    settle(index: number, how: 'pass' | 'fail') {
      held[index]?.(how)
    },
    settleAll() {
      for (const settle of held) settle('fail')
    },
  }
}
