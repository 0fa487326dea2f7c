/**
 * The `/admin` page behind Gatehouse's own sign-in, in real headless Chromium: Gatehouse proxies
 * the embedded dev IdP (as in `gatehouse dev`), `admin.subjects` lists alice and `admin.roles`
 * the role `ops`. An unauthenticated visit goes through Gatehouse's consent page and the IdP's
 * sign-in form and lands on the dashboard; alice sees the MCP client and its grant and revokes
 * it (the refresh token stops working); a POST without the CSRF token is refused and changes
 * nothing; bob, admitted by his `ops` role, gets in too; mallory, on neither list, gets a 403
 * page and no session (and the grant her sign-in created is revoked). Sign-out ends the session
 * and revokes its grant. Everything listens on 127.0.0.1 on random ports.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import type { AuditEvent } from '../../src/audit-event.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  browserSkipReason,
  closeServer,
  launchChromium,
  listenLoopback,
  navigateBy,
  watchPage,
} from '../helpers/browser.js'

const TEST_TIMEOUT = 90_000
const UPSTREAM_SECRET = 'upstream-secret-value-for-admin-tests'
const skipReason = browserSkipReason()
if (skipReason !== undefined) console.warn(`admin sign-in browser tests ${skipReason}`)

describe.skipIf(skipReason !== undefined)(
  `the /admin page behind Gatehouse's sign-in, in headless Chromium${skipReason === undefined ? '' : ` (${skipReason})`}`,
  () => {
    let idp: DevIdP
    let gh: Gatehouse
    let server: Server
    let callbackServer: Server
    let browser: Browser
    let base: string
    let redirectUri: string
    const audit: AuditEvent[] = []
    const errors: string[] = []

    beforeAll(async () => {
      let handler = toNodeHandler(() => new Response('starting', { status: 503 }))
      server = createServer((req, res) => {
        handler(req, res)
      })
      base = await listenLoopback(server)
      idp = await startDevIdentityProvider({
        users: [
          { username: 'alice', password: 'alice-pw', sub: 'alice-sub' },
          { username: 'bob', password: 'bob-pw', sub: 'bob-sub', claims: { roles: ['ops'] } },
          { username: 'mallory', password: 'mallory-pw', sub: 'mallory-sub' },
          { username: 'carol', password: 'carol-pw', sub: 'carol-sub' },
        ],
        clients: [
          {
            clientId: 'gatehouse',
            clientSecret: UPSTREAM_SECRET,
            redirectUris: [`${base}/auth/callback`],
          },
        ],
      })
      gh = await createGatehouse({
        config: {
          issuer: base,
          secret: 'c'.repeat(32),
          resources: [{ url: `${base}/mcp`, scopes: ['mcp:read'] }],
          upstream: {
            kind: 'oidc',
            configUrl: `${idp.issuer}/.well-known/openid-configuration`,
            clientId: 'gatehouse',
            clientSecret: UPSTREAM_SECRET,
          },
          admin: { enabled: true, subjects: ['alice-sub'], roles: ['ops'] },
        },
        store: createMemoryStore(),
        signatureVerifier: nodeSignatureVerifier,
        audit: (event) => audit.push(event),
        onError: (e) => errors.push(`${e.code} ${e.reason ?? ''}`),
      })
      const auth = gh
      handler = toNodeHandler((request) => auth.fetch(request))
      // The MCP client's loopback redirect URI.
      callbackServer = createServer((_req, res) => {
        res.setHeader('content-type', 'text/html')
        res.end('<!doctype html><title>done</title><p id="done">done</p>')
      })
      redirectUri = `${await listenLoopback(callbackServer)}/cb`
      browser = await launchChromium()
    }, TEST_TIMEOUT)

    afterAll(async () => {
      await browser.close().catch(() => undefined)
      await closeServer(server)
      await closeServer(callbackServer)
      await gh.close()
      await idp.close()
    })

    async function newPage(): Promise<{ context: BrowserContext; page: Page; log: string[] }> {
      const context = await browser.newContext()
      context.setDefaultTimeout(15_000)
      const page = await context.newPage()
      const log = watchPage(page)
      onTestFailed(() => {
        console.error(`browser log:\n${log.join('\n')}\ngatehouse errors:\n${errors.join('\n')}`)
      })
      return { context, page, log }
    }

    /** Consent, then the IdP's form as `username`, until the page is at `to`. */
    async function signInAt(
      page: Page,
      log: string[],
      username: string,
      to: (u: URL) => boolean,
    ): Promise<void> {
      expect(new URL(page.url()).pathname).toBe('/consent')
      await navigateBy(
        page,
        log,
        'Allow should lead to the IdP',
        (u) => u.origin === idp.issuer,
        () => page.click('#approve'),
      )
      await page.fill('#username', username)
      await page.fill('#password', `${username}-pw`)
      await navigateBy(page, log, `signing in as ${username}`, to, () =>
        page.click('button[type="submit"]'),
      )
    }

    const atAdmin = (u: URL) => u.origin === base && u.pathname === '/admin'

    /** carol authorizes an MCP client: its client id and refresh token. */
    async function mcpGrant(): Promise<{ clientId: string; refreshToken: string }> {
      const registered = await fetch(`${base}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [redirectUri],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          client_name: 'Carol MCP client',
        }),
      })
      const clientId = ((await registered.json()) as { client_id: string }).client_id
      const verifier = randomBytes(32).toString('base64url')
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        state: 'mcp-state',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        resource: `${base}/mcp`,
      })
      const { context, page, log } = await newPage()
      await page.goto(`${base}/authorize?${query}`)
      await signInAt(page, log, 'carol', (u) => u.href.startsWith(redirectUri))
      const code = new URL(page.url()).searchParams.get('code') ?? ''
      await context.close()
      const tokens = await fetch(`${base}/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          redirect_uri: redirectUri,
          client_id: clientId,
        }),
      })
      expect(tokens.status).toBe(200)
      const body = (await tokens.json()) as { refresh_token: string }
      return { clientId, refreshToken: body.refresh_token }
    }

    const refresh = (clientId: string, refreshToken: string) =>
      fetch(`${base}/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: refreshToken,
          client_id: clientId,
        }),
      })

    it(
      'an admitted subject signs in at the IdP, sees clients and grants, revokes a grant; CSRF-less posts are refused; sign-out ends it',
      async () => {
        const mcp = await mcpGrant()
        const { context, page, log } = await newPage()

        // An unauthenticated visit starts Gatehouse's own sign-in: consent names the page.
        await page.goto(`${base}/admin`)
        expect(new URL(page.url()).pathname).toBe('/consent')
        expect(await page.textContent('#client-name')).toBe('Gatehouse administration')
        await signInAt(page, log, 'alice', atAdmin)
        expect(await page.textContent('#signed-in-as')).toContain('alice-sub')

        const cookies = await context.cookies(base)
        const session = cookies.find((c) => c.name === '__gh-admin')
        expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' })
        expect(cookies.find((c) => c.name === '__gh-admin-login')).toBeUndefined()

        // carol's grant and client are listed (beside alice's own admin sign-in grant).
        const carolRow = page.locator('#grants tbody tr', { hasText: 'carol-sub' })
        await expect(carolRow.count()).resolves.toBe(1)
        expect(await carolRow.textContent()).toContain(mcp.clientId)
        expect(await page.$(`tr[data-client="${mcp.clientId}"]`)).not.toBeNull()
        const carolGrant = (await carolRow.getAttribute('data-grant')) ?? ''
        const aliceRow = page.locator('#grants tbody tr', { hasText: 'alice-sub' })
        expect(await aliceRow.textContent()).toContain('gatehouse-admin')

        // A POST carrying the session cookie but no CSRF token: refused, nothing revoked.
        const forged = await context.request.post(`${base}/admin`, {
          form: { action: 'grant.revoke', id: carolGrant },
          headers: { 'sec-fetch-site': 'same-origin' },
          maxRedirects: 0,
        })
        expect(forged.status()).toBe(403)
        const wrongCsrf = await context.request.post(`${base}/admin`, {
          form: { action: 'grant.revoke', id: carolGrant, csrf: 'guessed' },
          headers: { 'sec-fetch-site': 'same-origin' },
          maxRedirects: 0,
        })
        expect(wrongCsrf.status()).toBe(403)
        await page.goto(`${base}/admin`)
        await expect(carolRow.count()).resolves.toBe(1)

        // Revoke carol's grant from the page: her refresh token stops working.
        await Promise.all([
          page.waitForURL((u) => u.search === '?result=revoked'),
          page.click(`tr[data-grant="${carolGrant}"] button[name=revoke]`),
        ])
        expect(await page.textContent('#message')).toBe('Grant revoked.')
        await expect(carolRow.count()).resolves.toBe(0)
        expect((await refresh(mcp.clientId, mcp.refreshToken)).status).toBe(400)
        const revoked = audit.find((e) => e.action === 'grant.revoke')
        expect(revoked).toMatchObject({
          outcome: 'success',
          grantId: carolGrant,
          actor: 'admin-page:alice-sub',
        })

        // Sign out: the session and its grant end; the next visit starts a new sign-in.
        const aliceGrant = (await aliceRow.getAttribute('data-grant')) ?? ''
        await page.click('#sign-out')
        await page.waitForURL((u) => u.pathname === '/consent')
        expect(await gh.base.grants.isActiveNow(aliceGrant)).toBe(false)
        await context.close()
      },
      TEST_TIMEOUT,
    )

    it(
      'a user admitted by an admin role gets in; a user on neither list gets a 403 page and no session',
      async () => {
        const bob = await newPage()
        await bob.page.goto(`${base}/admin`)
        await signInAt(bob.page, bob.log, 'bob', atAdmin)
        expect(await bob.page.textContent('#signed-in-as')).toContain('bob-sub')
        expect(await bob.page.$('#grants')).not.toBeNull()
        await bob.context.close()

        const { context, page, log } = await newPage()
        await page.goto(`${base}/admin`)
        const refusal = page.waitForResponse((r) => new URL(r.url()).pathname === '/admin/callback')
        await signInAt(page, log, 'mallory', (u) => u.pathname === '/admin/callback')
        expect((await refusal).status()).toBe(403)
        expect(await page.textContent('#refused')).toContain('not an administrator')
        expect(await page.textContent('#subject')).toBe('mallory-sub')
        expect(await page.$('#grants')).toBeNull()
        expect((await context.cookies(base)).map((c) => c.name)).not.toContain('__gh-admin')
        const refused = audit.find((e) => e.reason === 'not_admitted')
        expect(refused).toMatchObject({ outcome: 'failure', subject: 'mallory-sub' })

        // Visiting again starts a new sign-in; the dashboard never shows.
        await page.goto(`${base}/admin`)
        expect(new URL(page.url()).pathname).toBe('/consent')
        // The grant mallory's sign-in created was revoked at once.
        expect(refused?.grantId).toEqual(expect.any(String))
        expect(await gh.base.grants.isActiveNow(refused?.grantId ?? '')).toBe(false)
        await context.close()
      },
      TEST_TIMEOUT,
    )
  },
)
