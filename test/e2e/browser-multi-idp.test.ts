/**
 * The IdP chooser in real headless Chromium, with two real OpenID providers (two embedded dev
 * IdPs): consent, "Continue with Beta", sign-in at Beta, back to the MCP client with a code whose
 * token names the user as `beta|<sub>`; a chooser form tampered with in the page (CSRF token
 * removed, an IdP id Gatehouse does not have) is refused. Everything listens on 127.0.0.1.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { Browser, BrowserContext, Page } from 'playwright-core'
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
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/server.js'
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

const CLIENT_NAME = 'Chooser Test Client'
const skipReason = browserSkipReason()
if (skipReason !== undefined) console.warn(`browser e2e tests ${skipReason}`)

describe.skipIf(skipReason !== undefined)(
  `IdP chooser in headless Chromium${skipReason === undefined ? '' : ` (${skipReason})`}`,
  () => {
    let alpha: DevIdP | undefined
    let beta: DevIdP | undefined
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
    const callbacks: URLSearchParams[] = []
    const errors: string[] = []

    beforeAll(async () => {
      let handler = toNodeHandler(() => new Response('starting', { status: 503 }))
      ghServer = createServer((req, res) => {
        handler(req, res)
      })
      base = await listenLoopback(ghServer)
      const startIdp = () =>
        startDevIdentityProvider({
          users: [{ username: 'alice', password: 'wonderland', sub: 'alice-sub' }],
          clients: [
            {
              clientId: 'gatehouse',
              clientSecret: 'upstream-secret-value',
              redirectUris: [`${base}/auth/callback/alpha`, `${base}/auth/callback/beta`],
            },
          ],
        })
      alpha = await startIdp()
      beta = await startIdp()
      const up = (idp: DevIdP) => ({
        kind: 'oidc' as const,
        configUrl: `${idp.issuer}/.well-known/openid-configuration`,
        clientId: 'gatehouse',
        clientSecret: 'upstream-secret-value',
      })
      gh = await createGatehouse({
        config: {
          issuer: base,
          secret: 'c'.repeat(32),
          resources: [{ url: `${base}/mcp`, scopes: ['mcp:read'] }],
          upstreams: [
            { id: 'alpha', label: 'Alpha', upstream: up(alpha) },
            { id: 'beta', label: 'Beta', upstream: up(beta) },
          ],
        },
        store: createMemoryStore(),
        signatureVerifier: nodeSignatureVerifier,
        onError: (e) => errors.push(`${e.code} ${e.reason ?? ''}`),
      })
      const mcp = gh.protect((_r, t) => Response.json({ sub: t.subject }))
      const auth = gh
      handler = toNodeHandler((request) =>
        new URL(request.url).pathname === '/mcp' ? mcp(request) : auth.fetch(request),
      )
      cbServer = createServer((req, res) => {
        const url = new URL(req.url ?? '/', cbBase)
        if (url.pathname === '/cb') callbacks.push(url.searchParams)
        res.setHeader('content-type', 'text/html; charset=utf-8')
        res.end('<!doctype html><title>Signed in</title><h1 id="done">You can close this tab</h1>')
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
      await alpha?.close()
      await beta?.close()
    })

    beforeEach(async () => {
      errors.length = 0
      context = await browser!.newContext()
      context.setDefaultTimeout(10_000)
      context.setDefaultNavigationTimeout(10_000)
      page = await context.newPage()
      log = watchPage(page)
      onTestFailed(() => {
        console.error(`browser log:\n${log.join('\n')}\ngatehouse errors:\n${errors.join('\n')}`)
      })
    })
    afterEach(async () => {
      await context.close()
    })

    /** Registers a client, opens its /authorize URL, approves, and waits for the chooser. */
    async function toChooser() {
      const reg = await fetch(`${base}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [redirectUri],
          token_endpoint_auth_method: 'none',
          client_name: CLIENT_NAME,
        }),
      })
      const clientId = ((await reg.json()) as { client_id: string }).client_id
      const verifier = randomBytes(32).toString('base64url')
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state: 'st',
        scope: 'mcp:read',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: `${base}/mcp`,
      })
      await page.goto(`${base}/authorize?${q.toString()}`)
      await navigateBy(
        page,
        log,
        'Allow on the consent page should lead to the chooser',
        (u) => u.origin === base && u.pathname === '/consent/provider',
        () => page.click('#approve'),
      )
      return { clientId, verifier }
    }

    it('chooses Beta, signs in there and gets a token for beta|alice-sub', async () => {
      const { clientId, verifier } = await toChooser()
      await expect(page.locator('#client-name').textContent()).resolves.toBe(CLIENT_NAME)
      await expect(page.locator('#idp-alpha').textContent()).resolves.toBe('Continue with Alpha')
      await expect(page.locator('#idp-beta').textContent()).resolves.toBe('Continue with Beta')
      await page.screenshot({ path: '/tmp/gatehouse-chooser.png', fullPage: true })
      await navigateBy(
        page,
        log,
        'Continue with Beta should lead to Beta',
        (u) => u.origin === beta!.issuer,
        () => page.click('#idp-beta'),
      )
      await page.locator('#username').fill('alice')
      await page.locator('#password').fill('wonderland')
      await navigateBy(
        page,
        log,
        "Signing in at Beta should end on the MCP client's callback",
        (u) => u.origin === cbBase && u.pathname === '/cb',
        () => page.click('button[type="submit"]'),
      )
      const received = callbacks.at(-1)!
      expect(received.get('error')).toBeNull()
      const token = await fetch(`${base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: received.get('code')!,
          code_verifier: verifier,
          redirect_uri: redirectUri,
          client_id: clientId,
        }),
      })
      expect(token.status).toBe(200)
      const { access_token } = (await token.json()) as { access_token: string }
      const me = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${access_token}` },
      })
      await expect(me.json()).resolves.toEqual({ sub: 'beta|alice-sub' })
    })

    it('refuses the chooser form without its CSRF token, and an IdP it does not have', async () => {
      await toChooser()
      // The page runs no script (CSP); the test tampers with the form as an attacker's tool would.
      await page.evaluate(() => {
        document.querySelector('input[name="csrf"]')?.remove()
      })
      await page.click('#idp-alpha')
      await expect(page.locator('h1').textContent()).resolves.toBe('Request refused')
      expect(errors).toContain('access_denied chooser_csrf')

      await page.goBack()
      await page.reload()
      await page.evaluate(() => {
        document.querySelector('#idp-alpha')?.setAttribute('value', 'gamma')
      })
      await page.click('#idp-alpha')
      await expect(page.locator('h1').textContent()).resolves.toBe('Sign-in refused')
      expect(errors).toContain('invalid_request chooser_unknown_idp')
      expect(alpha!.requests.filter((r) => r.path.includes('auth'))).toEqual([])
    })
  },
)
