/**
 * The MCP glue with the real SDK client and server over HTTP on 127.0.0.1: `createMCPHandler` in
 * both modes, `authInfo` in tool handlers, session binding (RS-12, RS-13, RS-14, RS-19), per-tool
 * scopes as an HTTP 403 step-up challenge, role checks, upstream tokens and the shared validator.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import type { UserIdentity } from '../../src/oauth/gatehouse-provider.js'
import { principalKey } from '../../src/jwt/access-token.js'
import { createGuard } from '../../src/resource/guard.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import {
  accessTokenOf,
  authOf,
  createMCPHandler,
  createSharedValidator,
  getUpstreamToken,
  MCPAuthError,
  principalFromExtra,
  requireToolRoles,
  requireToolScopes,
  toAuthInfo,
  type MCPHandler,
  type MCPServerContext,
} from '../../src/mcp/index.js'

const ACCEPT = 'application/json, text/event-stream'
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'raw', version: '1' },
  },
}
const call = (name: string, id = 2) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: {} },
})

const validators = new Set<unknown>()

/** The server every handler serves: tools that report and check the caller. */
function demoServer({ jsonSchemaValidator }: MCPServerContext): McpServer {
  validators.add(jsonSchemaValidator)
  const server = new McpServer({ name: 'glue', version: '1.0.0' }, { jsonSchemaValidator })
  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] })
  server.registerTool('whoami', { description: 'who is calling' }, (extra) => {
    const auth = authOf(extra)
    return text(
      JSON.stringify({
        principal: principalFromExtra(extra),
        subject: auth.extra.subject,
        scopes: auth.scopes,
        resource: auth.resource?.href,
        expiresAt: auth.expiresAt,
        grantId: auth.extra.grantId,
        roles: auth.extra.roles,
        sameToken: accessTokenOf(extra).token === auth.token,
      }),
    )
  })
  server.registerTool('read_note', {}, () => text('a note'))
  server.registerTool('write_note', {}, () => text('written'))
  server.registerTool('write_fallback', {}, (extra) => {
    requireToolScopes(extra, ['mcp:write'])
    return text('written')
  })
  server.registerTool('admin_only', {}, (extra) => {
    requireToolRoles(extra, ['admin'])
    return text('admin ok')
  })
  server.registerTool('upstream', {}, async (extra) => text(await getUpstreamToken(extra)))
  return server
}

describe('MCP glue', () => {
  let server: Server
  let base: string
  let resource: string
  let gh: Gatehouse
  let nextUser: UserIdentity = { subject: 'alice' }
  let clock = Date.now()
  const handlers: MCPHandler[] = []
  let stateful: MCPHandler
  let small: MCPHandler
  let statefulSse: MCPHandler
  const tokens: Record<string, { token: string; clientId: string }> = {}

  /** register + authorize + token, in process. */
  async function mint(user: UserIdentity, scope?: string, clientId?: string) {
    nextUser = user
    const redirectUri = 'http://127.0.0.1/cb'
    let id = clientId
    if (id === undefined) {
      const reg = await gh.fetch(
        new Request(`${base}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            redirect_uris: [redirectUri],
            token_endpoint_auth_method: 'none',
            grant_types: ['authorization_code'],
            response_types: ['code'],
          }),
        }),
      )
      id = ((await reg.json()) as { client_id: string }).client_id
    }
    const verifier = randomBytes(32).toString('base64url')
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: id,
      redirect_uri: redirectUri,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: 's',
      resource,
      ...(scope ? { scope } : {}),
    })
    const authz = await gh.fetch(new Request(`${base}/authorize?${q.toString()}`))
    const code = new URL(authz.headers.get('location') ?? '').searchParams.get('code') ?? ''
    const res = await gh.fetch(
      new Request(`${base}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          redirect_uri: redirectUri,
          client_id: id,
          resource,
        }),
      }),
    )
    expect(res.status).toBe(200)
    return { token: ((await res.json()) as { access_token: string }).access_token, clientId: id }
  }

  function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    return fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
      body: JSON.stringify(body),
    })
  }
  const bearer = (who: string) => ({ authorization: `Bearer ${tokens[who]!.token}` })

  async function initialize(path: string, who: string): Promise<string> {
    const res = await post(path, INITIALIZE, bearer(who))
    expect(res.status).toBe(200)
    await res.body?.cancel()
    return res.headers.get('mcp-session-id') ?? ''
  }

  async function connect(path: string, who: string) {
    const client = new Client({ name: 'glue-test', version: '1.0.0' })
    const transport = new StreamableHTTPClientTransport(new URL(`${base}${path}`), {
      requestInit: { headers: bearer(who) },
    })
    await client.connect(transport)
    return { client, transport }
  }

  const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0]!.text

  beforeAll(async () => {
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    resource = `${base}/mcp`
    gh = await createGatehouse({
      config: {
        issuer: base,
        secret: 's'.repeat(32),
        resources: [{ url: resource, scopes: ['mcp:read', 'mcp:write'] }],
      },
      store: createMemoryStore(),
      authenticate: () => Promise.resolve(nextUser),
      // The glue is under test, not sign-in: the code comes straight from /authorize.
      dangerouslySkipConsent: true,
      onWarning: () => undefined,
    })
    const toolScopes = { write_note: ['mcp:write'] }
    const fakeProxy = Object.create(OAuthProxy.prototype) as OAuthProxy
    fakeProxy.getUpstreamToken = (token) => Promise.resolve(`idp-token-for-${token.grantId ?? ''}`)
    stateful = createMCPHandler(gh, {
      mode: 'stateful',
      enableJsonResponse: true,
      toolScopes,
      createServer: demoServer,
    })
    statefulSse = createMCPHandler(gh, { mode: 'stateful', createServer: demoServer })
    small = createMCPHandler(gh, {
      mode: 'stateful',
      enableJsonResponse: true,
      sessionIdleSeconds: 60,
      maxSessions: 3,
      maxSessionsPerPrincipal: 2,
      now: () => clock,
      createServer: demoServer,
    })
    const routes: Record<string, MCPHandler> = {
      '/mcp': createMCPHandler(gh, {
        mode: 'stateless',
        enableJsonResponse: true,
        toolScopes,
        createServer: demoServer,
      }),
      '/sse': createMCPHandler(gh, { mode: 'stateless', createServer: demoServer }),
      '/granted': createMCPHandler(gh, {
        mode: 'stateless',
        enableJsonResponse: true,
        toolScopes,
        challengeIncludesGrantedScopes: true,
        createServer: demoServer,
      }),
      '/proxied': createMCPHandler(
        { ...gh, base: fakeProxy },
        { mode: 'stateless', enableJsonResponse: true, createServer: demoServer },
      ),
      // A bare Guard whose verifier adds app roles (Gatehouse's own tokens carry none).
      '/guarded': createMCPHandler(
        createGuard({
          resources: gh.config.resources,
          verifier: {
            verifyToken: async (t) => {
              const v = await gh.verifier.verifyToken(t)
              return v?.subject === 'carol' ? { ...v, roles: ['admin'] } : v
            },
          },
        }),
        { mode: 'stateless', enableJsonResponse: true, toolScopes, createServer: demoServer },
      ),
      '/stateful': stateful,
      '/stateful-sse': statefulSse,
      '/small': small,
    }
    handlers.push(...Object.values(routes))
    handler = toNodeHandler((request) => {
      const route = routes[new URL(request.url).pathname]
      return route ? route(request) : gh.fetch(request)
    })
    tokens.alice = await mint({ subject: 'alice' })
    tokens.bob = await mint({ subject: 'bob' })
    tokens.aliceOtherClient = await mint({ subject: 'alice' })
    tokens.reader = await mint({ subject: 'alice' }, 'mcp:read', tokens.alice.clientId)
    tokens.admin = await mint({ subject: 'carol' })
  })
  afterAll(async () => {
    await Promise.all(handlers.map((h) => h.close()))
    await new Promise((resolve) => server.close(resolve))
    await gh.close()
  })

  it('stateless: a tool reads the principal and the token from extra.authInfo', async () => {
    const { client } = await connect('/mcp', 'alice')
    const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })))
    expect(me).toMatchObject({
      principal: { clientId: tokens.alice!.clientId, issuer: base, subject: 'alice' },
      subject: 'alice',
      scopes: ['mcp:read', 'mcp:write'],
      resource,
      roles: [],
      sameToken: true,
    })
    expect(me.expiresAt).toBeGreaterThan(Date.now() / 1000)
    expect(me.grantId).toBeTypeOf('string')
    await client.close()

    // The SSE flavour (the transport's default) and no GET stream on a stateless endpoint.
    const sse = await connect('/sse', 'admin')
    const admin = JSON.parse(textOf(await sse.client.callTool({ name: 'whoami', arguments: {} })))
    expect(admin.subject).toBe('carol')
    await sse.client.close()
    const get = await fetch(`${base}/sse`, { headers: { accept: ACCEPT, ...bearer('alice') } })
    expect(get.status).toBe(405)
    await get.body?.cancel()
  })

  it('RS-12 RS-13 RS-19 stateful: a 256-bit session bound to its principal; no token 401, another principal or unknown id 404', async () => {
    const { client, transport } = await connect('/stateful', 'alice')
    const id = transport.sessionId ?? ''
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/) // 32 random bytes, base64url: visible ASCII
    const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })))
    expect(me.principal.subject).toBe('alice')

    const withSession = (who: string | undefined, body: unknown = call('whoami')) =>
      post('/stateful', body, {
        'mcp-session-id': id,
        'mcp-protocol-version': '2025-06-18',
        ...(who ? bearer(who) : {}),
      })
    // RS-13: another user, or the same user through another client, finds no session.
    for (const who of ['bob', 'aliceOtherClient']) {
      const res = await withSession(who)
      expect(res.status).toBe(404)
      expect((await res.json()).error.code).toBe(-32001)
    }
    const del = await fetch(`${base}/stateful`, {
      method: 'DELETE',
      headers: { 'mcp-session-id': id, ...bearer('bob') },
    })
    expect(del.status).toBe(404)
    // RS-12: the session id alone authenticates nobody.
    const anonymous = await withSession(undefined)
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toContain('resource_metadata=')
    const forged = await post('/stateful', call('whoami'), {
      'mcp-session-id': id,
      authorization: 'Bearer not.a.token',
    })
    expect(forged.status).toBe(401)
    expect(forged.headers.get('www-authenticate')).toContain('error="invalid_token"')
    // The owner's session is untouched by all of that.
    const ok = await withSession('alice')
    expect(ok.status).toBe(200)
    expect(JSON.parse((await ok.json()).result.content[0].text).principal.subject).toBe('alice')

    // RS-19: an unknown session id.
    const unknown = await post('/stateful', call('whoami'), {
      'mcp-session-id': randomBytes(32).toString('base64url'),
      ...bearer('alice'),
    })
    expect(unknown.status).toBe(404)
    // No session id and not an initialize: the SDK's 400.
    const none = await post('/stateful', call('whoami'), bearer('alice'))
    expect(none.status).toBe(400)

    // DELETE ends the session; its next use is a 404.
    await transport.terminateSession()
    expect((await withSession('alice')).status).toBe(404)
    await client.close()
  })

  it('stateful over SSE: the standalone GET stream follows the session; close() ends it', async () => {
    const { client, transport } = await connect('/stateful-sse', 'alice')
    const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })))
    expect(me.subject).toBe('alice')
    const get = await fetch(`${base}/stateful-sse`, {
      headers: {
        accept: 'text/event-stream',
        'mcp-session-id': transport.sessionId!,
        ...bearer('bob'),
      },
    })
    expect(get.status).toBe(404)
    expect(statefulSse.sessionCount).toBe(1)
    await statefulSse.close()
    expect(statefulSse.sessionCount).toBe(0)
    await expect(client.callTool({ name: 'whoami', arguments: {} })).rejects.toThrow()
    await client.close()
  })

  it('RS-08 toolScopes: a write tool answers 403 insufficient_scope to a read-only token', async () => {
    expect(tokens.reader!.token).not.toBe(tokens.alice!.token)
    const write = await post('/mcp', call('write_note'), bearer('reader'))
    expect(write.status).toBe(403)
    const challenge = write.headers.get('www-authenticate') ?? ''
    expect(challenge).toMatch(/^Bearer /)
    expect(challenge).toContain('error="insufficient_scope"')
    expect(challenge).toContain('scope="mcp:write"')
    expect(challenge).toContain(
      `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
    )
    expect((await write.json()).error).toBe('insufficient_scope')
    // Read tools still work with the same token; a batch with one write is refused as a whole.
    const read = await post('/mcp', call('read_note'), bearer('reader'))
    expect(read.status).toBe(200)
    expect((await read.json()).result.content[0].text).toBe('a note')
    const batch = await post(
      '/mcp',
      [call('read_note', 1), call('write_note', 2)],
      bearer('reader'),
    )
    expect(batch.status).toBe(403)
    // A full token passes; an unparsable body is refused before the SDK.
    expect((await post('/mcp', call('write_note'), bearer('alice'))).status).toBe(200)
    const junk = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: ACCEPT, ...bearer('reader') },
      body: '{"method":"tools/call"',
    })
    expect(junk.status).toBe(400)
    // For clients that replace their scopes with the challenge's, the granted ones can be named.
    const granted = await post('/granted', call('write_note'), bearer('reader'))
    expect(granted.headers.get('www-authenticate')).toContain('scope="mcp:write mcp:read"')

    // Through the SDK client on a session: the 403 surfaces, the session keeps working for reads.
    const { client } = await connect('/stateful', 'reader')
    const error = await client
      .callTool({ name: 'write_note', arguments: {} })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StreamableHTTPError)
    expect((error as StreamableHTTPError).code).toBe(403)
    expect(textOf(await client.callTool({ name: 'read_note', arguments: {} }))).toBe('a note')
    await client.close()
  })

  it('tool handlers: requireToolScopes and requireToolRoles give isError results', async () => {
    const { client } = await connect('/guarded', 'reader')
    const scoped = await client.callTool({ name: 'write_fallback', arguments: {} })
    expect(scoped.isError).toBe(true)
    expect(textOf(scoped)).toBe('insufficient_scope: missing scope: mcp:write')
    const denied = await client.callTool({ name: 'admin_only', arguments: {} })
    expect(denied.isError).toBe(true)
    expect(textOf(denied)).toBe('access_denied: missing role: admin')
    // Without an OAuthProxy there is no identity provider token, and the tool says so.
    const upstream = await client.callTool({ name: 'upstream', arguments: {} })
    expect(upstream.isError).toBe(true)
    expect(textOf(upstream)).toContain('no identity provider token')
    await client.close()

    const admin = await connect('/guarded', 'admin')
    expect(textOf(await admin.client.callTool({ name: 'admin_only', arguments: {} }))).toBe(
      'admin ok',
    )
    const me = JSON.parse(textOf(await admin.client.callTool({ name: 'whoami', arguments: {} })))
    expect(me.roles).toEqual(['admin'])
    await admin.client.close()

    // With a bare Guard (no resource list) toolScopes still answers 403, naming the resource's scopes.
    const write = await post('/guarded', call('write_note'), bearer('reader'))
    expect(write.status).toBe(403)
    expect(write.headers.get('www-authenticate')).toContain('error="insufficient_scope"')
  })

  it('getUpstreamToken reaches the OAuthProxy behind the Gatehouse', async () => {
    const { client } = await connect('/proxied', 'alice')
    const me = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })))
    const result = await client.callTool({ name: 'upstream', arguments: {} })
    expect(result.isError).toBeFalsy()
    expect(textOf(result)).toBe(`idp-token-for-${me.grantId as string}`)
    await client.close()
  })

  it('RS-14: 100 session ids are distinct, 256-bit, visible ASCII', async () => {
    const before = stateful.sessionCount
    const ids: string[] = []
    for (let i = 0; i < 4; i++) {
      ids.push(
        ...(await Promise.all(Array.from({ length: 25 }, () => initialize('/stateful', 'bob')))),
      )
    }
    expect(new Set(ids).size).toBe(100)
    for (const id of ids) expect(id).toMatch(/^[\x21-\x7e]{43}$/)
    expect(stateful.sessionCount).toBe(before + 100)
    // One validator for every server the handlers created.
    expect(validators.size).toBe(1)
  })

  it('idle sessions expire; the table is bounded per principal and in all; close() ends all', async () => {
    const a = await initialize('/small', 'alice')
    const use = (id: string, who = 'alice') =>
      post('/small', call('read_note'), { 'mcp-session-id': id, ...bearer(who) })
    expect((await use(a)).status).toBe(200)
    clock += 61_000
    expect((await use(a)).status).toBe(404)
    expect(small.sessionCount).toBe(0)

    // Two sessions per principal: alice's least recently used one goes.
    const b = await initialize('/small', 'alice')
    const c = await initialize('/small', 'alice')
    expect((await use(b)).status).toBe(200) // b is now more recently used than c
    const d = await initialize('/small', 'alice')
    expect(small.sessionCount).toBe(2)
    expect((await use(c)).status).toBe(404)
    expect((await use(d)).status).toBe(200)
    expect((await use(b)).status).toBe(200)
    // Three in all: bob's second session pushes out the least recently used one (d).
    const e = await initialize('/small', 'bob')
    const f = await initialize('/small', 'bob')
    expect(small.sessionCount).toBe(3)
    expect((await use(d)).status).toBe(404)
    expect((await use(b)).status).toBe(200)
    expect((await use(e, 'bob')).status).toBe(200)
    expect((await use(f, 'bob')).status).toBe(200)

    await small.close()
    expect(small.sessionCount).toBe(0)
    expect((await use(b)).status).toBe(404)
  })

  it('the shared validator compiles each distinct schema once and stays bounded', () => {
    let created = 0
    let compiled = 0
    const shared = createSharedValidator(() => {
      created++
      return {
        getValidator: () => {
          compiled++
          return (input: unknown) => ({
            valid: true,
            data: input as never,
            errorMessage: undefined,
          })
        },
      }
    }, 3)
    for (let i = 0; i < 100; i++) shared.getValidator({ type: 'object', required: ['a'] })
    expect([created, compiled]).toEqual([1, 1])
    for (const type of ['string', 'number', 'boolean'] as const) shared.getValidator({ type })
    expect([created, compiled]).toEqual([2, 4])
  })

  it('helpers outside a Gatehouse request throw typed errors; extras cannot override', () => {
    expect(() => authOf({})).toThrow(MCPAuthError)
    expect(() =>
      principalFromExtra({ authInfo: { token: 't', clientId: 'c', scopes: [] } }),
    ).toThrow(expect.objectContaining({ code: 'ERR_MCP_NO_AUTH' }) as Error)
    const info = toAuthInfo(
      {
        token: 't',
        clientId: 'c',
        scopes: ['a'],
        subject: 'alice',
        claims: {},
        resource: 'not a url',
      },
      { subject: 'mallory', tenant: 't1' },
    )
    expect(info.extra.subject).toBe('alice')
    expect(info.extra.tenant).toBe('t1')
    expect(info.resource).toBeUndefined()
    expect(principalKey(principalFromExtra({ authInfo: info }))).toBe(
      principalKey({ clientId: 'c', issuer: undefined, subject: 'alice' }),
    )
    expect(() =>
      createMCPHandler(gh, { mode: 'stateful', maxSessions: 0, createServer: demoServer }),
    ).toThrow(TypeError)
  })
})
