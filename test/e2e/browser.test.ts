/**
 * The OIDC proxy sign-in in real headless Chromium: an MCP client's /authorize URL, Gatehouse's
 * consent page, the dev IdP's sign-in form, and back to the client's loopback callback; then Deny,
 * and the consent page's framing protections as a browser enforces them. Everything listens on
 * 127.0.0.1 on real ports.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { Browser, BrowserContext, Page, Request } from 'playwright-core'
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  onTestFailed,
} from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  browserSkipReason,
  closeServer,
  launchChromium,
  listenLoopback,
  navigateBy,
  watchPage,
} from '../helpers/browser.js'

const SCREENSHOT = '/tmp/gatehouse-consent.png'
const CLIENT_NAME = 'Browser Test Client'
const TEST_TIMEOUT = 20_000
const skipReason = browserSkipReason()
if (skipReason !== undefined) console.warn(`browser e2e tests ${skipReason}`)

const html = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

describe.skipIf(skipReason !== undefined)(
  `OIDC proxy sign-in in headless Chromium${skipReason === undefined ? '' : ` (${skipReason})`}`,
  () => {
    let idp: DevIdP | undefined
    let gh: Gatehouse | undefined
    let ghServer: Server | undefined
    let cbServer: Server | undefined
    let browser: Browser | undefined
    let context: BrowserContext
    let page: Page
    let log: string[]
    let base: string
    let cbBase: string
    let redirectUri: string
    /** The query strings the MCP client's callback received, oldest first. */
    const callbacks: URLSearchParams[] = []
    const errors: string[] = []
    const served: string[] = []

    beforeAll(async () => {
      // Gatehouse's server first, so its port is known to the IdP client and to the config.
      let handler = toNodeHandler(() => new Response('starting', { status: 503 }))
      ghServer = createServer((req, res) => {
        // What Gatehouse answered, for the failure log: the redirect's origin, never its query.
        res.once('finish', () => {
          const to = res.getHeader('location')
          const where = typeof to === 'string' ? ` -> ${URL.parse(to, base)?.origin ?? '?'}` : ''
          served.push(
            `${res.statusCode} ${req.method ?? ''} ${(req.url ?? '').split('?')[0]}${where}`,
          )
        })
        handler(req, res)
      })
      base = await listenLoopback(ghServer)
      idp = await startDevIdentityProvider({
        users: [{ username: 'alice', password: 'wonderland', sub: 'alice-sub', name: 'Alice' }],
        clients: [
          {
            clientId: 'gatehouse',
            clientSecret: 'upstream-secret-value',
            redirectUris: [`${base}/auth/callback`],
          },
        ],
      })
      gh = await createGatehouse({
        config: {
          issuer: base,
          secret: 'b'.repeat(32),
          resources: [{ url: `${base}/mcp`, scopes: ['mcp:read'] }],
          upstream: {
            kind: 'oidc',
            configUrl: `${idp.issuer}/.well-known/openid-configuration`,
            clientId: 'gatehouse',
            clientSecret: 'upstream-secret-value',
          },
        },
        store: createMemoryStore(),
        signatureVerifier: nodeSignatureVerifier,
        onError: (e) => errors.push(`${e.code} ${e.reason ?? ''} ${e.message}`),
      })
      const mcp = gh.protect((_r, t) => Response.json({ sub: t.subject, client: t.clientId }))
      const auth = gh
      handler = toNodeHandler((request) =>
        new URL(request.url).pathname === '/mcp' ? mcp(request) : auth.fetch(request),
      )

      // The MCP client's loopback callback; /frame is a page of another origin framing `src`.
      cbServer = createServer((req, res) => {
        const url = new URL(req.url ?? '/', cbBase)
        res.setHeader('content-type', 'text/html; charset=utf-8')
        if (url.pathname === '/cb') {
          callbacks.push(url.searchParams)
          res.end(
            '<!doctype html><title>Signed in</title><h1 id="done">You can close this tab</h1>',
          )
        } else if (url.pathname === '/frame') {
          const src = url.searchParams.get('src') ?? 'about:blank'
          res.end(
            `<!doctype html><title>Framing</title><h1>Another site</h1>` +
              `<iframe id="victim" name="victim" src="${html(src)}" width="600" height="400"></iframe>`,
          )
        } else {
          res.statusCode = 404
          res.end('not found')
        }
      })
      cbBase = await listenLoopback(cbServer)
      redirectUri = `${cbBase}/cb`

      browser = await launchChromium()
    })

    afterAll(async () => {
      await browser?.close()
      await closeServer(cbServer)
      await closeServer(ghServer)
      await gh?.close()
      await idp?.close()
    })

    beforeEach(async () => {
      context = await browser!.newContext()
      context.setDefaultTimeout(10_000)
      context.setDefaultNavigationTimeout(10_000)
      page = await context.newPage()
      log = watchPage(page)
      onTestFailed(() => {
        console.error(
          `browser log:\n${log.join('\n')}\ngatehouse errors:\n${errors.join('\n')}\n` +
            `gatehouse answered:\n${served.join('\n')}\n` +
            `idp requests:\n${idp!.requests.map((r) => `${r.method} ${r.path}`).join('\n')}`,
        )
      })
    })

    afterEach(async () => {
      await context.close()
    })

    async function registerClient(): Promise<string> {
      const res = await fetch(`${base}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [redirectUri],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          client_name: CLIENT_NAME,
        }),
      })
      expect(res.status).toBe(201)
      return ((await res.json()) as { client_id: string }).client_id
    }

    /** A fresh client, PKCE verifier and state, and the /authorize URL an MCP client would open. */
    async function startAuthorization() {
      const clientId = await registerClient()
      const verifier = randomBytes(32).toString('base64url')
      const state = randomBytes(16).toString('base64url')
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state,
        scope: 'mcp:read',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: `${base}/mcp`,
      })
      return { clientId, verifier, state, url: `${base}/authorize?${q}` }
    }

    async function openConsent(authorizeUrl: string) {
      const response = await page.goto(authorizeUrl)
      expect(page.url().startsWith(`${base}/consent?`)).toBe(true)
      expect(response?.status()).toBe(200)
      await expect(page.locator('#client-name').textContent()).resolves.toBe(CLIENT_NAME)
      await expect(page.locator('#redirect-host').textContent()).resolves.toBe(
        new URL(redirectUri).host,
      )
      return response!
    }

    const onCallback = (u: URL): boolean => u.origin === cbBase && u.pathname === '/cb'

    it(
      'approves, signs in at the IdP and lands on the client with a code that redeems',
      async () => {
        const { clientId, verifier, state, url } = await startAuthorization()
        await openConsent(url)
        await page.screenshot({ path: SCREENSHOT, fullPage: true })

        const seen = callbacks.length
        await navigateBy(
          page,
          log,
          'Allow on the consent page should lead to the IdP',
          (u) => u.origin === idp!.issuer,
          () => page.click('#approve'),
        )
        await page.locator('#username').fill('alice')
        await page.locator('#password').fill('wonderland')
        await navigateBy(
          page,
          log,
          "Signing in at the IdP should end on the MCP client's callback",
          onCallback,
          () => page.click('button[type="submit"]'),
        )
        await expect(page.locator('#done').textContent()).resolves.toBe('You can close this tab')

        const landed = new URL(page.url()).searchParams
        expect(callbacks.length).toBe(seen + 1)
        const received = callbacks[seen]!
        expect(received.toString()).toBe(landed.toString())
        expect(received.get('state')).toBe(state)
        expect(received.get('iss')).toBe(base)
        expect(received.get('error')).toBeNull()
        const code = received.get('code')
        expect(code).toEqual(expect.any(String))

        const token = await fetch(`${base}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: code!,
            code_verifier: verifier,
            redirect_uri: redirectUri,
            client_id: clientId,
          }),
        })
        expect(token.status).toBe(200)
        const tokens = (await token.json()) as { access_token: string; token_type: string }
        expect(tokens.token_type).toMatch(/^bearer$/i)

        const call = await fetch(`${base}/mcp`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens.access_token}` },
        })
        expect(call.status).toBe(200)
        expect(await call.json()).toEqual({ sub: 'alice-sub', client: clientId })
      },
      TEST_TIMEOUT,
    )

    it(
      'deny sends access_denied with state and iss to the client and never reaches the IdP',
      async () => {
        const { state, url } = await startAuthorization()
        await openConsent(url)
        const before = idp!.requests.length
        const seen = callbacks.length
        await navigateBy(
          page,
          log,
          "Deny should end on the MCP client's callback",
          onCallback,
          () => page.click('#deny'),
        )

        expect(callbacks.length).toBe(seen + 1)
        const received = callbacks[seen]!
        expect(received.get('error')).toBe('access_denied')
        expect(received.get('state')).toBe(state)
        expect(received.get('iss')).toBe(base)
        expect(received.get('code')).toBeNull()
        expect(idp!.requests.length).toBe(before)
      },
      TEST_TIMEOUT,
    )

    it(
      'the consent page forbids framing, and Chromium does not render it in a frame of another origin',
      async () => {
        const { url } = await startAuthorization()
        const response = await openConsent(url)
        const headers = await response.allHeaders()
        expect(headers['x-frame-options']).toBe('DENY')
        expect(headers['content-security-policy']).toContain("frame-ancestors 'none'")

        // Another origin (the client's callback server) frames a fresh authorization.
        const second = await startAuthorization()
        const inFrame = (r: Request): boolean =>
          r.url().startsWith(`${base}/consent?`) && r.frame() !== page.mainFrame()
        const framed = page.waitForResponse((r) => inFrame(r.request()))
        const blocked = page.waitForEvent('requestfailed', inFrame)
        await page.goto(`${cbBase}/frame?src=${encodeURIComponent(second.url)}`)
        // Gatehouse did answer the framed request with the consent page…
        const consentInFrame = await framed
        expect(consentInFrame.status()).toBe(200)
        expect((await consentInFrame.allHeaders())['x-frame-options']).toBe('DENY')
        // …and Chromium refused to show it: the navigation is blocked, the frame holds an error page.
        expect((await blocked).failure()?.errorText).toBe('net::ERR_BLOCKED_BY_RESPONSE')
        const frame = await (await page.$('#victim'))!.contentFrame()
        expect(frame).not.toBeNull()
        await frame!.waitForLoadState()
        expect(frame!.url()).not.toContain('/consent')
        expect(await frame!.$('#approve')).toBeNull()
        expect(await frame!.$('#client-name')).toBeNull()
        expect(log.join('\n')).toContain(`"frame-ancestors 'none'". The request has been blocked.`)
      },
      TEST_TIMEOUT,
    )
  },
)
