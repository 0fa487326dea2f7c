/**
 * End to end over HTTP on 127.0.0.1: the MCP SDK client -> Gatehouse with the GitHub, Google or
 * Auth0 provider -> sign-in at the provider's local stand-in -> a tool that checks the user's roles and
 * calls the provider's API with the user's upstream token (`getUpstreamToken`).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { startAuth0StandIn, type Auth0StandIn } from '../../src/dev/auth0-stand-in/index.js'
import { startGitHubStandIn, type GitHubStandIn } from '../../src/dev/github-stand-in/index.js'
import { startGoogleStandIn, type GoogleStandIn } from '../../src/dev/google-stand-in/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import {
  authOf,
  createMCPHandler,
  getUpstreamToken,
  requireToolRoles,
} from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'

interface Served {
  base: string
  setHandler(h: (request: Request) => Promise<Response>): void
  close(): Promise<void>
}

async function serve(): Promise<Served> {
  let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
  const server: Server = createServer((req, res) => {
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    base: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    setHandler: (h) => {
      handler = toNodeHandler(h)
    },
    close: () =>
      new Promise((resolve) =>
        server.close(() => {
          resolve()
        }),
      ),
  }
}

/** An MCP server whose `whoami` tool needs `role` and echoes the provider API's answer. */
function mount(
  gh: Gatehouse,
  served: Served,
  api: (token: string) => Promise<unknown>,
  role?: string,
) {
  const mcp = createMCPHandler(gh, {
    mode: 'stateless',
    enableJsonResponse: true,
    createServer: (context) => {
      const s = new McpServer(
        { name: 'provider-demo', version: '1.0.0' },
        { jsonSchemaValidator: context.jsonSchemaValidator },
      )
      s.registerTool('whoami', { description: 'Who you are at the provider' }, async (extra) => {
        if (role !== undefined) requireToolRoles(extra, [role])
        const auth = authOf(extra)
        const profile = await api(await getUpstreamToken(extra))
        return {
          content: [
            {
              type: 'text',
              text: JSON.stringify({
                roles: auth.extra.roles,
                upstream: auth.extra.upstream,
                profile,
              }),
            },
          ],
        }
      })
      return s
    },
  })
  served.setHandler((request) =>
    new URL(request.url).pathname === '/mcp' ? mcp(request) : gh.fetch(request),
  )
}

async function connect(base: string, user: { username: string; password: string }) {
  const provider = new BrowserlessClientProvider({
    redirectUrl: 'http://127.0.0.1:3997/callback',
    clientName: 'provider e2e',
    user,
  })
  const client = new Client({ name: 'provider-e2e', version: '1.0.0' })
  const first = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    authProvider: provider,
  })
  await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
  expect(provider.code).toBeTypeOf('string')
  await first.finishAuth(provider.code!)
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
  )
  return client
}

function textOf(result: Awaited<ReturnType<Client['callTool']>>): unknown {
  return JSON.parse((result.content as { text: string }[])[0]!.text)
}

describe('MCP SDK client -> Gatehouse (GitHub) -> GitHub stand-in', () => {
  let served: Served
  let github: GitHubStandIn
  let gh: Gatehouse

  beforeAll(async () => {
    served = await serve()
    github = await startGitHubStandIn({
      apps: [
        {
          clientId: 'Ov23liE2E',
          clientSecret: 'e2e-github-secret',
          callbackUrl: `${served.base}/auth/callback`,
        },
      ],
      users: [
        {
          login: 'octocat',
          password: 'octo-pw',
          id: 583231,
          orgs: { acme: {} },
          teams: ['acme/tool-admins'],
          emails: [{ email: 'octo@acme.example', primary: true, verified: true }],
        },
        {
          login: 'member',
          password: 'member-pw',
          id: 42,
          orgs: { acme: {} },
          teams: ['acme/devs'],
        },
        { login: 'stranger', password: 'stranger-pw', id: 7 },
      ],
      orgs: [{ login: 'acme' }],
    })
    gh = await createGatehouse({
      config: {
        issuer: served.base,
        secret: 's'.repeat(32),
        resources: [{ url: `${served.base}/mcp` }],
        upstream: {
          kind: 'github',
          serverUrl: github.url,
          clientId: 'Ov23liE2E',
          clientSecret: 'e2e-github-secret',
          allowedOrganizations: ['acme'],
          teamRoles: { 'acme/tool-admins': ['admin'] },
        },
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
    })
    mount(
      gh,
      served,
      async (token) => {
        const me = await fetch(`${github.apiUrl}/user`, {
          headers: { authorization: `Bearer ${token}`, 'user-agent': 'e2e-tool' },
        })
        return (await me.json()) as unknown
      },
      'admin',
    )
  })
  afterAll(async () => {
    await served.close()
    await gh.close()
    await github.close()
  })

  it('signs in with GitHub; a tool needing the admin role calls GitHub as the user', async () => {
    const client = await connect(served.base, { username: 'octocat', password: 'octo-pw' })
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    expect(textOf(result)).toMatchObject({
      roles: ['admin'],
      upstream: { issuer: github.url, subject: '583231' },
      profile: { login: 'octocat', id: 583231 },
    })
    expect(github.requestsTo('authorize').at(-1)!.params.scope).toBe(
      'read:user user:email read:org',
    )
    expect(github.requestsTo('token').at(-1)!.headers.accept).toBe('application/json')
    await client.close()
  })

  it('an org member without the mapped team signs in but the tool refuses them', async () => {
    const client = await connect(served.base, { username: 'member', password: 'member-pw' })
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    expect(result.isError).toBe(true)
    await client.close()
  })

  it('a user outside the organization never gets a token', async () => {
    const provider = new BrowserlessClientProvider({
      redirectUrl: 'http://127.0.0.1:3997/callback',
      clientName: 'provider e2e',
      user: { username: 'stranger', password: 'stranger-pw' },
    })
    const client = new Client({ name: 'provider-e2e', version: '1.0.0' })
    const transport = new StreamableHTTPClientTransport(new URL(`${served.base}/mcp`), {
      authProvider: provider,
    })
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError)
    expect(provider.code).toBeUndefined()
    expect(provider.callbackParams?.get('error')).toBe('access_denied')
  })
})

describe('MCP SDK client -> Gatehouse (Google) -> Google stand-in', () => {
  let served: Served
  let google: GoogleStandIn
  let gh: Gatehouse

  beforeAll(async () => {
    served = await serve()
    google = await startGoogleStandIn({
      clients: [
        {
          clientId: 'e2e.apps.googleusercontent.com',
          clientSecret: 'GOCSPX-e2e',
          redirectUris: [`${served.base}/auth/callback`],
        },
      ],
      users: [
        {
          email: 'ada@example.com',
          password: 'ada-pw',
          sub: '1101',
          name: 'Ada',
          hd: 'example.com',
        },
        { email: 'eve@gmail.example', password: 'eve-pw', sub: '2202' },
      ],
      schemelessIssuer: true,
    })
    gh = await createGatehouse({
      config: {
        issuer: served.base,
        secret: 's'.repeat(32),
        resources: [{ url: `${served.base}/mcp` }],
        upstream: {
          kind: 'google',
          discoveryUrl: google.discoveryUrl,
          clientId: 'e2e.apps.googleusercontent.com',
          clientSecret: 'GOCSPX-e2e',
          hostedDomains: ['example.com'],
        },
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
    })
    mount(gh, served, async (token) => {
      const me = await fetch(`${google.url}/v1/userinfo`, {
        headers: { authorization: `Bearer ${token}` },
      })
      return (await me.json()) as unknown
    })
  })
  afterAll(async () => {
    await served.close()
    await gh.close()
    await google.close()
  })

  it('signs a Workspace user in; a tool calls Google as the user', async () => {
    const client = await connect(served.base, { username: 'ada@example.com', password: 'ada-pw' })
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    expect(textOf(result)).toMatchObject({
      profile: { sub: '1101', email: 'ada@example.com', hd: 'example.com' },
    })
    const authorize = google.requestsTo('authorize').at(-1)!.params
    expect(authorize).toMatchObject({
      access_type: 'offline',
      prompt: 'consent',
      hd: 'example.com',
    })
    expect(google.requestsTo('token').at(-1)!.params.grant_type).toBe('authorization_code')
    await client.close()
  })

  it('a Google account outside the hosted domain never gets a token', async () => {
    const provider = new BrowserlessClientProvider({
      redirectUrl: 'http://127.0.0.1:3997/callback',
      clientName: 'provider e2e',
      user: { username: 'eve@gmail.example', password: 'eve-pw' },
    })
    const client = new Client({ name: 'provider-e2e', version: '1.0.0' })
    const transport = new StreamableHTTPClientTransport(new URL(`${served.base}/mcp`), {
      authProvider: provider,
    })
    await expect(client.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError)
    expect(provider.code).toBeUndefined()
    expect(provider.callbackParams?.get('error')).toBe('access_denied')
  })
})

describe('MCP SDK client -> Gatehouse (Auth0) -> Auth0 stand-in', () => {
  let served: Served
  let auth0: Auth0StandIn
  let gh: Gatehouse
  const api = 'https://mcp.example.com/api'

  beforeAll(async () => {
    served = await serve()
    auth0 = await startAuth0StandIn({
      clients: [
        {
          clientId: 'e2e',
          clientSecret: 'e2e-secret',
          callbacks: [`${served.base}/auth/callback`],
        },
      ],
      apis: [{ identifier: api }],
      users: [
        { email: 'ada@example.com', password: 'ada-pw', sub: 'auth0|ada', roles: ['admin'] },
        { email: 'bob@example.com', password: 'bob-pw', sub: 'auth0|bob' },
      ],
      rolesClaim: 'https://mcp.example.com/roles',
    })
    gh = await createGatehouse({
      config: {
        issuer: served.base,
        secret: 's'.repeat(32),
        resources: [{ url: `${served.base}/mcp` }],
        upstream: {
          kind: 'auth0',
          domain: 'acme.us.auth0.com',
          authority: auth0.url,
          clientId: 'e2e',
          clientSecret: 'e2e-secret',
          audience: api,
          rolesClaim: 'https://mcp.example.com/roles',
        },
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
    })
    // The tool reads the API token Auth0 issued for the user (a JWT for `api`).
    mount(gh, served, (token) => Promise.resolve({ jwt: token.split('.').length === 3 }), 'admin')
  })
  afterAll(async () => {
    await served.close()
    await gh.close()
    await auth0.close()
  })

  it('signs in with Auth0; the role from the namespaced claim opens the tool', async () => {
    const client = await connect(served.base, { username: 'ada@example.com', password: 'ada-pw' })
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    expect(textOf(result)).toMatchObject({
      roles: ['admin'],
      upstream: { issuer: `${auth0.url}/`, subject: 'auth0|ada' },
      profile: { jwt: true },
    })
    expect(auth0.requestsTo('authorize').at(-1)!.params.audience).toBe(api)
    await client.close()
  })

  it('a user without the role is refused by the tool', async () => {
    const client = await connect(served.base, { username: 'bob@example.com', password: 'bob-pw' })
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    expect(result.isError).toBe(true)
    await client.close()
  })
})
