/**
 * The operator page `/admin` in real headless Chromium: sign-in with the operator token, the
 * grants / clients / keys / audit tables, revoke, delete and rotate (each taking effect at the
 * OAuth endpoints and recorded as an `admin_action` audit event), sign-out; and what a page of
 * another origin cannot do: post an action (CSRF) or frame the page. Nothing secret is rendered.
 * Everything listens on 127.0.0.1 on random ports.
 */
import { createServer, type Server } from 'node:http'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import type { AuditEvent } from '../../src/audit-event.js'
import {
  browserSkipReason,
  closeServer,
  launchChromium,
  listenLoopback,
  navigateBy,
  watchPage,
} from '../helpers/browser.js'
import {
  createTestGatehouse,
  form,
  getTokens,
  SECRET,
  type RegisteredClient,
  type TestGatehouse,
  type Tokens,
} from '../helpers/gatehouse.js'

const OPERATOR_TOKEN = 'operator-token-'.padEnd(48, 'o')
const TEST_TIMEOUT = 90_000
const skipReason = browserSkipReason()
if (skipReason !== undefined) console.warn(`admin page browser tests ${skipReason}`)

describe.skipIf(skipReason !== undefined)(
  `the /admin page in headless Chromium${skipReason === undefined ? '' : ` (${skipReason})`}`,
  () => {
    let server: Server
    let attacker: Server
    let browser: Browser
    let t: TestGatehouse
    let base: string
    let attackerBase: string
    const audit: AuditEvent[] = []
    const grants: { client: RegisteredClient; tokens: Tokens }[] = []
    let victimGrant = ''

    beforeAll(async () => {
      let handler: ReturnType<typeof toNodeHandler> = (_req, res) => res.end()
      server = createServer((req, res) => {
        handler(req, res)
      })
      base = await listenLoopback(server)
      t = await createTestGatehouse({
        config: {
          issuer: base,
          resources: [{ url: `${base}/mcp`, scopes: ['mcp:read'] }],
          admin: { enabled: true, token: OPERATOR_TOKEN },
        },
        options: { audit: (event) => audit.push(event) },
      })
      handler = toNodeHandler(t.gh.fetch, { baseUrl: base })
      const resource = { resource: `${base}/mcp` }
      const first = await getTokens(t, undefined, resource)
      grants.push(first)
      grants.push(await getTokens(t, first.client, resource))
      grants.push(await getTokens(t, undefined, resource))
      victimGrant = await grantOf(t, grants[1]!)

      // Another origin (same host, other port): a form posting to /admin, and a frame of it.
      attacker = createServer((req, res) => {
        res.setHeader('content-type', 'text/html')
        if (req.url === '/frame') {
          res.end(`<iframe id="victim" src="${base}/admin" width="600" height="400"></iframe>`)
          return
        }
        res.end(
          `<form method="post" action="${base}/admin"><input type="hidden" name="action" value="grant.revoke"><input type="hidden" name="id" value="${victimGrant}"><input type="hidden" name="csrf" value="guess"><button id="go">go</button></form>`,
        )
      })
      attackerBase = await listenLoopback(attacker)
      browser = await launchChromium()
    }, TEST_TIMEOUT)

    afterAll(async () => {
      await browser.close().catch(() => undefined)
      await closeServer(server)
      await closeServer(attacker)
      await t.gh.close()
    })

    async function refresh(entry: { client: RegisteredClient; tokens: Tokens }) {
      return t.call(
        '/token',
        form({
          grant_type: 'refresh_token',
          refresh_token: entry.tokens.refresh_token ?? '',
          client_id: entry.client.client_id,
        }),
      )
    }

    /** Every grant id listed in the page's grants table. */
    const grantIds = (page: Page) =>
      page.$$eval('#grants tbody tr', (rows) => rows.map((r) => r.getAttribute('data-grant')))

    it(
      'signs the operator in, lists, revokes, deletes and rotates; each action takes effect and is audited',
      async () => {
        const context = await browser.newContext()
        const page = await context.newPage()
        const log = watchPage(page)
        onTestFailed(() => {
          console.log(log.join('\n'))
        })

        const first = await page.goto(`${base}/admin`)
        const headers = first?.headers() ?? {}
        expect(headers['content-security-policy']).toMatch(/default-src 'none'/)
        expect(headers['content-security-policy']).toContain("frame-ancestors 'none'")
        expect(headers['content-security-policy']).not.toContain('unsafe-inline')
        expect(headers['x-frame-options']).toBe('DENY')
        expect(headers['cache-control']).toBe('no-store')
        expect(await page.$('#grants')).toBeNull()

        // A wrong token: refused, still signed out.
        await page.fill('input[name=token]', `${OPERATOR_TOKEN}x`)
        await navigateBy(
          page,
          log,
          'wrong token',
          (u) => u.pathname === '/admin',
          () => page.click('#sign-in'),
        )
        expect(await page.textContent('#message')).toContain('not the operator token')
        expect(await page.$('#grants')).toBeNull()

        await page.fill('input[name=token]', OPERATOR_TOKEN)
        await Promise.all([page.waitForSelector('#grants'), page.click('#sign-in')])
        const ids = await grantIds(page)
        expect(ids).toHaveLength(3)
        const body = await page.content()
        for (const secret of [
          OPERATOR_TOKEN,
          SECRET,
          ...grants.flatMap((g) => [g.tokens.access_token, g.tokens.refresh_token ?? '']),
        ]) {
          expect(body).not.toContain(secret)
        }
        // The CSP lets the page's own style apply (it is allowed by its hash), and nothing else.
        expect(log.filter((l) => /Content Security Policy/i.test(l))).toEqual([])
        expect(await page.$eval('body', (b) => getComputedStyle(b).maxWidth)).toBe('1152px')

        // Revoke the grant of the first token pair.
        const admin = t.gh
        const firstGrant = await grantOf(t, grants[0]!)
        await Promise.all([
          page.waitForURL((u) => u.search === '?result=revoked'),
          page.click(`tr[data-grant="${firstGrant}"] button[name=revoke]`),
        ])
        expect(await page.textContent('#message')).toBe('Grant revoked.')
        expect(await grantIds(page)).not.toContain(firstGrant)
        expect((await refresh(grants[0]!)).status).toBe(400)
        expect((await refresh(grants[1]!)).status).toBe(200)

        // Delete the client of the third grant: the client and its grant go.
        const doomed = grants[2]!.client.client_id
        await Promise.all([
          page.waitForURL((u) => u.search === '?result=deleted'),
          page.click(`tr[data-client="${doomed}"] button[name=delete]`),
        ])
        expect(await page.$(`tr[data-client="${doomed}"]`)).toBeNull()
        expect(await grantIds(page)).toHaveLength(1)
        expect((await refresh(grants[2]!)).status).toBe(401)

        const kid = admin.keys.current().kid
        await Promise.all([
          page.waitForURL((u) => u.search === '?result=rotated'),
          page.click('#rotate'),
        ])
        expect(await page.$$('#keys tbody tr')).toHaveLength(2)
        await admin.keys.refresh()
        expect(admin.keys.current().kid).not.toBe(kid)

        const actions = audit.filter((e) => e.event === 'admin_action')
        expect(actions.map((e) => [e.action, e.outcome, e.actor])).toEqual([
          ['admin.sign_in', 'failure', undefined],
          ['admin.sign_in', 'success', 'admin-page'],
          ['grant.revoke', 'success', 'admin-page'],
          ['client.delete', 'success', 'admin-page'],
          ['keys.rotate', 'success', 'admin-page'],
        ])
        expect(actions[2]).toMatchObject({ grantId: firstGrant, ip: '127.0.0.1' })
        expect(actions[3]).toMatchObject({ clientId: doomed })
        // The page shows them too (newest first).
        expect(await page.textContent('#audit tbody tr:first-child')).toContain('keys.rotate')
        expect(JSON.stringify(audit)).not.toContain(OPERATOR_TOKEN)

        // A page of another origin posts an action: refused, nothing changes.
        const evil = await context.newPage()
        await evil.goto(attackerBase)
        const refused = evil.waitForResponse((r) => r.url() === `${base}/admin`)
        await evil.click('#go')
        expect((await refused).status()).toBe(403)
        await page.goto(`${base}/admin`)
        expect(await grantIds(page)).toEqual([victimGrant])

        // …or frames it: Chromium does not render the page in the frame.
        await evil.goto(`${attackerBase}/frame`)
        const frame = await (await evil.$('#victim'))?.contentFrame()
        await frame?.waitForLoadState()
        expect(await frame?.$('#grants')).toBeNull()
        expect(await frame?.$('#sign-in')).toBeNull()

        // Sign out: the next visit asks for the token again.
        await Promise.all([page.waitForSelector('#sign-in'), page.click('#sign-out')])
        await page.goto(`${base}/admin`)
        expect(await page.$('#grants')).toBeNull()
        expect(await page.$('#sign-in')).not.toBeNull()
        await context.close()
      },
      TEST_TIMEOUT,
    )
  },
)

/** The grant id of a token pair, as Gatehouse's own verifier reads it from the access token. */
async function grantOf(t: TestGatehouse, entry: { tokens: Tokens }): Promise<string> {
  const access = await t.gh.verifier.verifyToken(entry.tokens.access_token)
  if (access?.grantId === undefined) throw new Error('no grant id')
  return access.grantId
}
