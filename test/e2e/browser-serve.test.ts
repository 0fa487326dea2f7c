/**
 * A sign-in through `gatehouse serve` in real headless Chromium, with the official MCP SDK client
 * behind it: the SDK gets the 401, discovers Gatehouse, registers and hands over the /authorize
 * URL; Chromium shows Gatehouse's consent page, the embedded IdP's form, and lands on the client's
 * loopback callback; the SDK redeems the code and calls `@modelcontextprotocol/server-everything`
 * (stdio) through the gateway.
 */
import { createServer, type Server } from 'node:http'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  UnauthorizedError,
  type OAuthClientProvider,
} from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type {
  OAuthClientInformationMixed,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import {
  browserSkipReason,
  closeServer,
  launchChromium,
  listenLoopback,
  navigateBy,
  watchPage,
} from '../helpers/browser.js'
import { serverEntry } from '../helpers/gateway.js'

const USER = { username: 'ada', password: 'lovelace' }
const skipReason = browserSkipReason()
if (skipReason !== undefined) console.warn(`browser e2e tests ${skipReason}`)

/** An MCP client's OAuth state; the authorization URL goes to the browser. */
class BrowserClientProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ''
  authorizationUrl: URL | undefined
  readonly redirectUrl: string
  constructor(redirectUrl: string) {
    this.redirectUrl = redirectUrl
  }
  get clientMetadata() {
    return {
      client_name: 'Chromium through serve',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }
  }
  clientInformation() {
    return this.info
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier
  }
  codeVerifier() {
    return this.verifier
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url
  }
}

describe.skipIf(skipReason !== undefined)(
  `gatehouse serve in headless Chromium${skipReason === undefined ? '' : ` (${skipReason})`}`,
  () => {
    let serve: RunningServe | undefined
    let browser: Browser | undefined
    let cbServer: Server | undefined
    let cbBase = ''
    const callbacks: URLSearchParams[] = []

    beforeAll(async () => {
      serve = await startServe({
        port: 0,
        store: 'memory',
        devIdp: { users: [{ user: USER.username, password: USER.password }] },
        config: {
          gateway: {
            routes: [
              {
                path: '/everything',
                scopes: ['mcp:read'],
                upstream: {
                  kind: 'stdio',
                  command: process.execPath,
                  args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
                },
              },
            ],
          },
        },
      })
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
      browser = await launchChromium()
    }, 60_000)

    afterAll(async () => {
      await browser?.close()
      await closeServer(cbServer)
      await serve?.close()
    })

    it('signs the user in through consent and the IdP, then the SDK client calls the stdio server', async () => {
      const url = new URL(serve!.routes['/everything']!)
      const provider = new BrowserClientProvider(`${cbBase}/cb`)
      const client = new Client({ name: 'chromium e2e', version: '1.0.0' })
      const first = new StreamableHTTPClientTransport(url, { authProvider: provider })
      await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
      const authorize = provider.authorizationUrl!
      expect(authorize.origin).toBe(new URL(serve!.issuer).origin)

      const context = await browser!.newContext()
      context.setDefaultTimeout(10_000)
      context.setDefaultNavigationTimeout(10_000)
      const page = await context.newPage()
      const log = watchPage(page)
      onTestFailed(() => {
        console.error(`browser log:\n${log.join('\n')}`)
      })
      try {
        await page.goto(authorize.href)
        expect(page.url().startsWith(`${serve!.issuer}/consent?`)).toBe(true)
        // The consent page names the client and the route the client asked for.
        const consent = await page.content()
        expect(consent).toContain('Chromium through serve')
        const idp = new URL(serve!.idpIssuer!).origin
        await navigateBy(
          page,
          log,
          "Allow should lead to the IdP's sign-in form",
          (u) => u.origin === idp,
          () => page.click('#approve'),
        )
        await page.locator('input[name="username"]').fill(USER.username)
        await page.locator('input[name="password"]').fill(USER.password)
        await navigateBy(
          page,
          log,
          "Signing in at the IdP should end on the MCP client's callback",
          (u) => u.origin === cbBase && u.pathname === '/cb',
          () => page.click('button[type="submit"]'),
        )
        await expect(page.locator('#done').textContent()).resolves.toBe('You can close this tab')
      } finally {
        await context.close()
      }
      const received = callbacks.at(-1)!
      expect(received.get('iss')).toBe(serve!.issuer)
      await first.finishAuth(received.get('code')!)

      const transport = new StreamableHTTPClientTransport(url, { authProvider: provider })
      await client.connect(transport)
      try {
        const echo = await client.callTool({ name: 'echo', arguments: { message: 'via chromium' } })
        expect(JSON.stringify(echo.content)).toContain('via chromium')
        expect(provider.saved!.scope).toBe('mcp:read')
      } finally {
        await client.close()
      }
    }, 60_000)
  },
)
