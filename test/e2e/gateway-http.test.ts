/**
 * `gatehouse serve` in front of Streamable HTTP MCP servers: the official MCP SDK client signs in
 * at the embedded dev IdP through the gateway and reaches `@modelcontextprotocol/server-everything`
 * on its own HTTP transport; a recording upstream shows what crosses the gateway.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import {
  connectAs,
  post,
  postInSession,
  startEverythingHTTP,
  startRecorder,
} from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }
const SECRET = 'upstream-secret-0123456789'

let everything: Awaited<ReturnType<typeof startEverythingHTTP>>
let recorder: Awaited<ReturnType<typeof startRecorder>>
let serve: RunningServe

beforeAll(async () => {
  ;[everything, recorder] = await Promise.all([startEverythingHTTP(), startRecorder()])
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: {
      users: [
        { user: ADA.username, password: ADA.password },
        { user: BOB.username, password: BOB.password, claims: { groups: ['auditors'] } },
      ],
    },
    env: { REC_KEY: SECRET },
    config: {
      gateway: {
        routes: [
          {
            path: '/mcp',
            upstream: { kind: 'http', url: everything.url },
            scopes: ['mcp:read', 'mcp:admin'],
            requiredScopes: ['mcp:read'],
            tools: {
              'get-sum': { scopes: ['mcp:admin'] },
              'get-env': { subjects: ['nobody'] },
            },
            maxBodyBytes: 4096,
          },
          {
            path: '/policy',
            upstream: { kind: 'http', url: everything.url },
            scopes: ['mcp:read', 'mcp:admin'],
            requiredScopes: ['mcp:read'],
            prompts: {
              'args-prompt': { scopes: ['mcp:admin'] },
              'resource-prompt': { subjects: ['nobody'] },
            },
            resources: { 'demo://resource/static/document/*': { groups: ['auditors'] } },
          },
          {
            path: '/rec',
            upstream: {
              kind: 'http',
              url: recorder.url,
              credential: { kind: 'header', name: 'X-Api-Key', valueFromEnv: 'REC_KEY' },
            },
          },
          {
            path: '/rec-filtered',
            upstream: { kind: 'http', url: recorder.url },
            tools: { noop: { subjects: ['nobody'] } },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  // Each may be missing when start-up failed; stop what there is.
  await (serve as RunningServe | undefined)?.close()
  await Promise.all([
    (everything as typeof everything | undefined)?.stop(),
    (recorder as typeof recorder | undefined)?.stop(),
  ])
})

describe('gatehouse serve → server-everything over Streamable HTTP', () => {
  it('signs the SDK client in and passes tools, progress, resources and prompts through; tools/list is filtered', async () => {
    const { client } = await connectAs(serve.routes['/mcp']!, ADA)
    try {
      const names = (await client.listTools()).tools.map((t) => t.name)
      expect(names).toContain('echo')
      expect(names).toContain('trigger-long-running-operation')
      // get-sum needs mcp:admin (not granted); get-env is for another subject only.
      expect(names).not.toContain('get-sum')
      expect(names).not.toContain('get-env')

      const echo = await client.callTool({ name: 'echo', arguments: { message: 'through' } })
      expect(JSON.stringify(echo.content)).toContain('through')

      const progress: number[] = []
      const long = await client.callTool(
        { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
        undefined,
        { onprogress: (p) => progress.push(p.progress) },
      )
      expect(long.isError).toBeFalsy()
      expect(progress).toEqual([1, 2, 3])

      const resources = await client.listResources()
      expect(resources.resources.length).toBeGreaterThan(0)
      const first = resources.resources[0]!
      const read = await client.readResource({ uri: first.uri })
      expect(read.contents[0]!.uri).toBe(first.uri)

      const prompts = await client.listPrompts()
      expect(prompts.prompts.map((p) => p.name)).toContain('simple-prompt')
      const prompt = await client.getPrompt({ name: 'simple-prompt' })
      expect(prompt.messages.length).toBeGreaterThan(0)

      // Denied by who the caller is: a JSON-RPC error, no step-up.
      const denied = await client
        .callTool({ name: 'get-env', arguments: {} })
        .catch((e: unknown) => e)
      expect(denied).toBeInstanceOf(McpError)
      expect((denied as McpError).code).toBe(-32003)
    } finally {
      await client.close()
    }
  }, 60_000)

  it('answers a call that needs more scope with 403 insufficient_scope naming exactly the scopes (step-up)', async () => {
    const { client, provider, transport } = await connectAs(serve.routes['/mcp']!, ADA)
    try {
      const res = await postInSession(
        serve.routes['/mcp']!,
        { provider, transport },
        {
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'get-sum', arguments: { a: 1, b: 2 } },
        },
      )
      expect(res.status).toBe(403)
      const challenge = res.headers.get('www-authenticate')!
      expect(challenge).toContain('error="insufficient_scope"')
      expect(challenge).toContain('scope="mcp:read mcp:admin"')
      expect(challenge).toContain(
        `resource_metadata="${serve.issuer}/.well-known/oauth-protected-resource/mcp"`,
      )
    } finally {
      await client.close()
    }
  }, 60_000)

  it('binds sessions to the user who opened them: another user with the session id gets 404', async () => {
    const ada = await connectAs(serve.routes['/mcp']!, ADA, 'ada app')
    const bob = await connectAs(serve.routes['/mcp']!, BOB, 'bob app')
    try {
      const body = { jsonrpc: '2.0', id: 1, method: 'tools/list' }
      const headers = { 'mcp-protocol-version': '2025-06-18' }
      const stolen = await post(serve.routes['/mcp']!, bob.provider.saved!.access_token, body, {
        ...headers,
        'mcp-session-id': ada.transport.sessionId!,
      })
      expect(stolen.status).toBe(404)
      expect((await stolen.json()).error.code).toBe(-32001)
      const own = await post(serve.routes['/mcp']!, ada.provider.saved!.access_token, body, {
        ...headers,
        'mcp-session-id': ada.transport.sessionId!,
      })
      expect(own.status).toBe(200)
    } finally {
      await Promise.all([ada.client.close(), bob.client.close()])
    }
  }, 60_000)

  it('refuses malformed JSON-RPC, unusable params (-32602), oversized bodies and Mcp-Method/Mcp-Name mismatches (-32020)', async () => {
    const connected = await connectAs(serve.routes['/mcp']!, ADA)
    const { client, provider } = connected
    try {
      const token = provider.saved!.access_token
      const url = serve.routes['/mcp']!
      const bad = await post(url, token, '{"jsonrpc":"2.0", "id": 1,')
      expect(bad.status).toBe(400)
      expect((await bad.json()).error.code).toBe(-32700)
      const notRpc = await post(url, token, { hello: 'world' })
      expect(notRpc.status).toBe(400)
      expect((await notRpc.json()).error.code).toBe(-32600)
      // A tool named other than by a string, or params that are no object, never reach the
      // server: policy ('get-env' is nobody's) decides on the name as a string.
      for (const params of [
        { name: ['get-env'], arguments: {} },
        ['get-env', {}],
        'get-env',
        { arguments: {} },
      ]) {
        const odd = await post(url, token, { jsonrpc: '2.0', id: 9, method: 'tools/call', params })
        expect(odd.status).toBe(400)
        expect(await odd.json()).toMatchObject({ id: 9, error: { code: -32602 } })
      }
      // A member written twice means one thing to policy (the last) and may mean another to the
      // server: refused, also when spelled with an escape, and in a message or its params also
      // when the names differ only as a lenient server ignores (Go's encoding/json: case, `ſ`).
      for (const twice of [
        '{"jsonrpc":"2.0","id":12,"method":"tools/call","method":"tools/list","params":{"name":"get-env"}}',
        '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"get-env","n\\u0061me":"echo"}}',
        '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"echo","Name":"get-env"}}',
        '{"jsonrpc":"2.0","id":12,"method":"tools/list","Method":"tools/call","params":{"name":"get-env"}}',
        '{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"echo"},"param\\u017f":{"name":"get-env"}}',
      ]) {
        const refused = await post(url, token, twice)
        expect(refused.status).toBe(400)
        expect(await refused.json()).toMatchObject({
          error: {
            code: -32600,
            message: 'Invalid Request: a member name appears twice in one object',
          },
        })
      }
      // The same name in different objects is fine, and a tool's arguments are the caller's data,
      // where `Message` and `message` are two names: `echo` answers.
      const nested = await postInSession(url, connected, {
        jsonrpc: '2.0',
        id: 13,
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { message: 'name "inside" {"name":1}', Message: 'other' },
        },
      })
      expect(nested.status).toBe(200)
      expect(await nested.text()).toContain('name \\"inside\\"')
      // `params: null` on a notification is taken as no params (some clients send it) and left to
      // the server, which here refuses it itself (the gateway's refusal would be -32602).
      const nullParams = await postInSession(url, connected, {
        jsonrpc: '2.0',
        method: 'notifications/roots/list_changed',
        params: null,
      })
      expect(await nullParams.json()).toMatchObject({
        error: { code: -32700, message: 'Parse error: Invalid JSON-RPC message' },
      })
      const positional = await post(url, token, {
        jsonrpc: '2.0',
        id: 10,
        method: 'ping',
        params: [],
      })
      expect((await positional.json()).error).toMatchObject({
        code: -32602,
        message: 'Invalid params: params must be an object',
      })
      const big = await post(url, token, {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'x'.repeat(5000) } },
      })
      expect(big.status).toBe(413)
      const call = {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'a' } },
      }
      const wrongMethod = await post(url, token, call, { 'mcp-method': 'tools/list' })
      expect(wrongMethod.status).toBe(400)
      expect((await wrongMethod.json()).error).toMatchObject({ code: -32020 })
      const wrongName = await post(url, token, call, {
        'mcp-method': 'tools/call',
        'mcp-name': 'get-env',
      })
      expect((await wrongName.json()).error).toMatchObject({ code: -32020 })
    } finally {
      await client.close()
    }
  }, 60_000)
})

describe('gatehouse serve: policy on prompts and resources', () => {
  it('hides and refuses prompts and resources by rule; a prompt that needs more scope steps up', async () => {
    const STATIC = 'demo://resource/static/document/'
    const open = await connectAs(serve.routes['/mcp']!, ADA, 'no resource rules')
    const all = await open.client.listResources()
    await open.client.close()
    const staticUri = all.resources.find((r) => r.uri.startsWith(STATIC))?.uri
    expect(staticUri).toBeDefined()

    const { client, provider, transport } = await connectAs(serve.routes['/policy']!, ADA)
    try {
      const prompts = (await client.listPrompts()).prompts.map((p) => p.name)
      expect(prompts).toContain('simple-prompt')
      expect(prompts).not.toContain('args-prompt')
      expect(prompts).not.toContain('resource-prompt')
      const resources = (await client.listResources()).resources.map((r) => r.uri)
      expect(resources.filter((u) => u.startsWith(STATIC))).toEqual([])

      const denied = await client
        .getPrompt({
          name: 'resource-prompt',
          arguments: { resourceType: 'Text', resourceId: '1' },
        })
        .catch((e: unknown) => e)
      expect((denied as McpError).code).toBe(-32003)
      const read = await client.readResource({ uri: staticUri! }).catch((e: unknown) => e)
      expect((read as McpError).code).toBe(-32003)

      const headers = {
        'mcp-session-id': transport.sessionId!,
        'mcp-protocol-version': '2025-06-18',
      }
      const stepUp = await post(
        serve.routes['/policy']!,
        provider.saved!.access_token,
        {
          jsonrpc: '2.0',
          id: 4,
          method: 'prompts/get',
          params: { name: 'args-prompt', arguments: { city: 'Paris' } },
        },
        headers,
      )
      expect(stepUp.status).toBe(403)
      expect(stepUp.headers.get('www-authenticate')).toMatch(
        /error="insufficient_scope".*scope="mcp:read mcp:admin"/,
      )
      // The simple prompt still works.
      expect((await client.getPrompt({ name: 'simple-prompt' })).messages.length).toBeGreaterThan(0)
    } finally {
      await client.close()
    }
    // A member of the group sees and reads the documents.
    const bob = await connectAs(serve.routes['/policy']!, BOB, 'auditor')
    try {
      const uris = (await bob.client.listResources()).resources.map((r) => r.uri)
      expect(uris).toContain(staticUri)
      expect((await bob.client.readResource({ uri: staticUri! })).contents.length).toBe(1)
    } finally {
      await bob.client.close()
    }
  }, 60_000)
})

describe('gatehouse serve → a recording upstream', () => {
  it('never forwards the client token or cookies, adds the route credential, drops upstream cookies', async () => {
    const { client, provider } = await connectAs(serve.routes['/rec']!, ADA)
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['noop'])
      const token = provider.saved!.access_token
      const res = await post(
        serve.routes['/rec']!,
        token,
        { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'noop', arguments: {} } },
        { cookie: 'session=abc', 'mcp-session-id': 'rec-session-1', 'x-forwarded-for': '10.0.0.1' },
      )
      expect(res.status).toBe(200)
      expect(res.headers.get('set-cookie')).toBeNull()
      expect(recorder.seen.length).toBeGreaterThanOrEqual(3)
      for (const headers of recorder.seen) {
        expect(headers.authorization).toBeUndefined()
        expect(headers.cookie).toBeUndefined()
        expect(headers['x-forwarded-for']).toBeUndefined()
        expect(headers['x-api-key']).toBe(SECRET)
        expect(JSON.stringify(headers)).not.toContain(token)
      }
    } finally {
      await client.close()
    }
  }, 60_000)

  it("passes a JSON answer's stated length on when the answer is unchanged, and the rewritten answer's own when policy rewrote it", async () => {
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' }
    const { client, provider } = await connectAs(serve.routes['/rec']!, BOB)
    await client.close()
    const asIs = await post(serve.routes['/rec']!, provider.saved!.access_token, list)
    const text = await asIs.text()
    expect(asIs.headers.get('content-length')).toBe(String(Buffer.byteLength(text)))
    expect(JSON.parse(text)).toMatchObject({ result: { tools: [{ name: 'noop' }] } })

    const filtered = await connectAs(serve.routes['/rec-filtered']!, BOB)
    await filtered.client.close()
    const rewritten = await post(
      serve.routes['/rec-filtered']!,
      filtered.provider.saved!.access_token,
      list,
    )
    const rewrittenText = await rewritten.text()
    // The length on the wire is the rewritten answer's own, never the one the upstream stated.
    expect(rewrittenText.length).toBeLessThan(text.length)
    expect(rewritten.headers.get('content-length')).toBe(String(Buffer.byteLength(rewrittenText)))
    expect(JSON.parse(rewrittenText)).toMatchObject({ id: 2, result: { tools: [] } })

    // An answer with junk around it is still filtered: the junk passes as it is, the list does not.
    const junk = await post(serve.routes['/rec-filtered']!, filtered.provider.saved!.access_token, {
      ...list,
      id: 77,
    })
    expect(junk.status).toBe(200)
    expect(await junk.json()).toEqual([
      null,
      1,
      { jsonrpc: '2.0', id: 77, result: { tools: [] } },
      'x',
    ])
  }, 60_000)

  it('answers 502 with a JSON-RPC error and no upstream detail when the upstream is down', async () => {
    const { client, provider } = await connectAs(serve.routes['/rec']!, BOB)
    await client.close()
    await recorder.stop()
    const res = await post(serve.routes['/rec']!, provider.saved!.access_token, {
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/list',
    })
    expect(res.status).toBe(502)
    const body = await res.json()
    expect(body).toMatchObject({ jsonrpc: '2.0', id: 3, error: { code: -32603 } })
    expect(JSON.stringify(body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/)
  }, 60_000)
})
