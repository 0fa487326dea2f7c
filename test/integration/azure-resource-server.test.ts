/**
 * `AzureJWTVerifier` behind `createRemoteAuthProvider` and `createMCPHandler` (issue 11 item 1):
 * a correctly signed, unexpired Entra token that lacks a required scope is answered with 403
 * `insufficient_scope` naming the full-URI scope to ask Entra for, and the MCP SDK client steps up
 * with exactly that scope. Tokens come from the local Entra stand-in, keys from its JWKS.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { AzureJWTVerifier } from '../../src/providers/azure/azure-jwt-verifier.js'
import type { AzureStandIn } from '../../src/dev/azure-stand-in/index.js'
import { authOf, createMCPHandler } from '../../src/mcp/index.js'
import { createRemoteAuthProvider } from '../../src/resource/remote-auth.js'
import { APP_ID, startStandIn, TENANT_A } from '../helpers/azure.js'

/** Records where the SDK sends the user for a step-up, instead of signing in. */
class RecordingProvider implements OAuthClientProvider {
  authorizeUrls: URL[] = []
  readonly redirectUrl = 'http://127.0.0.1:5591/cb'
  readonly clientMetadata = {
    redirect_uris: ['http://127.0.0.1:5591/cb'],
    token_endpoint_auth_method: 'none',
  }
  #verifier = ''
  readonly token: string
  constructor(token: string) {
    this.token = token
  }
  clientInformation() {
    return { client_id: 'mcp-client' }
  }
  tokens(): OAuthTokens {
    return { access_token: this.token, token_type: 'Bearer' }
  }
  saveTokens() {}
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier
  }
  codeVerifier() {
    return this.#verifier
  }
  redirectToAuthorization(url: URL) {
    this.authorizeUrls.push(url)
  }
}

describe('AzureJWTVerifier in a resource server: insufficient scope is 403', () => {
  let entra: AzureStandIn
  let server: Server
  let base = ''
  let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))

  beforeAll(async () => {
    entra = await startStandIn()
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await entra.close()
  })

  const entraToken = (scp: string) => {
    const now = Math.floor(Date.now() / 1000)
    return entra.sign({
      iss: entra.issuer(TENANT_A),
      aud: APP_ID,
      tid: TENANT_A,
      oid: 'o-1',
      sub: 's-1',
      azp: 'mcp-client',
      scp,
      ver: '2.0',
      iat: now,
      exp: now + 600,
    })
  }

  /** The documented set-up: `scopes: verifier.scopesSupported`. */
  const setup = () => {
    const resource = `${base}/mcp`
    const verifier = new AzureJWTVerifier({
      clientId: APP_ID,
      tenantId: TENANT_A,
      authority: entra.url,
      requiredScopes: ['read'],
      resource,
    })
    const rs = createRemoteAuthProvider({
      config: {
        resources: [{ url: resource, scopes: verifier.scopesSupported }],
        authorizationServers: [entra.issuer(TENANT_A)],
      },
      verifier,
    })
    return { rs, resource }
  }

  it('answers a signed, unexpired token with scp "write" with 403 naming api://…/read', async () => {
    const { rs, resource } = setup()
    const protect = rs.protect((_r, t) => Response.json({ scopes: t.scopes }))
    const call = async (token: string) =>
      protect(new Request(resource, { headers: { authorization: `Bearer ${token}` } }))
    expect((await call(await entraToken('read'))).status).toBe(200)
    const refused = await call(await entraToken('write'))
    expect(refused.status).toBe(403)
    expect(refused.headers.get('www-authenticate')).toBe(
      `Bearer error="insufficient_scope", error_description="the access token lacks a required scope", ` +
        `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="api://${APP_ID}/read"`,
    )
    // Still 401: a token of another tenant, and a forged one.
    const now = Math.floor(Date.now() / 1000)
    const foreign = await entra.sign({
      iss: entra.issuer('bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb'),
      tid: 'bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb',
      aud: APP_ID,
      sub: 's-2',
      scp: 'write',
      iat: now,
      exp: now + 600,
    })
    expect((await call(foreign)).status).toBe(401)
    const forged = (await entraToken('write')).slice(0, -6) + 'AAAAAA'
    expect((await call(forged)).status).toBe(401)
  })

  it('createMCPHandler: the MCP SDK client gets the 403 and steps up with the scope it names', async () => {
    const { rs } = setup()
    const mcp = createMCPHandler(rs, {
      mode: 'stateless',
      enableJsonResponse: true,
      createServer: ({ jsonSchemaValidator }) => {
        const s = new McpServer({ name: 'rs', version: '1.0.0' }, { jsonSchemaValidator })
        s.registerTool('whoami', {}, (extra) => ({
          content: [{ type: 'text', text: authOf(extra).extra.subject ?? '' }],
        }))
        return s
      },
    })
    handler = toNodeHandler((request) =>
      new URL(request.url).pathname === '/mcp' ? mcp(request) : rs.fetch(request),
    )
    // Enough scope: the tool runs.
    const ok = new Client({ name: 'ok', version: '1.0.0' })
    await ok.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
        authProvider: new RecordingProvider(await entraToken('read write')),
      }),
    )
    const result = (await ok.callTool({ name: 'whoami', arguments: {} })) as {
      content: { text: string }[]
    }
    expect(result.content[0]?.text).toBe('s-1')
    await ok.close()

    // Not enough: the SDK reads the 403 challenge and sends the user to Entra for api://…/read.
    const provider = new RecordingProvider(await entraToken('write'))
    const seen: { status: number; challenge: string | null }[] = []
    const recording: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      seen.push({ status: response.status, challenge: response.headers.get('www-authenticate') })
      return response
    }
    const client = new Client({ name: 'step-up', version: '1.0.0' })
    const error = await client
      .connect(
        new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
          authProvider: provider,
          fetch: recording,
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toBeInstanceOf(Error)
    expect(seen[0]?.status).toBe(403)
    expect(seen[0]?.challenge).toContain('error="insufficient_scope"')
    expect(provider.authorizeUrls).toHaveLength(1)
    const step = provider.authorizeUrls[0]!
    expect(step.href.startsWith(`${entra.url}/${TENANT_A}/oauth2/v2.0/authorize`)).toBe(true)
    expect(step.searchParams.get('scope')).toBe(`api://${APP_ID}/read`)
  })
})
