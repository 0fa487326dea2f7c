/**
 * Issue 11 item 9 in real headless Chromium: with the `authenticate` hook (no IdP proxied), an
 * MCP client's /authorize URL shows Gatehouse's consent page; "Allow" lands on the client's
 * loopback callback with a code (and only then is the hook called), "Deny" with `access_denied`,
 * both with `state` and `iss`. Everything listens on 127.0.0.1 on real ports.
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
import { toNodeHandler } from '../../src/adapters/node.js'
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

const CLIENT_NAME = 'Hook Consent Client'
const skipReason = browserSkipReason()
if (skipReason !== undefined) console.warn(`browser e2e tests ${skipReason}`)

describe.skipIf(skipReason !== undefined)(
  `authenticate hook behind the consent page in headless Chromium${skipReason === undefined ? '' : ` (${skipReason})`}`,
  () => {
    let gh: Gatehouse | undefined
    let ghServer: Server | undefined
    let cbServer: Server | undefined
    let browser: Browser | undefined
    let context: BrowserContext
    let page: Page
    let log: string[]
    let base: string
    let cbBase: string
    let signIns = 0
    const callbacks: URLSearchParams[] = []
    const errors: string[] = []

    beforeAll(async () => {
      let handler = toNodeHandler(() => new Response('starting', { status: 503 }))
      ghServer = createServer((req, res) => {
        handler(req, res)
      })
      base = await listenLoopback(ghServer)
      gh = await createGatehouse({
        config: {
          issuer: base,
          secret: 'h'.repeat(32),
          resources: [{ url: `${base}/mcp`, scopes: ['mcp:read'] }],
        },
        store: createMemoryStore(),
        authenticate: () => {
          signIns++
          return Promise.resolve({ subject: 'hook-user' })
        },
        onError: (e) => errors.push(`${e.code} ${e.reason ?? ''} ${e.message}`),
      })
      const mcp = gh.protect((_r, t) => Response.json({ sub: t.subject, client: t.clientId }))
      const auth = gh
      handler = toNodeHandler((request) =>
        new URL(request.url).pathname === '/mcp' ? mcp(request) : auth.fetch(request),
      )
      cbServer = createServer((req, res) => {
        const url = new URL(req.url ?? '/', cbBase)
        if (url.pathname === '/cb') callbacks.push(url.searchParams)
        res.setHeader('content-type', 'text/html; charset=utf-8')
        res.end('<!doctype html><title>Back at the client</title><h1>Done</h1>')
      })
      cbBase = await listenLoopback(cbServer)
      browser = await launchChromium()
    })

    afterAll(async () => {
      await browser?.close()
      await closeServer(cbServer)
      await closeServer(ghServer)
      await gh?.close()
    })

    beforeEach(async () => {
      context = await browser!.newContext()
      context.setDefaultTimeout(10_000)
      page = await context.newPage()
      log = watchPage(page)
      onTestFailed(() => {
        console.error(`browser log:\n${log.join('\n')}\ngatehouse errors:\n${errors.join('\n')}`)
      })
    })
    afterEach(async () => {
      await context.close()
    })

    async function startAuthorization() {
      const res = await fetch(`${base}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [`${cbBase}/cb`],
          token_endpoint_auth_method: 'none',
          client_name: CLIENT_NAME,
        }),
      })
      expect(res.status).toBe(201)
      const { client_id } = (await res.json()) as { client_id: string }
      const verifier = randomBytes(32).toString('base64url')
      const state = randomBytes(16).toString('base64url')
      const q = new URLSearchParams({
        response_type: 'code',
        client_id,
        redirect_uri: `${cbBase}/cb`,
        state,
        scope: 'mcp:read',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: `${base}/mcp`,
      })
      return { clientId: client_id, verifier, state, url: `${base}/authorize?${q}` }
    }

    async function openConsent(url: string) {
      const response = await page.goto(url)
      expect(page.url().startsWith(`${base}/consent?txn=`)).toBe(true)
      expect(response?.status()).toBe(200)
      expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'")
      await expect(page.locator('#client-name').textContent()).resolves.toBe(CLIENT_NAME)
    }

    const onCallback = (u: URL): boolean => u.origin === cbBase && u.pathname === '/cb'

    it('Allow: the hook runs only then, and the client gets a code that redeems', async () => {
      const { clientId, verifier, state, url } = await startAuthorization()
      const before = signIns
      await openConsent(url)
      expect(signIns).toBe(before)
      expect(callbacks.filter((c) => c.get('state') === state)).toEqual([])

      await navigateBy(page, log, 'Allow should lead back to the client', onCallback, () =>
        page.click('#approve'),
      )
      const back = callbacks.find((c) => c.get('state') === state)!
      expect(back.get('state')).toBe(state)
      expect(back.get('iss')).toBe(base)
      expect(back.get('error')).toBeNull()
      expect(signIns).toBe(before + 1)

      const token = await fetch(`${base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.get('code')!,
          code_verifier: verifier,
          redirect_uri: `${cbBase}/cb`,
          client_id: clientId,
        }).toString(),
      })
      expect(token.status).toBe(200)
      const { access_token } = (await token.json()) as { access_token: string }
      const me = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${access_token}` },
      })
      expect(await me.json()).toEqual({ sub: 'hook-user', client: clientId })
    })

    it('Deny: access_denied with state and iss, no code, and the hook is never called', async () => {
      const { state, url } = await startAuthorization()
      const before = signIns
      await openConsent(url)
      await navigateBy(page, log, 'Deny should lead back to the client', onCallback, () =>
        page.click('#deny'),
      )
      const back = callbacks.find((c) => c.get('state') === state)!
      expect(back.get('error')).toBe('access_denied')
      expect(back.get('state')).toBe(state)
      expect(back.get('iss')).toBe(base)
      expect(back.get('code')).toBeNull()
      expect(signIns).toBe(before)
    })
  },
)
