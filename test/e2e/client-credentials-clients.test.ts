/**
 * The client credentials grant (RFC 6749 §4.4, SEP-1046) with clients nobody here wrote, over HTTP
 * on 127.0.0.1: the MCP SDK 2.x client's `ClientCredentialsProvider` (client_secret_basic) and
 * `PrivateKeyJwtProvider` (RFC 7523 private_key_jwt) against an MCP server behind Gatehouse's
 * `createMCPHandler`, and oauth4webapi's `clientCredentialsGrantRequest` (secret, private_key_jwt,
 * and a machine client that registered itself through DCR).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  Client,
  ClientCredentialsProvider,
  PrivateKeyJwtProvider,
  StreamableHTTPClientTransport,
} from '@modelcontextprotocol/client'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { exportJWK, generateKeyPair } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { authOf, createMCPHandler } from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'

const REPORTER_SECRET = 'reporter-secret-that-is-long-enough!!'

// oauth4webapi requires https unless told otherwise; everything here is on loopback.
// eslint-disable-next-line @typescript-eslint/no-deprecated
const insecure = { [oauth.allowInsecureRequests]: true }

describe('client credentials with the MCP SDK 2.x client and oauth4webapi', () => {
  let server: Server
  let base: string
  let gh: Gatehouse
  let signerKey: CryptoKey
  let signerJwk: Record<string, unknown>

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true })
    signerKey = pair.privateKey
    signerJwk = { ...(await exportJWK(pair.privateKey)), alg: 'ES256' }
    const publicJwk = { ...(await exportJWK(pair.publicKey)), alg: 'ES256', use: 'sig' }
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    gh = await createGatehouse({
      config: {
        issuer: base,
        secret: 's'.repeat(32),
        resources: [{ url: `${base}/mcp`, scopes: ['notes:read', 'notes:write'] }],
        clientCredentials: {
          enabled: true,
          allowRegistration: true,
          dynamicClientScopes: ['notes:read'],
        },
        clients: [
          {
            clientId: 'reporter',
            clientSecret: REPORTER_SECRET,
            grantTypes: ['client_credentials'],
            clientCredentialsScopes: ['notes:read'],
          },
          {
            clientId: 'signer',
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwks: { keys: [publicJwk] },
            grantTypes: ['client_credentials'],
            clientCredentialsScopes: ['notes:read', 'notes:write'],
          },
        ],
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
                  client: auth.clientId,
                  scopes: auth.scopes,
                  machine: auth.extra.principal.machine ?? false,
                  gty: auth.extra.claims.gty,
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
  })

  async function whoami(client: Client): Promise<Record<string, unknown>> {
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    const text = (result.content as { text: string }[])[0]?.text ?? ''
    return JSON.parse(text) as Record<string, unknown>
  }

  it('ClientCredentialsProvider (client_secret_basic) gets a token at the first 401 and calls a tool as the client, narrowed to its allow-list', async () => {
    // The SDK asks for every scope the resource advertises (notes:read notes:write); the client
    // may have notes:read only, which is what it gets, with the response's scope saying so.
    const provider = new ClientCredentialsProvider({
      clientId: 'reporter',
      clientSecret: REPORTER_SECRET,
      expectedIssuer: base,
    })
    const client = new Client({ name: 'reporter', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
    )
    const tokens = provider.tokens()
    expect(tokens?.access_token).toBeTypeOf('string')
    expect(tokens?.refresh_token).toBeUndefined()
    expect(await whoami(client)).toEqual({
      subject: 'reporter',
      client: 'reporter',
      scopes: ['notes:read'],
      machine: true,
      gty: 'client_credentials',
    })
    await client.close()
  })

  it('PrivateKeyJwtProvider (private_key_jwt, keys from configuration) gets a token and calls a tool', async () => {
    const provider = new PrivateKeyJwtProvider({
      clientId: 'signer',
      privateKey: signerJwk,
      algorithm: 'ES256',
      expectedIssuer: base,
    })
    const client = new Client({ name: 'signer', version: '1.0.0' })
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
    )
    expect(provider.tokens()?.refresh_token).toBeUndefined()
    expect(await whoami(client)).toEqual({
      subject: 'signer',
      client: 'signer',
      scopes: ['notes:read', 'notes:write'],
      machine: true,
      gty: 'client_credentials',
    })
    await client.close()
  })

  it('a PrivateKeyJwtProvider signing with another key is refused (401 invalid_client) and reaches no tool', async () => {
    const other = await generateKeyPair('ES256', { extractable: true })
    const provider = new PrivateKeyJwtProvider({
      clientId: 'signer',
      privateKey: { ...(await exportJWK(other.privateKey)), alg: 'ES256' },
      algorithm: 'ES256',
      expectedIssuer: base,
    })
    const client = new Client({ name: 'impostor', version: '1.0.0' })
    await expect(
      client.connect(
        new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }),
      ),
    ).rejects.toMatchObject({ code: 'invalid_client' })
    expect(provider.tokens()).toBeUndefined()
  })

  async function discover(): Promise<oauth.AuthorizationServer> {
    return oauth.processDiscoveryResponse(
      new URL(base),
      await oauth.discoveryRequest(new URL(base), { algorithm: 'oauth2', ...insecure }),
    )
  }

  it('oauth4webapi: discovery advertises the grant and private_key_jwt; secret and private_key_jwt both get tokens, never a refresh token', async () => {
    const as = await discover()
    expect(as.grant_types_supported).toContain('client_credentials')
    expect(as.token_endpoint_auth_methods_supported).toContain('private_key_jwt')

    const bySecret = await oauth.processClientCredentialsResponse(
      as,
      { client_id: 'reporter' },
      await oauth.clientCredentialsGrantRequest(
        as,
        { client_id: 'reporter' },
        oauth.ClientSecretBasic(REPORTER_SECRET),
        { resource: `${base}/mcp` },
        insecure,
      ),
    )
    expect(bySecret.token_type).toBe('bearer')
    expect(bySecret.scope).toBe('notes:read')
    expect(bySecret.refresh_token).toBeUndefined()

    const byKey = await oauth.processClientCredentialsResponse(
      as,
      { client_id: 'signer' },
      await oauth.clientCredentialsGrantRequest(
        as,
        { client_id: 'signer' },
        oauth.PrivateKeyJwt(signerKey),
        { scope: 'notes:read notes:write' },
        insecure,
      ),
    )
    expect(byKey.scope).toBe('notes:read notes:write')
    expect(byKey.refresh_token).toBeUndefined()
    const token = await gh.verifyBearer(
      new Request(`${base}/mcp`, { headers: { authorization: `Bearer ${byKey.access_token}` } }),
    )
    expect(token).toMatchObject({ subject: 'signer', clientId: 'signer', machine: true })
    expect(token.claims.aud).toBe(`${base}/mcp`)
  })

  it('oauth4webapi: a machine client registers itself (allowed here) and gets at most dynamicClientScopes', async () => {
    const as = await discover()
    const pair = await generateKeyPair('ES256', { extractable: true })
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          grant_types: ['client_credentials'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), alg: 'ES256' }] },
          scope: 'notes:read notes:write',
        },
        insecure,
      ),
    )
    expect(registered.client_secret).toBeUndefined()
    expect(registered.redirect_uris).toEqual([])
    const client: oauth.Client = { client_id: registered.client_id }
    const granted = await oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.PrivateKeyJwt(pair.privateKey),
        {},
        insecure,
      ),
    )
    expect(granted.scope).toBe('notes:read')
    expect(granted.refresh_token).toBeUndefined()
    // notes:write was registered but is beyond what the operator lets self-registered clients have.
    const refused = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.PrivateKeyJwt(pair.privateKey),
      { scope: 'notes:write' },
      insecure,
    )
    await expect(oauth.processClientCredentialsResponse(as, client, refused)).rejects.toMatchObject(
      {
        error: 'invalid_scope',
      },
    )
  })
})
