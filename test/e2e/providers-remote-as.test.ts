/**
 * The remote-AS mode for Keycloak, Okta, Auth0 and Amazon Cognito (issue 15): the provider is the
 * MCP clients' authorization server (Keycloak and others register clients themselves), Gatehouse
 * guards the MCP endpoint with `createRemoteAuthProvider` and the provider's verifier
 * (`keycloakVerifier`, `oktaVerifier`, `auth0Verifier`, `cognitoVerifier`). Per provider: an
 * access token signed by the stand-in with the provider's claims is accepted by the guard through
 * the MCP SDK client (tool call, roles from the provider's claim); a token of another issuer, of
 * another audience (Cognito: `client_id`) and — for Cognito — the pool's ID token are refused with
 * 401 and a Bearer challenge naming the resource metadata; the protected-resource metadata names
 * the provider's issuer as the authorization server. Keys come from the stand-in's discovery.
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
import { startAuth0StandIn } from '../../src/dev/auth0-stand-in/index.js'
import { startCognitoStandIn } from '../../src/dev/provider-stand-ins/cognito.js'
import { startKeycloakStandIn } from '../../src/dev/provider-stand-ins/keycloak.js'
import { startOktaStandIn } from '../../src/dev/provider-stand-ins/okta.js'
import type { TokenVerifier } from '../../src/jwt/access-token.js'
import { accessTokenOf, createMCPHandler } from '../../src/mcp/index.js'
import { auth0Verifier } from '../../src/providers/auth0/verifier.js'
import { cognitoVerifier } from '../../src/providers/cognito/verifier.js'
import { keycloakVerifier } from '../../src/providers/keycloak/verifier.js'
import { oktaVerifier } from '../../src/providers/okta/verifier.js'
import { createRemoteAuthProvider } from '../../src/resource/remote-auth.js'

/** Hands the MCP SDK a token the provider issued (the client got it there, not here). */
class TokenProvider implements OAuthClientProvider {
  readonly redirectUrl = 'http://127.0.0.1:5591/cb'
  readonly clientMetadata = {
    redirect_uris: [this.redirectUrl],
    token_endpoint_auth_method: 'none',
  }
  authorizeUrls: URL[] = []
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
  saveCodeVerifier() {}
  codeVerifier() {
    return ''
  }
  redirectToAuthorization(url: URL) {
    this.authorizeUrls.push(url)
  }
}

interface Case {
  issuer: string
  verifier: TokenVerifier
  /** Claims of a good token (iss/iat/exp added by `sign` unless given). */
  good: Record<string, unknown>
  /** Refused tokens, by what is wrong with them. */
  bad: Record<string, Record<string, unknown>>
  roles: string[]
  sign(claims: Record<string, unknown>): Promise<string>
  close(): Promise<void>
}

const now = () => Math.floor(Date.now() / 1000)
const loopback = { allowHttpLoopback: true, dangerouslyAllowPrivateNetwork: true }
const CLIENT = 'mcp-client-registered-upstream'
const noClients = [{ clientId: 'x', clientSecret: 'y', redirectUris: ['http://127.0.0.1/cb'] }]
// The stand-ins need a user to start; nobody signs in here.
const nobody = [{ username: 'nobody', password: 'pw' }]

const cases: Record<string, (resource: string) => Promise<Case>> = {
  keycloak: async (resource) => {
    const kc = await startKeycloakStandIn({ realm: 'mcp', users: nobody, clients: noClients })
    return {
      issuer: kc.issuer,
      verifier: keycloakVerifier({ url: kc.origin, realm: 'mcp', audience: resource, ...loopback }),
      good: {
        sub: 'kc-ada',
        azp: CLIENT,
        aud: [resource, 'account'],
        scope: 'openid mcp:tools',
        realm_access: { roles: ['admins', 'offline_access'] },
      },
      bad: {
        'another realm': { iss: kc.issuer.replace('/realms/mcp', '/realms/other'), aud: resource },
        'another audience': { aud: 'account' },
      },
      roles: ['admins', 'offline_access'],
      sign: (claims) => kc.mintAccessToken(claims),
      close: () => kc.close(),
    }
  },
  okta: async (resource) => {
    const okta = await startOktaStandIn({
      authorizationServer: 'default',
      users: nobody,
      clients: noClients,
    })
    return {
      issuer: okta.issuer,
      verifier: oktaVerifier({
        domain: okta.origin,
        authorizationServer: 'default',
        resource,
        ...loopback,
      }),
      good: {
        sub: '00u-ada',
        cid: CLIENT,
        aud: 'api://default',
        scp: ['openid', 'mcp:tools'],
        groups: ['Everyone', 'admins'],
      },
      bad: {
        'the org authorization server': { iss: okta.origin },
        'another audience': { aud: 'api://other' },
      },
      roles: ['Everyone', 'admins'],
      sign: (claims) => okta.mintAccessToken(claims),
      close: () => okta.close(),
    }
  },
  auth0: async (resource) => {
    const auth0 = await startAuth0StandIn({ clients: [], apis: [], users: [] })
    return {
      issuer: auth0.issuer,
      verifier: auth0Verifier({
        domain: auth0.url,
        audience: resource,
        rolesClaim: 'https://example.com/roles',
        ...loopback,
      }),
      good: {
        sub: 'auth0|ada',
        azp: CLIENT,
        aud: [resource, `${auth0.issuer}userinfo`],
        scope: 'openid mcp:tools',
        'https://example.com/roles': ['admins'],
      },
      bad: {
        'the domain without trailing slash': { iss: auth0.url },
        'no audience (a token for /userinfo only)': { aud: `${auth0.issuer}userinfo` },
      },
      roles: ['admins'],
      sign: (claims) => auth0.sign({ iss: auth0.issuer, iat: now(), exp: now() + 600, ...claims }),
      close: () => auth0.close(),
    }
  },
  cognito: async (resource) => {
    const pool = await startCognitoStandIn({
      userPoolId: 'eu-west-1_AbC123xyz',
      users: nobody,
      clients: noClients,
    })
    return {
      issuer: pool.issuer,
      verifier: cognitoVerifier({
        region: 'eu-west-1',
        userPoolId: 'eu-west-1_AbC123xyz',
        endpoint: pool.origin,
        clientIds: [CLIENT],
        resource,
        ...loopback,
      }),
      good: {
        sub: '7c1e-ada',
        client_id: CLIENT,
        token_use: 'access',
        scope: 'openid mcp/tools',
        username: 'ada',
        'cognito:groups': ['admins'],
      },
      bad: {
        'another pool': { iss: pool.issuer.replace('AbC123xyz', 'Other9') },
        'another app client': { client_id: 'someone-else' },
        'the ID token (aud, token_use id)': {
          client_id: undefined,
          aud: CLIENT,
          token_use: 'id',
        },
        'an ID token that also names client_id': { aud: CLIENT, token_use: 'id' },
        'no token_use': { token_use: undefined },
      },
      roles: ['admins'],
      sign: (claims) => pool.mintAccessToken(claims),
      close: () => pool.close(),
    }
  },
}

for (const [name, start] of Object.entries(cases)) {
  describe(`remote-AS mode: ${name} as the authorization server, Gatehouse guarding`, () => {
    let server: Server
    let base = ''
    let resource = ''
    let c: Case

    beforeAll(async () => {
      let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
      server = createServer((req, res) => {
        handler(req, res)
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      resource = `${base}/mcp`
      c = await start(resource)
      const rs = createRemoteAuthProvider({
        config: { resources: [{ url: resource }], authorizationServers: [c.issuer] },
        verifier: c.verifier,
      })
      const mcp = createMCPHandler(rs, {
        mode: 'stateless',
        enableJsonResponse: true,
        createServer: ({ jsonSchemaValidator }) => {
          const s = new McpServer({ name: 'rs', version: '1.0.0' }, { jsonSchemaValidator })
          s.registerTool('whoami', {}, (extra) => {
            const t = accessTokenOf(extra)
            const me = { subject: t.subject, roles: t.roles, scopes: t.scopes }
            return { content: [{ type: 'text', text: JSON.stringify(me) }] }
          })
          return s
        },
      })
      handler = toNodeHandler((request) =>
        new URL(request.url).pathname === '/mcp' ? mcp(request) : rs.fetch(request),
      )
    })
    afterAll(async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
      await c.close()
    })

    it('the protected-resource metadata names the provider’s issuer', async () => {
      const response = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`)
      expect(response.status).toBe(200)
      const body = (await response.json()) as Record<string, unknown>
      expect(body.resource).toBe(resource)
      // Exactly as configured: Auth0's `https://{domain}/` keeps its slash, since clients compare
      // it with the authorization server metadata's `issuer` (RFC 8414 §3.3, RFC 9728 §3.3).
      expect(body.authorization_servers).toEqual([c.issuer])
    })

    it('accepts the provider’s access token through the MCP SDK client (tool call, roles)', async () => {
      const client = new Client({ name: 'remote-as', version: '1.0.0' })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(resource), {
          authProvider: new TokenProvider(await c.sign(c.good)),
        }),
      )
      const result = (await client.callTool({ name: 'whoami', arguments: {} })) as {
        content: { text: string }[]
      }
      const me = JSON.parse(result.content[0]!.text) as Record<string, unknown>
      expect(me.subject).toBe(c.good.sub)
      expect(me.roles).toEqual(c.roles)
      expect(me.scopes).toContain('openid')
      await client.close()
    })

    it('refuses tokens of another issuer or audience with 401 and a Bearer challenge', async () => {
      const cases = Object.entries(c.bad)
      expect(cases.length).toBeGreaterThanOrEqual(2)
      for (const [what, change] of cases) {
        const claims = Object.fromEntries(
          Object.entries({ ...c.good, ...change }).filter(([, v]) => v !== undefined),
        )
        const token = await c.sign(claims)
        const response = await fetch(resource, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        })
        expect(response.status, what).toBe(401)
        const challenge = response.headers.get('www-authenticate') ?? ''
        expect(challenge, what).toMatch(
          /^Bearer error="invalid_token", error_description="[^"]+", /,
        )
        expect(challenge, what).toContain(
          `resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
        )
        expect(await response.text(), what).not.toContain(token)
      }
      // The good token still passes on the same path (the refusals were about the claims).
      const ok = await fetch(resource, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await c.sign(c.good)}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'raw', version: '1' },
          },
        }),
      })
      expect(ok.status).toBe(200)
    })
  })
}

describe('provider verifiers refuse a configuration that cannot verify access tokens', () => {
  it('oktaVerifier: the org authorization server, or a custom one without audience', () => {
    expect(() => oktaVerifier({ domain: 'acme.okta.com', authorizationServer: '' })).toThrow(
      /authorizationServer.*Okta APIs/,
    )
    expect(() => oktaVerifier({ domain: 'acme.okta.com', authorizationServer: 'aus1' })).toThrow(
      /audience/,
    )
  })

  it('auth0Verifier: no audience (Auth0 would issue opaque tokens)', () => {
    expect(() => auth0Verifier({ domain: 'acme.eu.auth0.com', audience: '' })).toThrow(/audience/)
  })

  it('cognitoVerifier: a pool ID of another region, or no app client', () => {
    expect(() =>
      cognitoVerifier({ region: 'us-east-1', userPoolId: 'eu-west-1_AbC123xyz', clientIds: ['c'] }),
    ).toThrow(/not a user pool ID of region us-east-1/)
    expect(() =>
      cognitoVerifier({ region: 'eu-west-1', userPoolId: 'eu-west-1_AbC123xyz', clientIds: [] }),
    ).toThrow(TypeError)
  })
})
