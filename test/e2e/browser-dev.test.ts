/**
 * `gatehouse dev` in real headless Chromium, once per `--provider`: the embedded OpenID provider
 * (`oidc`) and the local Entra stand-in (`azure`). An MCP client's /authorize URL, Gatehouse's
 * consent page, the IdP's sign-in form, back to the client's loopback callback (a third origin),
 * then the code is redeemed and the demo server's `whoami` tool called with the MCP SDK client.
 *
 * The sign-in form's POST ends two redirects later at the MCP client: Chromium checks every one of
 * them against the sign-in page's CSP `form-action`, so a page that sends one blocks the sign-in.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { Browser, BrowserContext, Page, Response } from 'playwright-core'
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
import { startDev, type DevServer } from '../../src/cli/dev.js'
import {
  browserSkipReason,
  closeServer,
  launchChromium,
  listenLoopback,
  navigateBy,
  watchPage,
} from '../helpers/browser.js'

const TEST_TIMEOUT = 45_000
const USER = { username: 'ada', password: 'lovelace' }
const skipReason = browserSkipReason()
if (skipReason !== undefined) console.warn(`browser e2e tests ${skipReason}`)

describe.skipIf(skipReason !== undefined).each(['oidc', 'azure'] as const)(
  `gatehouse dev --provider %s in headless Chromium${skipReason === undefined ? '' : ` (${skipReason})`}`,
  (provider) => {
    let dev: DevServer | undefined
    let cbServer: Server | undefined
    let browser: Browser | undefined
    let context: BrowserContext
    let page: Page
    let log: string[]
    let cbBase: string
    let redirectUri: string
    /** The query strings the MCP client's callback received, oldest first. */
    const callbacks: URLSearchParams[] = []

    beforeAll(async () => {
      dev = await startDev({ port: 0, dataDir: '', memory: true, provider, ...toDevUser(USER) })
      cbServer = createServer((req, res) => {
        const url = new URL(req.url ?? '/', cbBase)
        if (url.pathname !== '/cb') {
          res.statusCode = 404
          res.end('not found')
          return
        }
        callbacks.push(url.searchParams)
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
      await dev?.close()
    })

    beforeEach(async () => {
      context = await browser!.newContext()
      context.setDefaultTimeout(10_000)
      context.setDefaultNavigationTimeout(10_000)
      page = await context.newPage()
      log = watchPage(page)
      onTestFailed(() => {
        console.error(`browser log:\n${log.join('\n')}`)
      })
    })

    afterEach(async () => {
      await context.close()
    })

    const idpOrigin = (): string => new URL(dev!.idpIssuer).origin
    const onCallback = (u: URL): boolean => u.origin === cbBase && u.pathname === '/cb'

    /**
     * One sign-in in this page: a fresh client's /authorize, Allow, the IdP's form unless the IdP
     * still has a session, and back on the client's callback. Returns what the callback received.
     */
    async function signIn(): Promise<{
      clientId: string
      verifier: string
      received: URLSearchParams
      signInPages: Record<string, string>[]
    }> {
      const registered = await fetch(`${dev!.issuer}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [redirectUri],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          client_name: `Browser (${provider})`,
        }),
      })
      expect(registered.status).toBe(201)
      const { client_id: clientId } = (await registered.json()) as { client_id: string }
      const verifier = randomBytes(32).toString('base64url')
      const state = randomBytes(16).toString('base64url')
      const authorize = `${dev!.issuer}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state,
        scope: 'mcp:read',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: dev!.mcpUrl,
      })}`

      await page.goto(authorize)
      expect(page.url().startsWith(`${dev!.issuer}/consent?`)).toBe(true)
      const seen = callbacks.length
      // The IdP's pages this sign-in showed (its form), with their headers.
      const idpPages: Promise<Record<string, string>>[] = []
      const onIdpPage = (r: Response): void => {
        if (new URL(r.url()).origin === idpOrigin() && r.status() === 200) {
          idpPages.push(r.allHeaders())
        }
      }
      page.on('response', onIdpPage)
      await navigateBy(
        page,
        log,
        "Allow should lead to the IdP's sign-in form, or straight back with an IdP session",
        (u) => u.origin === idpOrigin() || onCallback(u),
        () => page.click('#approve'),
      )
      if (!onCallback(new URL(page.url()))) {
        await page.locator('input[name="username"]').fill(USER.username)
        await page.locator('input[name="password"]').fill(USER.password)
        await navigateBy(
          page,
          log,
          "Signing in at the IdP should end on the MCP client's callback",
          onCallback,
          () => page.click('button[type="submit"]'),
        )
      }
      page.off('response', onIdpPage)
      await expect(page.locator('#done').textContent()).resolves.toBe('You can close this tab')
      expect(callbacks.length).toBe(seen + 1)
      const received = callbacks[seen]!
      expect(received.get('error')).toBeNull()
      expect(received.get('state')).toBe(state)
      expect(received.get('iss')).toBe(dev!.issuer)
      const signInPages = await Promise.all(idpPages)
      return { clientId, verifier, received, signInPages }
    }

    it(
      "approves, signs in at the IdP, lands on the client's callback and calls whoami",
      async () => {
        const { clientId, verifier, received, signInPages } = await signIn()
        // The sign-in page keeps a strict policy: no script, no framing, nothing loaded.
        expect(signInPages).toHaveLength(1)
        const csp = signInPages[0]!['content-security-policy']
        expect(csp).toContain("default-src 'none'")
        expect(csp).toContain("frame-ancestors 'none'")
        expect(signInPages[0]!['x-frame-options']).toBe('DENY')

        const token = await fetch(`${dev!.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code: received.get('code') ?? '',
            code_verifier: verifier,
            redirect_uri: redirectUri,
            client_id: clientId,
          }),
        })
        expect(token.status).toBe(200)
        const { access_token: accessToken } = (await token.json()) as { access_token: string }

        const client = new Client({ name: 'browser-dev-e2e', version: '1.0.0' })
        await client.connect(
          new StreamableHTTPClientTransport(new URL(dev!.mcpUrl), {
            requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
          }),
        )
        try {
          const who = await client.callTool({ name: 'whoami', arguments: {} })
          const body = JSON.parse((who.content as { text: string }[])[0]!.text) as {
            issuer: string
            client: string
            scopes: string[]
          }
          expect(body).toMatchObject({
            issuer: dev!.issuer,
            client: clientId,
            scopes: ['mcp:read'],
          })
        } finally {
          await client.close()
        }
      },
      TEST_TIMEOUT,
    )

    it(
      'signs in again in the same browser: every redirect after the consent POST is followed',
      async () => {
        // With an IdP session (the dev IdP keeps one) Allow's POST ends, through the IdP and
        // Gatehouse's callback, on the client: one form submission's redirect chain across four
        // origins, which a `form-action` on the consent page would block.
        expect((await signIn()).signInPages).toHaveLength(1)
        const again = await signIn()
        expect(again.received.get('code')).toEqual(expect.any(String))
        // The dev IdP remembers the user; the Entra stand-in, like Entra without SSO, asks again.
        expect(again.signInPages).toHaveLength(provider === 'oidc' ? 0 : 1)
      },
      TEST_TIMEOUT,
    )
  },
)

function toDevUser(user: { username: string; password: string }) {
  return { user: user.username, password: user.password }
}
