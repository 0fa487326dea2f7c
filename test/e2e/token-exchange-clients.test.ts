/**
 * Token exchange (RFC 8693) and workload identity federation with a client nobody here wrote
 * (oauth4webapi), over HTTP on 127.0.0.1: a CI job authenticates with its GitHub Actions OIDC
 * token (a custom `ClientAuth` sending it as the RFC 7523 client assertion) and gets a token by
 * client credentials; a gateway exchanges that token, with an agent's JWT as actor, for a token
 * bound to another resource (`genericTokenEndpointRequest`), which the guard there accepts.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { base64url } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  githubActionsClaims,
  startPlatformIssuer,
  type PlatformIssuer,
} from '../helpers/platform-issuer.js'

const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token'
const JWT = 'urn:ietf:params:oauth:token-type:jwt'
const GATEWAY_SECRET = 'gateway-secret-that-is-long-enough!!'

// oauth4webapi requires https unless told otherwise; everything here is on loopback.
// eslint-disable-next-line @typescript-eslint/no-deprecated
const insecure = { [oauth.allowInsecureRequests]: true }

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(jwt.split('.')[1] ?? ''))) as Record<
    string,
    unknown
  >
}

/** RFC 7523 client authentication with a platform token as the assertion (no secret). */
function platformToken(token: () => Promise<string>): oauth.ClientAuth {
  return async (_as, client, body) => {
    body.set('client_id', client.client_id)
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    body.set('client_assertion', await token())
  }
}

describe('token exchange and workload identity with oauth4webapi', () => {
  let server: Server
  let base: string
  let gh: Gatehouse
  let github: PlatformIssuer
  let agents: PlatformIssuer
  let as: oauth.AuthorizationServer

  beforeAll(async () => {
    github = await startPlatformIssuer()
    agents = await startPlatformIssuer()
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
        resources: [
          { url: `${base}/mcp`, scopes: ['deploy:read', 'deploy:write'] },
          { url: `${base}/registry`, scopes: ['deploy:read'] },
        ],
        clientCredentials: { enabled: true },
        clients: [
          {
            clientId: 'ci-deployer',
            tokenEndpointAuthMethod: 'private_key_jwt',
            grantTypes: ['client_credentials'],
            clientCredentialsScopes: ['deploy:read', 'deploy:write'],
          },
          { clientId: 'gateway', clientSecret: GATEWAY_SECRET, grantTypes: [EXCHANGE] },
        ],
        workloadIdentity: {
          policies: [
            {
              issuer: github.issuer,
              discoveryUrl: github.discoveryUrl,
              subject: 'repo:acme/api:ref:refs/heads/main',
              audience: base,
              claims: { repository_owner: 'acme' },
              clientId: 'ci-deployer',
            },
          ],
        },
        tokenExchange: {
          enabled: true,
          clients: [{ clientId: 'gateway' }],
          trustedIssuers: [
            { issuer: agents.issuer, jwksUri: agents.jwksUri, subjectPrefix: 'agents' },
          ],
        },
      },
      store: createMemoryStore(),
    })
    const echo = gh.protect((_req, token) =>
      Response.json({ sub: token.subject, client: token.clientId, act: token.claims.act }),
    )
    handler = toNodeHandler((request) =>
      ['/mcp', '/registry'].includes(new URL(request.url).pathname)
        ? echo(request)
        : gh.fetch(request),
    )
    const discovery = await oauth.discoveryRequest(new URL(base), {
      algorithm: 'oauth2',
      ...insecure,
    })
    as = await oauth.processDiscoveryResponse(new URL(base), discovery)
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await gh.close()
    await github.close()
    await agents.close()
  })

  const ciToken = (repo = 'acme/api') =>
    github.mint(githubActionsClaims(repo, 'refs/heads/main', base))

  it('metadata lists the grants enabled and private_key_jwt', () => {
    expect(as.grant_types_supported).toEqual(
      expect.arrayContaining(['client_credentials', EXCHANGE]),
    )
    expect(as.grant_types_supported).not.toContain('urn:ietf:params:oauth:grant-type:jwt-bearer')
    expect(as.token_endpoint_auth_methods_supported).toContain('private_key_jwt')
  })

  it('a CI job gets a token with its OIDC token; a gateway exchanges it, with an actor, for another resource', async () => {
    const ci: oauth.Client = { client_id: 'ci-deployer' }
    const ccResponse = await oauth.clientCredentialsGrantRequest(
      as,
      ci,
      platformToken(() => ciToken()),
      new URLSearchParams({ resource: `${base}/mcp`, scope: 'deploy:read deploy:write' }),
      insecure,
    )
    const cc = await oauth.processClientCredentialsResponse(as, ci, ccResponse)
    expect(cc.scope).toBe('deploy:read deploy:write')
    expect(claimsOf(cc.access_token)).toMatchObject({ sub: 'ci-deployer', aud: `${base}/mcp` })

    const gateway: oauth.Client = { client_id: 'gateway' }
    const actor = await agents.mint({ sub: 'release-bot', aud: base })
    const exchangeResponse = await oauth.genericTokenEndpointRequest(
      as,
      gateway,
      oauth.ClientSecretBasic(GATEWAY_SECRET),
      EXCHANGE,
      new URLSearchParams({
        subject_token: cc.access_token,
        subject_token_type: ACCESS,
        actor_token: actor,
        actor_token_type: JWT,
        resource: `${base}/registry`,
        scope: 'deploy:read',
      }),
      insecure,
    )
    const exchanged = await oauth.processGenericTokenEndpointResponse(as, gateway, exchangeResponse)
    expect(exchanged.issued_token_type).toBe(ACCESS)
    expect(exchanged.refresh_token).toBeUndefined()
    const res = await fetch(`${base}/registry`, {
      method: 'POST',
      headers: { authorization: `Bearer ${exchanged.access_token}` },
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      sub: 'ci-deployer',
      client: 'gateway',
      act: { sub: 'release-bot', iss: agents.issuer },
    })
    // Bound to the registry: the MCP endpoint refuses it.
    const elsewhere = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${exchanged.access_token}` },
    })
    expect(elsewhere.status).toBe(401)
  })

  it('refusals reach the client as RFC errors: scope widening, a foreign repository, a replayed CI token', async () => {
    const ci: oauth.Client = { client_id: 'ci-deployer' }
    const cc = await oauth.processClientCredentialsResponse(
      as,
      ci,
      await oauth.clientCredentialsGrantRequest(
        as,
        ci,
        platformToken(() => ciToken()),
        new URLSearchParams({ scope: 'deploy:read' }),
        insecure,
      ),
    )
    const gateway: oauth.Client = { client_id: 'gateway' }
    const widening = await oauth.genericTokenEndpointRequest(
      as,
      gateway,
      oauth.ClientSecretBasic(GATEWAY_SECRET),
      EXCHANGE,
      new URLSearchParams({
        subject_token: cc.access_token,
        subject_token_type: ACCESS,
        scope: 'deploy:write',
      }),
      insecure,
    )
    await expect(
      oauth.processGenericTokenEndpointResponse(as, gateway, widening),
    ).rejects.toMatchObject({ error: 'invalid_scope', status: 400 })

    const foreign = await oauth.clientCredentialsGrantRequest(
      as,
      ci,
      platformToken(() => ciToken('evil/api')),
      new URLSearchParams(),
      insecure,
    )
    await expect(oauth.processClientCredentialsResponse(as, ci, foreign)).rejects.toMatchObject({
      error: 'invalid_client',
      status: 401,
    })

    const once = await ciToken()
    const first = await oauth.clientCredentialsGrantRequest(
      as,
      ci,
      platformToken(() => Promise.resolve(once)),
      new URLSearchParams(),
      insecure,
    )
    expect(first.status).toBe(200)
    const replay = await oauth.clientCredentialsGrantRequest(
      as,
      ci,
      platformToken(() => Promise.resolve(once)),
      new URLSearchParams(),
      insecure,
    )
    await expect(oauth.processClientCredentialsResponse(as, ci, replay)).rejects.toMatchObject({
      error: 'invalid_client',
    })
  })
})
