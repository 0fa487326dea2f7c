/**
 * SEP-990 (enterprise-managed authorization) with the MCP SDK 2.x client's own
 * `CrossAppAccessProvider`, over HTTP on 127.0.0.1, no browser step: from the first 401 the SDK
 * discovers the protected-resource and authorization-server metadata, its assertion callback
 * trades the employee's ID token for an ID-JAG at a loopback enterprise IdP with the SDK's
 * `discoverAndRequestJwtAuthGrant` (RFC 8693 token exchange, draft -04 §4.3), the SDK presents the
 * ID-JAG at Gatehouse's /token (RFC 7523 jwt-bearer, draft -04 §4.4) and calls a tool on an MCP
 * server behind `createMCPHandler`. A second server requires DPoP with server nonces (one per origin): the same provider with the SDK's `DpopSession` gets a `cnf.jkt`-bound token and
 * calls the tool with DPoP proofs (SEP-1932).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  Client,
  CrossAppAccessProvider,
  discoverAndRequestJwtAuthGrant,
  DpopSession,
  StreamableHTTPClientTransport,
  type CrossAppAccessContext,
} from '@modelcontextprotocol/client'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { authOf, createMCPHandler } from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import type { ConfigInput } from '../../src/config/schema.js'
import { startEnterpriseIdP, type EnterpriseIdP } from '../helpers/enterprise-idp.js'

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const AGENT_SECRET = 'agent-secret-at-gatehouse-long-enough!!'
const IDP_SECRET = 'agent-secret-at-the-enterprise-idp'

interface Site {
  base: string
  gh: Gatehouse
  server: Server
  /** The requests Gatehouse's /token received: their DPoP header, and the token_type answered. */
  tokenRequests: {
    dpop: boolean
    grantType: string | null
    resource: string | null
    scope: string | null
    basicAuth: boolean
    status: number
  }[]
  /** Authorization schemes the MCP endpoint saw. */
  schemes: string[]
  /** How many of its answers were a `use_dpop_nonce` challenge (RFC 9449 §9). */
  nonceChallenges: number
}

/** Gatehouse + an MCP server with a `whoami` tool on one loopback port. */
async function startSite(
  idp: () => EnterpriseIdP,
  extra: (base: string) => Partial<ConfigInput>,
): Promise<Site> {
  let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
  const server = createServer((req, res) => {
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const gh = await createGatehouse({
    config: {
      issuer: base,
      secret: 's'.repeat(32),
      resources: [{ url: `${base}/mcp`, scopes: ['notes:read', 'notes:write'] }],
      clients: [
        {
          clientId: 'agent',
          clientSecret: AGENT_SECRET,
          grantTypes: [JWT_BEARER],
          assertionScopes: ['notes:read', 'notes:write'],
        },
      ],
      identityAssertion: {
        trustedIssuers: [{ issuer: idp().issuer, discoveryUrl: idp().issuer }],
      },
      ...extra(base),
    },
    store: createMemoryStore(),
  })
  const site: Site = { base, gh, server, tokenRequests: [], schemes: [], nonceChallenges: 0 }
  const mcp = createMCPHandler(gh, {
    mode: 'stateless',
    enableJsonResponse: true,
    createServer: () => {
      const s = new McpServer({ name: 'notes', version: '1.0.0' })
      s.registerTool('whoami', { description: 'who is calling' }, (extraInfo) => {
        const auth = authOf(extraInfo)
        return {
          content: [
            {
              type: 'text',
              text: JSON.stringify({
                subject: auth.extra.subject,
                issuer: auth.extra.issuer,
                client: auth.clientId,
                scopes: auth.scopes,
                jkt: (auth.extra.claims.cnf as { jkt?: string } | undefined)?.jkt ?? null,
              }),
            },
          ],
        }
      })
      return s
    },
  })
  handler = toNodeHandler(async (request) => {
    const path = new URL(request.url).pathname
    if (path === '/mcp') {
      const scheme = request.headers.get('authorization')?.split(' ')[0]
      if (scheme !== undefined) site.schemes.push(scheme)
      const response = await mcp(request)
      if (response.headers.get('www-authenticate')?.includes('use_dpop_nonce')) {
        site.nonceChallenges++
      }
      return response
    }
    if (path === '/token') {
      const form = new URLSearchParams(await request.clone().text())
      const response = await gh.fetch(request)
      site.tokenRequests.push({
        dpop: request.headers.has('dpop'),
        grantType: form.get('grant_type'),
        resource: form.get('resource'),
        scope: form.get('scope'),
        basicAuth: request.headers.get('authorization')?.startsWith('Basic ') === true,
        status: response.status,
      })
      return response
    }
    return gh.fetch(request)
  })
  return site
}

async function stopSite(site: Site | undefined): Promise<void> {
  if (!site) return
  await new Promise((resolve) => site.server.close(resolve))
  await site.gh.close()
}

/** The assertion callback every application would write: SSO ID token -> ID-JAG at the IdP. */
function assertionFrom(idp: EnterpriseIdP, seen: CrossAppAccessContext[]) {
  return async (ctx: CrossAppAccessContext) => {
    seen.push(ctx)
    const result = await discoverAndRequestJwtAuthGrant({
      idpUrl: idp.issuer,
      audience: ctx.authorizationServerUrl,
      resource: ctx.resourceUrl,
      idToken: await idp.idToken('employee-7', 'agent-at-idp'),
      clientId: 'agent-at-idp',
      clientSecret: IDP_SECRET,
      ...(ctx.scope !== undefined ? { scope: ctx.scope } : {}),
      fetchFn: ctx.fetchFn,
    })
    return result.jwtAuthGrant
  }
}

/** `CrossAppAccessProvider` plus the SDK's DPoP hook (SEP-1932): one key for its registration. */
class DPoPCrossAppAccessProvider extends CrossAppAccessProvider {
  readonly session: DpopSession
  constructor(
    options: ConstructorParameters<typeof CrossAppAccessProvider>[0] & { expectedIssuer: string },
    session: DpopSession,
  ) {
    super(options)
    this.session = session
  }
  dpop(): DpopSession {
    return this.session
  }
}

async function whoami(client: Client): Promise<Record<string, unknown>> {
  const result = await client.callTool({ name: 'whoami', arguments: {} })
  const text = (result.content as { text: string }[])[0]?.text ?? ''
  return JSON.parse(text) as Record<string, unknown>
}

describe('CrossAppAccessProvider (MCP SDK 2.x) against the ID-JAG grant', () => {
  let idp: EnterpriseIdP
  let bearer: Site | undefined
  let dpop: Site | undefined

  beforeAll(async () => {
    // The IdP's ID-JAG audience/resource defaults are unused: the token exchange names them.
    idp = await startEnterpriseIdP({ audience: 'unused', resource: 'unused', clientId: 'agent' })
    idp.addClient('agent-at-idp', IDP_SECRET)
    bearer = await startSite(
      () => idp,
      () => ({}),
    )
    dpop = await startSite(
      () => idp,
      (base) => ({
        resources: [
          {
            url: `${base}/mcp`,
            scopes: ['notes:read', 'notes:write'],
            dpop: { required: true, nonce: true },
          },
        ],
        dpop: { nonce: { enabled: true } },
      }),
    )
  })
  afterAll(async () => {
    await stopSite(bearer)
    await stopSite(dpop)
    await idp.close()
  })

  it('trades an ID-JAG from the IdP for a Gatehouse token at the first 401 and calls a tool as the employee', async () => {
    const site = bearer as Site
    const seen: CrossAppAccessContext[] = []
    const provider = new CrossAppAccessProvider({
      assertion: assertionFrom(idp, seen),
      clientId: 'agent',
      clientSecret: AGENT_SECRET,
      expectedIssuer: site.base,
    })
    const client = new Client({ name: 'agent', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${site.base}/mcp`), { authProvider: provider }),
    )

    // The SDK found Gatehouse through RFC 9728 and RFC 8414 and told the callback so.
    expect(seen).toHaveLength(1)
    expect(seen[0]?.authorizationServerUrl).toBe(site.base)
    expect(seen[0]?.resourceUrl).toBe(`${site.base}/mcp`)
    // It asks for every scope the protected-resource metadata lists (SEP-835).
    expect(seen[0]?.scope).toBe('notes:read notes:write')
    // What reached the IdP (draft -04 §4.3): an ID token for an ID-JAG, audience = Gatehouse's
    // issuer, resource = the MCP endpoint; the SDK authenticates with client_secret_post.
    expect(idp.exchanges).toHaveLength(1)
    expect(idp.exchanges[0]).toMatchObject({
      clientAuth: 'client_secret_post',
      params: {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        requested_token_type: 'urn:ietf:params:oauth:token-type:id-jag',
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
        audience: site.base,
        resource: `${site.base}/mcp`,
        client_id: 'agent-at-idp',
        scope: 'notes:read notes:write',
      },
    })
    // One token request at Gatehouse (draft -04 §4.4): the jwt-bearer grant with client_secret_basic,
    // plus RFC 8707 `resource` and the same `scope` (RFC 7521 §4.1: at most what the ID-JAG grants).
    expect(site.tokenRequests).toEqual([
      {
        dpop: false,
        grantType: JWT_BEARER,
        resource: `${site.base}/mcp`,
        scope: 'notes:read notes:write',
        basicAuth: true,
        status: 200,
      },
    ])
    const tokens = provider.tokens()
    expect(tokens?.token_type).toBe('Bearer')
    expect(tokens?.refresh_token).toBeUndefined()
    const claims = decodeJwt(tokens?.access_token ?? '')
    expect(claims.aud).toBe(`${site.base}/mcp`)
    expect(claims.idp).toBe(idp.issuer)

    expect(await whoami(client)).toEqual({
      subject: 'employee-7',
      issuer: idp.issuer,
      client: 'agent',
      scopes: ['notes:read', 'notes:write'],
      jkt: null,
    })
    expect(site.schemes.every((s) => s === 'Bearer')).toBe(true)
    await client.close()
  })

  it('with the SDK DpopSession: a DPoP-bound token through the nonce challenge, then the tool with DPoP proofs', async () => {
    const site = dpop as Site
    const session = await DpopSession.create()
    const provider = new DPoPCrossAppAccessProvider(
      {
        assertion: assertionFrom(idp, []),
        clientId: 'agent',
        clientSecret: AGENT_SECRET,
        expectedIssuer: site.base,
      },
      session,
    )
    const client = new Client({ name: 'agent', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${site.base}/mcp`), { authProvider: provider }),
    )

    // /token asked for a nonce first (use_dpop_nonce), the SDK retried once with it.
    expect(site.tokenRequests.map((r) => [r.dpop, r.grantType, r.status])).toEqual([
      [true, JWT_BEARER, 400],
      [true, JWT_BEARER, 200],
    ])
    const tokens = provider.tokens()
    expect(tokens?.token_type).toBe('DPoP')
    const claims = decodeJwt(tokens?.access_token ?? '')
    expect(claims.cnf).toEqual({ jkt: session.thumbprint })

    const me = await whoami(client)
    expect(me).toMatchObject({ subject: 'employee-7', client: 'agent', jkt: session.thumbprint })
    // The resource requires a nonce too, but the SDK keeps one per origin (RFC 9449 §8.2) and
    // Gatehouse's nonces hold on the whole origin: no second challenge. Every authorized request
    // used the DPoP scheme, never Bearer.
    expect(site.nonceChallenges).toBe(0)
    expect(site.schemes.length).toBeGreaterThan(0)
    expect(site.schemes.every((s) => s === 'DPoP')).toBe(true)
    await client.close()
  })

  it('an IdP that grants fewer scopes than the SDK then asks Gatehouse for: invalid_scope (RFC 7521 §4.1)', async () => {
    const site = bearer as Site
    // The IdP's policy grants notes:read only; the SDK still asks Gatehouse for every scope the
    // resource lists, which is more than the ID-JAG grants.
    const provider = new CrossAppAccessProvider({
      assertion: async (ctx) =>
        (
          await discoverAndRequestJwtAuthGrant({
            idpUrl: idp.issuer,
            audience: ctx.authorizationServerUrl,
            resource: ctx.resourceUrl,
            idToken: await idp.idToken('employee-7', 'agent-at-idp'),
            clientId: 'agent-at-idp',
            clientSecret: IDP_SECRET,
            scope: 'notes:read',
            fetchFn: ctx.fetchFn,
          })
        ).jwtAuthGrant,
      clientId: 'agent',
      clientSecret: AGENT_SECRET,
      expectedIssuer: site.base,
    })
    const before = site.tokenRequests.length
    const client = new Client({ name: 'agent', version: '1.0.0' })
    await expect(
      client.connect(
        new StreamableHTTPClientTransport(new URL(`${site.base}/mcp`), { authProvider: provider }),
      ),
    ).rejects.toMatchObject({ code: 'invalid_scope' })
    expect(site.tokenRequests.slice(before).map((r) => [r.scope, r.status])).toEqual([
      ['notes:read notes:write', 400],
    ])
    expect(provider.tokens()).toBeUndefined()
  })

  it('the DPoP-bound token presented as a bearer token is refused at the resource', async () => {
    const site = dpop as Site
    const session = await DpopSession.create()
    const provider = new DPoPCrossAppAccessProvider(
      {
        assertion: assertionFrom(idp, []),
        clientId: 'agent',
        clientSecret: AGENT_SECRET,
        expectedIssuer: site.base,
      },
      session,
    )
    const client = new Client({ name: 'agent', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${site.base}/mcp`), { authProvider: provider }),
    )
    const token = provider.tokens()?.access_token ?? ''
    await client.close()
    const res = await fetch(`${site.base}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP |, ?DPoP /i)
  })
})
