/**
 * The audit events a happy flow does not reach: consent denied, the IdP's refusal at the callback,
 * a key rotation and a refused Client ID Metadata Document. Real dev IdP, real node transport.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeTransport } from '../../src/adapters/node-transport.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import type { AuditEvent } from '../../src/audit-event.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { hiddenInput, UserAgent } from '../helpers/user-agent.js'

const GH = 'http://127.0.0.1:7783'
const REDIRECT = 'http://127.0.0.1:5555/cb'

describe('audit events of refusals and operations', () => {
  let idp: DevIdP
  let gh: Gatehouse
  let events: AuditEvent[]
  let broken: Server

  beforeAll(async () => {
    idp = await startDevIdentityProvider({
      users: [{ username: 'bob', password: 'builder-pass', sub: 'bob-sub' }],
      clients: [
        {
          clientId: 'gatehouse',
          clientSecret: 'upstream-secret-value',
          redirectUris: [`${GH}/auth/callback`],
        },
      ],
    })
    // A metadata-document host that answers 500.
    broken = createServer((_req, res) => {
      res.statusCode = 500
      res.end('no')
    })
    await new Promise<void>((done) => broken.listen(0, '127.0.0.1', done))
    events = []
    gh = await createGatehouse({
      config: {
        issuer: GH,
        secret: 'a'.repeat(32),
        resources: [{ url: `${GH}/mcp`, scopes: ['mcp:read'] }],
        upstream: {
          kind: 'oidc',
          configUrl: `${idp.issuer}/.well-known/openid-configuration`,
          clientId: 'gatehouse',
          clientSecret: 'upstream-secret-value',
        },
        clientIdMetadataDocuments: { enabled: true, dangerouslyAllowLoopback: true },
        audit: { sink: 'none' },
      },
      store: createMemoryStore(),
      transport: createNodeTransport(),
      audit: (e) => events.push(e),
    })
  })

  afterAll(async () => {
    await gh.close()
    await idp.close()
    await new Promise<void>((done) => {
      broken.close(() => {
        done()
      })
    })
  })

  async function toConsent(
    ua: UserAgent,
  ): Promise<{ clientId: string; txn: string; csrf: string }> {
    const reg = await gh.fetch(
      new Request(`${GH}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
      }),
    )
    const { client_id: clientId } = (await reg.json()) as { client_id: string }
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      state: 's1',
      code_challenge: createHash('sha256').update(randomBytes(32)).digest('base64url'),
      code_challenge_method: 'S256',
      resource: `${GH}/mcp`,
    })
    const page = await ua.follow(`${GH}/authorize?${q}`)
    const html = await page.response!.text()
    return { clientId, txn: hiddenInput(html, 'txn'), csrf: hiddenInput(html, 'csrf') }
  }

  const consent = (ua: UserAgent, txn: string, csrf: string, action: string) =>
    ua.request(`${GH}/consent`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'same-origin',
      },
      body: new URLSearchParams({ txn, csrf, action }).toString(),
    })

  it('records a denied consent', async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const { clientId, txn, csrf } = await toConsent(ua)
    events.length = 0
    expect((await consent(ua, txn, csrf, 'deny')).status).toBe(303)
    expect(events).toMatchObject([{ event: 'consent_denied', outcome: 'denied', clientId }])
  })

  it("records the IdP's refusal at the callback as a denied sign-in", async () => {
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const { clientId, txn, csrf } = await toConsent(ua)
    expect((await consent(ua, txn, csrf, 'approve')).status).toBe(303)
    events.length = 0
    const q = new URLSearchParams({ state: txn, error: 'access_denied', iss: idp.issuer })
    const back = await ua.request(`${GH}/auth/callback?${q}`)
    expect(back.status).toBe(302)
    expect(events).toMatchObject([
      { event: 'sign_in', outcome: 'denied', clientId, reason: 'upstream_access_denied' },
    ])
    expect(events[0]!.subject).toBeUndefined()
  })

  it("names an IdP error by its code only when it is a defined one: the browser carries it, so no caller's words reach the log", async () => {
    for (const [error, reason] of [
      ['server_error', 'upstream_server_error'],
      ['refresh_token_reuse_grant_revoked\nadmin', 'upstream_error'],
      ['x'.repeat(500), 'upstream_error'],
    ] as const) {
      const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
      const { clientId, txn, csrf } = await toConsent(ua)
      expect((await consent(ua, txn, csrf, 'approve')).status).toBe(303)
      events.length = 0
      const q = new URLSearchParams({ state: txn, error, iss: idp.issuer })
      const back = await ua.request(`${GH}/auth/callback?${q}`)
      expect(back.status).toBe(302)
      expect(events).toMatchObject([{ event: 'sign_in', outcome: 'failure', clientId, reason }])
    }
  })

  it('records a key rotation with the new key id', async () => {
    events.length = 0
    await gh.keys.rotate()
    const published = gh.keys.jwks().keys.map((k) => k.kid)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ event: 'key_rotated', outcome: 'success' })
    expect(published).toContain(events[0]!.kid)
  })

  it('records a metadata document that cannot be used', async () => {
    events.length = 0
    const clientId = `http://127.0.0.1:${(broken.address() as AddressInfo).port}/client.json`
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    })
    const res = await gh.fetch(new Request(`${GH}/authorize?${q}`))
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(events).toMatchObject([
      { event: 'cimd_fetch_refused', outcome: 'failure', clientId, reason: 'cimd_status' },
    ])
  })
})
