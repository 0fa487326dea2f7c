/**
 * `credential: { kind: azure-obo }` on a `gatehouse serve` route: users sign in at the local Entra
 * stand-in (Gatehouse's upstream `kind: azure`), and the MCP server behind the route receives,
 * instead of anything of the client's, a token Entra issued by On-Behalf-Of for the configured
 * scopes. The stand-in records what the gateway sent; the token works at its Graph `/v1.0/me`.
 * A user for whom Entra refuses On-Behalf-Of (MFA demanded) gets a 502 and an audit event; a
 * machine client (client credentials: no Entra sign-in) gets 403 -32003, and Entra is not asked.
 */
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import {
  startAzureStandIn,
  type AzureStandIn,
  type StandInApp,
} from '../../src/dev/azure-stand-in/index.js'
import { decodeJwt } from 'jose'
import type { Grants } from '../../src/grants/grant-store.js'
import { storageKey } from '../../src/storage/keys.js'
import type { Store } from '../../src/storage/store.js'
import { clientCredentialsToken, connectAs, post, startRecorder } from '../helpers/gateway.js'

const TENANT = 'aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa'
const APP = '11111111-aaaa-4aaa-8aaa-111111111111'
const SECRET = 'gateway-obo-entra-secret'
const GRAPH_USER_READ = 'https://graph.microsoft.com/User.Read'
const ADELE = { username: 'adele@contoso.example', password: 'adele-pw' }
const MFA = { username: 'mfa@contoso.example', password: 'mfa-pw' }
const REPORTER_SECRET = 'reporter-secret-that-is-long-enough!!'

let entra: AzureStandIn
let recorder: Awaited<ReturnType<typeof startRecorder>>
let serve: RunningServe
let auditFile: string
const app: StandInApp = {
  clientId: APP,
  clientSecret: SECRET,
  tenantId: TENANT,
  scopes: ['tools.read'],
  redirectUris: [],
}

beforeAll(async () => {
  auditFile = join(await mkdtemp(join(tmpdir(), 'gh-gw-obo-')), 'audit.jsonl')
  entra = await startAzureStandIn({
    tenants: [{ id: TENANT, domain: 'contoso.onmicrosoft.com' }],
    apps: [app],
    users: [
      {
        username: ADELE.username,
        password: ADELE.password,
        tenantId: TENANT,
        name: 'Adele Vance',
        email: 'adele@contoso.example',
      },
      { username: MFA.username, password: MFA.password, tenantId: TENANT, requireMfaForObo: true },
    ],
  })
  recorder = await startRecorder()
  serve = await startServe({
    port: 0,
    store: 'memory',
    config: {
      audit: { sink: 'file', file: auditFile },
      // A machine client: its tokens come with no sign-in at Entra behind them.
      clientCredentials: { enabled: true },
      clients: [
        {
          clientId: 'reporter',
          clientSecret: REPORTER_SECRET,
          grantTypes: ['client_credentials'],
          clientCredentialsScopes: ['tools.read'],
        },
      ],
      upstream: {
        kind: 'azure',
        tenantId: TENANT,
        clientId: APP,
        clientSecret: SECRET,
        authority: entra.url,
        requiredScopes: ['tools.read'],
        additionalAuthorizeScopes: ['User.Read'],
      },
      gateway: {
        routes: [
          {
            path: '/graph',
            scopes: ['tools.read'],
            requiredScopes: ['tools.read'],
            upstream: {
              kind: 'http',
              url: recorder.url,
              credential: { kind: 'azure-obo', scopes: [GRAPH_USER_READ] },
            },
          },
        ],
      },
    },
  })
  // The app registration's redirect URI: Gatehouse's callback, known once it listens.
  app.redirectUris.push(`${serve.issuer}/auth/callback`)
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (recorder as typeof recorder | undefined)?.stop()
  await (entra as AzureStandIn | undefined)?.close()
})

describe('azure-obo route credential', () => {
  it("sends the upstream Entra's On-Behalf-Of token for the configured scopes, cached per user", async () => {
    const { client, provider } = await connectAs(serve.routes['/graph']!, ADELE)
    try {
      await client.callTool({ name: 'noop', arguments: {} })
      await client.callTool({ name: 'noop', arguments: {} })
      const sent = recorder.seen.map((h) => h.authorization ?? '')
      expect(sent.length).toBeGreaterThanOrEqual(3)
      // One exchange (at initialize), then the cached token (nothing per request).
      expect(new Set(sent).size).toBe(1)
      const oboToken = sent[0]!.replace(/^Bearer /, '')
      expect(oboToken).not.toBe(provider.saved!.access_token)

      // What the gateway sent Entra: the jwt-bearer OBO grant, its own app, the route's scopes,
      // the user's Entra token as the assertion.
      const obo = entra.requestsTo('token').filter((r) => r.params.requested_token_use)
      expect(obo).toHaveLength(1)
      expect(obo[0]!.params).toMatchObject({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        requested_token_use: 'on_behalf_of',
        client_id: APP,
        scope: GRAPH_USER_READ,
      })
      expect(obo[0]!.params.assertion!.split('.')).toHaveLength(3)
      expect(obo[0]!.params.assertion).not.toBe(provider.saved!.access_token)

      // The token is Graph's for this user.
      const me = await fetch(`${entra.url}/v1.0/me`, {
        headers: { authorization: `Bearer ${oboToken}` },
      })
      expect(me.status).toBe(200)
      expect(((await me.json()) as { displayName?: string }).displayName).toBe('Adele Vance')
    } finally {
      await client.close()
    }
  }, 60_000)

  it('answers 502 (no Entra text) and audits when Entra refuses On-Behalf-Of for the user', async () => {
    const failed = await connectAs(serve.routes['/graph']!, MFA).then(
      () => new Error('expected the initialize to fail'),
      (error: unknown) => error,
    )
    expect(String(failed)).toMatch(/unavailable/)
    expect(String(failed)).not.toMatch(/AADSTS|multi-factor/)
    const lines = (await readFile(auditFile, 'utf8')).split('\n').filter((l) => l !== '')
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(events.filter((e) => e.event === 'gateway_credential_failed')).toEqual([
      expect.objectContaining({
        outcome: 'failure',
        route: '/graph',
        reason: 'obo_refused',
      }),
    ])
  }, 60_000)

  it('answers 502, not 401, while another request holds the refresh of the Entra token (a slow IdP)', async () => {
    const { provider, transport } = await connectAs(serve.routes['/graph']!, ADELE)
    const token = provider.saved!.access_token
    const base = serve.gatehouse.base as unknown as { grants: Grants; options: { store: Store } }
    const { gid } = decodeJwt(token) as { gid: string }
    const grant = (await base.grants.get(gid))!
    // The Entra token is due, and another request (another instance) is refreshing it and holds
    // the lock past the wait: the sign-in has not ended, so no new sign-in is asked for.
    await base.grants.update(gid, {
      ...grant,
      upstream: { ...(grant.upstream as object), expiresAt: Math.floor(Date.now() / 1000) + 5 },
    })
    const lock = storageKey.upstreamRefreshLock(gid)
    expect(await base.options.store.acquireLock(lock, 'another', { ttlSeconds: 60 })).toBe(true)
    try {
      const res = await post(
        serve.routes['/graph']!,
        token,
        { jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} },
        { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' },
      )
      expect(res.status).toBe(502)
      expect(res.headers.get('www-authenticate')).toBeNull()
      expect(await res.json()).toMatchObject({ id: 7, error: { code: -32603 } })
    } finally {
      await base.options.store.releaseLock(lock, 'another')
    }
  }, 60_000)

  it('answers a machine client 403 -32003 (not 401), audits no_upstream_tokens, and asks Entra nothing', async () => {
    const url = serve.routes['/graph']!
    const { token, scope } = await clientCredentialsToken(
      serve.issuer,
      { id: 'reporter', secret: REPORTER_SECRET },
      url,
    )
    // It passes the route's scope check: the refusal is the credential's.
    expect(scope).toBe('tools.read')
    const toEntra = entra.requests.length
    const seen = recorder.seen.length
    const oboIssued = entra.issued.on_behalf_of
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 5,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'machine', version: '1' },
        },
      }),
    })
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toBeNull()
    const text = await res.text()
    expect(text).not.toContain(token)
    const body = JSON.parse(text) as { id: unknown; error: { code: number; message: string } }
    expect(body.error.code).toBe(-32003)
    expect(body.error.message).toContain('signed in at the identity provider')
    expect(body.id).toBe(5)
    // No On-Behalf-Of request (nor any other) reached Entra, and nothing reached the upstream.
    expect(entra.requests.length).toBe(toEntra)
    expect(entra.issued.on_behalf_of).toBe(oboIssued)
    expect(recorder.seen.length).toBe(seen)

    let failed: Record<string, unknown>[] = []
    for (let i = 0; i < 50 && failed.length === 0; i++) {
      if (i > 0) await new Promise((done) => setTimeout(done, 100))
      const lines = (await readFile(auditFile, 'utf8')).split('\n').filter((l) => l !== '')
      failed = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e.event === 'gateway_credential_failed' && e.clientId === 'reporter')
    }
    expect(failed).toEqual([
      expect.objectContaining({
        outcome: 'failure',
        route: '/graph',
        reason: 'no_upstream_tokens',
      }),
    ])
    expect(failed[0]!.subject).toBeUndefined()
    expect(JSON.stringify(failed)).not.toContain(token)
  }, 60_000)
})
