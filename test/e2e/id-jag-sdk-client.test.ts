/**
 * SEP-990 end to end over HTTP on 127.0.0.1, with no browser step: the MCP SDK client signs in to
 * a loopback enterprise IdP (its ID token), trades it there for an ID-JAG (RFC 8693 token
 * exchange), and its `prepareTokenRequest` presents the ID-JAG at Gatehouse's /token; then it
 * calls a tool on an MCP SDK server served by `createMCPHandler`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { authOf, createMCPHandler } from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  ID_JAG_TYPE,
  ID_TOKEN_TYPE,
  startEnterpriseIdP,
  TOKEN_EXCHANGE,
  type EnterpriseIdP,
} from '../helpers/enterprise-idp.js'

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const AGENT_SECRET = 'agent-secret-at-gatehouse-long-enough!!'
const IDP_SECRET = 'agent-secret-at-the-enterprise-idp'

/** An SDK auth provider for a pre-registered confidential client using the ID-JAG grant. */
class IDJAGClientProvider implements OAuthClientProvider {
  saved: OAuthTokens | undefined
  tokenRequests = 0
  readonly idp: EnterpriseIdP
  readonly gatehouse: { issuer: string; resource: string }
  constructor(idp: EnterpriseIdP, gatehouse: { issuer: string; resource: string }) {
    this.idp = idp
    this.gatehouse = gatehouse
  }
  get redirectUrl() {
    return undefined
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      redirect_uris: [],
      grant_types: [JWT_BEARER],
      token_endpoint_auth_method: 'client_secret_basic',
    }
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: 'agent', client_secret: AGENT_SECRET }
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  redirectToAuthorization(): never {
    throw new Error('the ID-JAG flow has no browser step')
  }
  saveCodeVerifier() {
    // no PKCE: there is no authorization request
  }
  codeVerifier(): never {
    throw new Error('the ID-JAG flow has no code verifier')
  }
  /** Single sign-on at the IdP (its ID token), then token exchange there for an ID-JAG. */
  async prepareTokenRequest(scope?: string): Promise<URLSearchParams> {
    this.tokenRequests++
    const idToken = await this.idp.idToken('employee-7', 'agent-at-idp')
    const res = await fetch(`${this.idp.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`agent-at-idp:${IDP_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        requested_token_type: ID_JAG_TYPE,
        subject_token_type: ID_TOKEN_TYPE,
        subject_token: idToken,
        audience: this.gatehouse.issuer,
        resource: this.gatehouse.resource,
        scope: scope ?? 'notes:read',
      }),
    })
    const answer = (await res.json()) as { access_token: string; issued_token_type: string }
    expect(answer.issued_token_type).toBe(ID_JAG_TYPE)
    return new URLSearchParams({ grant_type: JWT_BEARER, assertion: answer.access_token })
  }
}

describe('SEP-990 with the MCP SDK client', () => {
  let server: Server
  let base: string
  let gh: Gatehouse
  let idp: EnterpriseIdP

  beforeAll(async () => {
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    idp = await startEnterpriseIdP({ audience: base, resource: `${base}/mcp`, clientId: 'agent' })
    idp.addClient('agent-at-idp', IDP_SECRET)
    gh = await createGatehouse({
      config: {
        issuer: base,
        secret: 's'.repeat(32),
        resources: [{ url: `${base}/mcp`, scopes: ['notes:read', 'notes:write'] }],
        clients: [
          {
            clientId: 'agent',
            clientSecret: AGENT_SECRET,
            grantTypes: [JWT_BEARER],
            assertionScopes: ['notes:read'],
          },
        ],
        identityAssertion: { trustedIssuers: [{ issuer: idp.issuer, discoveryUrl: idp.issuer }] },
      },
      store: createMemoryStore(),
    })
    const mcp = createMCPHandler(gh, {
      mode: 'stateless',
      enableJsonResponse: true,
      createServer: () => {
        const s = new McpServer({ name: 'notes', version: '1.0.0' })
        s.registerTool('whoami', { description: 'who is calling' }, (extra) => {
          const auth = authOf(extra)
          return {
            content: [
              {
                type: 'text',
                text: JSON.stringify({
                  subject: auth.extra.subject,
                  issuer: auth.extra.issuer,
                  client: auth.clientId,
                  scopes: auth.scopes,
                }),
              },
            ],
          }
        })
        return s
      },
    })
    handler = toNodeHandler((request) =>
      new URL(request.url).pathname === '/mcp' ? mcp(request) : gh.fetch(request),
    )
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await gh.close()
    await idp.close()
  })

  it('gets a Gatehouse token for an ID-JAG from the first 401 and calls a tool as the employee', async () => {
    const provider = new IDJAGClientProvider(idp, { issuer: base, resource: `${base}/mcp` })
    const client = new Client({ name: 'agent', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
    )
    expect(provider.tokenRequests).toBe(1)
    expect(provider.saved?.refresh_token).toBeUndefined()
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    const text = (result.content as { text: string }[])[0]?.text ?? ''
    expect(JSON.parse(text)).toEqual({
      subject: 'employee-7',
      issuer: idp.issuer,
      client: 'agent',
      scopes: ['notes:read'],
    })
    await client.close()
    // The ID-JAG's issuer keys came through discovery, once.
    expect(idp.hits.get('/.well-known/openid-configuration')).toBe(1)
  })
})
