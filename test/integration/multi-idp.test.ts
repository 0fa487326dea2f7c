/**
 * Several identity providers behind one Gatehouse (`upstreams`): two real OpenID providers (two
 * embedded dev IdPs on random ports), the real MCP SDK client signing in through each, the
 * chooser's refusals, the IdP mix-up defences (RFC 9207, RFC 9700 §4.4), subjects namespaced per
 * IdP, the IdP token per grant's IdP, and account linking by verified email when switched on.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/server.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { authOf, createMCPHandler, getUpstreamToken } from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createClock, pkcePair } from '../helpers/gatehouse.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'
import { chooseIdP, hiddenInput, postConsent, UserAgent } from '../helpers/user-agent.js'

const CLIENT_CB = 'http://127.0.0.1:3997/callback'
const ALICE = { username: 'alice', password: 'wonderland' }

interface Whoami {
  subject: string
  upstream: { issuer: string; subject: string }
  userinfo: { own: number; other: number }
}

describe('several identity providers (upstreams)', () => {
  let server: Server
  let base: string
  let alpha: DevIdP
  let beta: DevIdP
  let gh: Gatehouse
  let linked: Gatehouse
  let betaNotAuthoritative: Gatehouse
  let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
  const errors: string[] = []
  const clock = createClock()

  function startIdP(): Promise<DevIdP> {
    // The same `sub` (and the same verified email) at both IdPs: two distinct users unless linked.
    return startDevIdentityProvider({
      users: [{ ...ALICE, sub: 'same-sub', email: 'Alice@Example.com' }],
      clients: [
        {
          clientId: 'gatehouse',
          clientSecret: 'upstream-secret',
          redirectUris: [`${base}/auth/callback/alpha`, `${base}/auth/callback/beta`],
        },
      ],
    })
  }

  function config(linkAccountsByEmail: boolean, betaAuthoritative = true) {
    const up = (idp: DevIdP) => ({
      kind: 'oidc' as const,
      configUrl: `${idp.issuer}/.well-known/openid-configuration`,
      clientId: 'gatehouse',
      clientSecret: 'upstream-secret',
    })
    return {
      issuer: base,
      secret: 'm'.repeat(32),
      resources: [{ url: `${base}/mcp` }],
      upstreams: [
        { id: 'alpha', label: 'Alpha', emailAuthoritative: true, upstream: up(alpha) },
        { id: 'beta', label: 'Beta', emailAuthoritative: betaAuthoritative, upstream: up(beta) },
      ],
      linkAccountsByEmail,
    }
  }

  beforeAll(async () => {
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`
    alpha = await startIdP()
    beta = await startIdP()
    const make = (link: boolean, betaAuthoritative = true) =>
      createGatehouse({
        config: config(link, betaAuthoritative),
        store: createMemoryStore(),
        now: clock.now,
        signatureVerifier: nodeSignatureVerifier,
        onError: (e) => errors.push(e.reason ?? e.code),
      })
    gh = await make(false)
    linked = await make(true)
    betaNotAuthoritative = await make(true, false)
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await gh.close()
    await linked.close()
    await betaNotAuthoritative.close()
    await alpha.close()
    await beta.close()
  })
  beforeEach(() => {
    errors.length = 0
    serve(gh)
  })

  /** Serves `g` (and its MCP server, whose tool tells who signed in and checks the IdP token). */
  function serve(g: Gatehouse) {
    const mcp = createMCPHandler(g, {
      mode: 'stateless',
      enableJsonResponse: true,
      createServer: (context) => {
        const s = new McpServer(
          { name: 'multi', version: '1.0.0' },
          { jsonSchemaValidator: context.jsonSchemaValidator },
        )
        s.registerTool('whoami', { description: 'who signed in, where' }, async (extra) => {
          const auth = authOf(extra).extra
          const token = await getUpstreamToken(extra)
          // The IdP token works at the userinfo endpoint of the IdP that signed the user in only.
          const own = auth.upstream?.issuer === alpha.issuer ? alpha : beta
          const other = own === alpha ? beta : alpha
          const status = async (idp: DevIdP) =>
            (await fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${token}` } }))
              .status
          const body: Whoami = {
            subject: auth.subject ?? '',
            upstream: {
              issuer: auth.upstream?.issuer ?? '',
              subject: auth.upstream?.subject ?? '',
            },
            userinfo: { own: await status(own), other: await status(other) },
          }
          return { content: [{ type: 'text', text: JSON.stringify(body) }] }
        })
        return s
      },
    })
    handler = toNodeHandler((request) =>
      new URL(request.url).pathname === '/mcp' ? mcp(request) : g.fetch(request),
    )
  }

  /** The SDK client signed in at `idp`, and its `whoami` tool call. */
  async function connectWithSDK(idp: string) {
    const provider = new BrowserlessClientProvider({
      redirectUrl: CLIENT_CB,
      clientName: 'multi idp e2e',
      user: ALICE,
      idp,
    })
    const client = new Client({ name: 'multi-idp', version: '1.0.0' })
    const first = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
      authProvider: provider,
    })
    await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
    await first.finishAuth(provider.code!)
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
    )
    const whoami = async () => {
      const result = await client.callTool({ name: 'whoami', arguments: {} })
      return JSON.parse((result.content as { text: string }[])[0]!.text) as Whoami
    }
    return { client, whoami }
  }

  async function signInWithSDK(idp: string): Promise<Whoami> {
    const { client, whoami } = await connectWithSDK(idp)
    const me = await whoami()
    await client.close()
    return me
  }

  it('signs the MCP SDK client in at either IdP; the same sub at both is two users', async () => {
    const a = await signInWithSDK('alpha')
    const b = await signInWithSDK('beta')
    expect(a.subject).toBe('alpha|same-sub')
    expect(b.subject).toBe('beta|same-sub')
    expect(a.upstream.issuer).toBe(alpha.issuer)
    expect(b.upstream.issuer).toBe(beta.issuer)
    // The user at each IdP is the IdP's own `sub`, not Gatehouse's namespaced subject.
    expect(a.upstream.subject).toBe('same-sub')
    expect(b.upstream.subject).toBe('same-sub')
    // The IdP token of each grant is its own IdP's: accepted there, refused by the other.
    expect(a.userinfo).toEqual({ own: 200, other: 401 })
    expect(b.userinfo).toEqual({ own: 200, other: 401 })
    // Only the SDK's first, unauthenticated request of each connection was refused.
    expect(errors.filter((e) => e !== 'no_credentials')).toEqual([])
  })

  it("refreshes the IdP token at the grant's IdP when it expires", async () => {
    const { client, whoami } = await connectWithSDK('beta')
    const before = await whoami()
    expect(before.subject).toBe('beta|same-sub')
    alpha.requests.length = 0
    beta.requests.length = 0
    clock.advance(700) // past the dev IdPs' 600-second access tokens
    const after = await whoami().finally(() => {
      clock.advance(-700) // back to the IdPs' time, for the ID tokens of the next sign-ins
    })
    await client.close()
    expect(after.subject).toBe('beta|same-sub')
    expect(after.userinfo).toEqual({ own: 200, other: 401 })
    expect(
      beta.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/token')),
    ).toHaveLength(1)
    expect(alpha.requests.filter((r) => r.path.endsWith('/token'))).toEqual([])
  })

  it('links the accounts by verified email of email-authoritative IdPs when switched on', async () => {
    serve(linked)
    const a = await signInWithSDK('alpha')
    const b = await signInWithSDK('beta')
    expect(a.subject).toBe('email|alice@example.com')
    expect(b.subject).toBe('email|alice@example.com')
    // Each grant still refreshes and uses the IdP token of the IdP that signed it in.
    expect(a.userinfo).toEqual({ own: 200, other: 401 })
    expect(b.upstream.issuer).toBe(beta.issuer)
    // An IdP not marked emailAuthoritative never links, even with email_verified: true.
    serve(betaNotAuthoritative)
    expect((await signInWithSDK('alpha')).subject).toBe('email|alice@example.com')
    expect((await signInWithSDK('beta')).subject).toBe('beta|same-sub')
  })

  /** A client registered by hand, its /authorize URL, and the user agent at the consent page. */
  async function toConsent() {
    const reg = await fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [CLIENT_CB], token_endpoint_auth_method: 'none' }),
    })
    const { client_id } = (await reg.json()) as { client_id: string }
    const q = new URLSearchParams({
      response_type: 'code',
      client_id,
      redirect_uri: CLIENT_CB,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      state: 'client-state',
      resource: `${base}/mcp`,
    })
    const ua = new UserAgent()
    const consent = await ua.follow(`${base}/authorize?${q.toString()}`)
    const html = await consent.response!.text()
    const approved = await postConsent(ua, `${base}/consent`, html)
    expect(approved.status).toBe(303)
    const chooser = approved.headers.get('location')!
    expect(chooser).toMatch(new RegExp(`^${base}/consent/provider\\?txn=`))
    return { ua, chooser }
  }

  /** Chooses `idp`, signs in there, and stops at Gatehouse's callback: that URL. */
  async function toCallback(ua: UserAgent, chooser: string, idp: string): Promise<URL> {
    const login = await ua.follow(await chooseIdP(ua, chooser, idp))
    const posted = await ua.request(`${login.url.replace(/\/$/, '')}/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: new URL(login.url).origin,
      },
      body: new URLSearchParams(ALICE).toString(),
    })
    const done = await ua.follow(new URL(posted.headers.get('location')!, login.url).href, (u) =>
      u.startsWith(`${base}/auth/callback/`),
    )
    return new URL(done.url)
  }

  function clientError(response: Response): string | null {
    expect(response.status).toBe(302)
    const to = new URL(response.headers.get('location')!)
    expect(to.origin + to.pathname).toBe(CLIENT_CB)
    expect(to.searchParams.get('code')).toBeNull()
    return to.searchParams.get('error')
  }

  it("refuses a callback with IdP Alpha's state carrying Beta's iss (mix-up)", async () => {
    const { ua, chooser } = await toConsent()
    const callback = await toCallback(ua, chooser, 'alpha')
    expect(callback.pathname).toBe('/auth/callback/alpha')
    expect(callback.searchParams.get('iss')).toBe(alpha.issuer)
    callback.searchParams.set('iss', beta.issuer)
    alpha.requests.length = 0
    const res = await ua.request(callback.href)
    expect(clientError(res)).toBe('temporarily_unavailable')
    expect(errors).toContain('callback_iss_mismatch')
    // The code was never redeemed anywhere.
    expect(alpha.requests.filter((r) => r.path.endsWith('/token'))).toEqual([])
  })

  it("never redeems Alpha's code at Beta: Alpha's answer on Beta's callback is refused", async () => {
    const { ua, chooser } = await toConsent()
    const callback = await toCallback(ua, chooser, 'alpha')
    const moved = new URL(`${base}/auth/callback/beta${callback.search}`)
    moved.searchParams.set('iss', beta.issuer)
    beta.requests.length = 0
    alpha.requests.length = 0
    const res = await ua.request(moved.href)
    expect(clientError(res)).toBe('temporarily_unavailable')
    expect(errors).toContain('callback_idp_mismatch')
    expect(beta.requests.filter((r) => r.path.endsWith('/token'))).toEqual([])
    expect(alpha.requests.filter((r) => r.path.endsWith('/token'))).toEqual([])
    // And the transaction is spent: the genuine callback finds nothing.
    const again = await ua.request(callback.href)
    expect(again.status).toBe(400)
  })

  it('refuses an IdP id it does not have, and changes nothing', async () => {
    const { ua, chooser } = await toConsent()
    const page = await ua.request(chooser)
    const html = await page.text()
    expect(html).toContain('Continue with Alpha')
    expect(html).toContain('Continue with Beta')
    const post = (idp: string) =>
      ua.request(`${base}/consent/provider`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'sec-fetch-site': 'same-origin',
        },
        body: new URLSearchParams({
          txn: hiddenInput(html, 'txn'),
          csrf: hiddenInput(html, 'csrf'),
          idp,
        }).toString(),
      })
    const bad = await post('gamma')
    expect(bad.status).toBe(400)
    expect(bad.headers.get('location')).toBeNull()
    expect(errors).toContain('chooser_unknown_idp')
    // The transaction is still there: a real choice goes on to that IdP.
    const good = await post('beta')
    expect(good.status).toBe(303)
    expect(good.headers.get('location')!.startsWith(beta.issuer)).toBe(true)
    // Chosen once: a second choice (another IdP) is refused.
    const twice = await post('alpha')
    expect(twice.status).toBe(403)
  })

  it('refuses a choice without the CSRF token, cross-site, or in another browser', async () => {
    const { ua, chooser } = await toConsent()
    const html = await (await ua.request(chooser)).text()
    const txn = hiddenInput(html, 'txn')
    const csrf = hiddenInput(html, 'csrf')
    const post = (agent: UserAgent, body: Record<string, string>, site = 'same-origin') =>
      agent.request(`${base}/consent/provider`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': site },
        body: new URLSearchParams(body).toString(),
      })
    expect((await post(ua, { txn, idp: 'alpha' })).status).toBe(403)
    expect((await post(ua, { txn, csrf: 'x'.repeat(43), idp: 'alpha' })).status).toBe(403)
    expect((await post(ua, { txn, csrf, idp: 'alpha' }, 'cross-site')).status).toBe(403)
    // Another browser (no binding cookie of the approval) cannot even see the chooser.
    expect((await new UserAgent().request(chooser)).status).toBe(400)
    expect(errors.filter((e) => e.startsWith('chooser_'))).toEqual([
      'chooser_csrf',
      'chooser_csrf',
      'chooser_cross_origin',
    ])
    // Nothing changed: the genuine form still works.
    expect((await post(ua, { txn, csrf, idp: 'alpha' })).status).toBe(303)
  })

  it("refuses the chooser's CSRF cookie and token at the consent page (signed for another step)", async () => {
    const { ua, chooser } = await toConsent()
    const html = await (await ua.request(chooser)).text()
    // The browser now holds the chooser's `gh-csrf` cookie, and the page its token: posted to the
    // consent page, the cookie reads as absent there (its MAC names the chooser).
    const res = await postConsent(ua, `${base}/consent`, html)
    expect(res.status).toBe(403)
    expect(errors.filter((e) => e.startsWith('consent_'))).toEqual(['consent_csrf'])
  })

  it('sends the chooser with the consent page’s protections', async () => {
    const { ua, chooser } = await toConsent()
    const page = await ua.request(chooser)
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    expect(page.headers.get('cache-control')).toBe('no-store')
    const html = await page.text()
    expect(html).not.toContain('upstream-secret')
    expect(html).not.toContain('<script')
  })
})
