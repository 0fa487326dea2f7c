/**
 * DPoP end to end with a client nobody here wrote: oauth4webapi's `DPoP()` handle against
 * Gatehouse on a loopback server, with server nonces on at the token endpoint and at the MCP
 * endpoint. The full code flow with `dpop_jkt`, a tool call through the MCP SDK glue with the bound
 * token, the refusals a strict client parses (a bound token sent as Bearer; a refresh with another
 * key), and a refresh with the right key.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { authOf, createMCPHandler, type MCPHandler } from '../../src/mcp/index.js'
import { createMemoryStore } from '../../src/storage/memory.js'

// oauth4webapi requires https unless told otherwise; everything here is on loopback.
// eslint-disable-next-line @typescript-eslint/no-deprecated
const insecure = { [oauth.allowInsecureRequests]: true }

/** Runs `attempt` again once when the server asked for a (new) DPoP nonce (RFC 9449 §8, §9). */
async function withNonceRetry<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return await attempt()
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error
    return attempt()
  }
}

describe('DPoP with a strict client (oauth4webapi)', () => {
  let server: Server
  let issuer: string
  let gh: Gatehouse
  let mcp: MCPHandler

  beforeAll(async () => {
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    gh = await createGatehouse({
      config: {
        issuer,
        secret: 'k'.repeat(32),
        resources: [{ url: `${issuer}/mcp`, scopes: ['mcp:read'], dpop: { nonce: true } }],
        dpop: { nonce: { enabled: true } },
      },
      store: createMemoryStore(),
      authenticate: () => Promise.resolve({ subject: 'dpop-user' }),
      // The client's DPoP handling is under test, not consent.
      dangerouslySkipConsent: true,
      onWarning: () => undefined,
    })
    mcp = createMCPHandler(gh, {
      mode: 'stateless',
      enableJsonResponse: true,
      createServer: ({ jsonSchemaValidator }) => {
        const s = new McpServer({ name: 'dpop', version: '1.0.0' }, { jsonSchemaValidator })
        s.registerTool('whoami', {}, (extra) => ({
          content: [{ type: 'text', text: authOf(extra).extra.subject ?? '' }],
        }))
        return s
      },
    })
    handler = toNodeHandler((r) => (new URL(r.url).pathname === '/mcp' ? mcp(r) : gh.fetch(r)))
  })
  afterAll(async () => {
    await new Promise((done) => server.close(done))
    await mcp.close()
    await gh.close()
  })

  it('runs the code flow with a bound key, calls a tool, and refreshes only with that key', async () => {
    const as = await oauth.processDiscoveryResponse(
      new URL(issuer),
      await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure }),
    )
    expect(as.dpop_signing_alg_values_supported).toContain('ES256')

    const redirectUri = 'http://127.0.0.1:4444/cb'
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          redirect_uris: [redirectUri],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
        },
        insecure,
      ),
    )
    const client: oauth.Client = { client_id: registered.client_id }
    const none = oauth.None()
    const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))

    const verifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const url = new URL(as.authorization_endpoint!)
    url.search = new URLSearchParams({
      client_id: client.client_id,
      redirect_uri: redirectUri,
      response_type: 'code',
      state,
      scope: 'mcp:read',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      resource: `${issuer}/mcp`,
      dpop_jkt: await dpop.calculateThumbprint(),
    }).toString()
    const redirect = await fetch(url, { redirect: 'manual' })
    const params = oauth.validateAuthResponse(
      as,
      client,
      new URL(redirect.headers.get('location')!),
      state,
    )

    // The first token request has no nonce: the server asks for one, the handle retries with it.
    let askedForNonce = false
    const tokens = await withNonceRetry(async () => {
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        none,
        params,
        redirectUri,
        verifier,
        { DPoP: dpop, ...insecure },
      )
      if (response.status === 400) askedForNonce = true
      return oauth.processAuthorizationCodeResponse(as, client, response)
    })
    expect(askedForNonce).toBe(true)
    expect(tokens.token_type).toBe('dpop')

    const callTool = (accessToken: string, handle: oauth.DPoPHandle | undefined) =>
      withNonceRetry(() =>
        oauth.protectedResourceRequest(
          accessToken,
          'POST',
          new URL(`${issuer}/mcp`),
          new Headers({
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          }),
          JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: { name: 'whoami', arguments: {} },
          }),
          { ...(handle ? { DPoP: handle } : {}), ...insecure },
        ),
      )
    const answer = await callTool(tokens.access_token, dpop)
    expect(answer.status).toBe(200)
    const result = (await answer.json()) as { result: { content: { text: string }[] } }
    expect(result.result.content[0]?.text).toBe('dpop-user')

    // The same token as a bearer token: refused, with challenges the strict client parses.
    const asBearer = await callTool(tokens.access_token, undefined).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(asBearer).toBeInstanceOf(oauth.WWWAuthenticateChallengeError)
    const challenges = (asBearer as oauth.WWWAuthenticateChallengeError).cause
    expect(challenges.map((c) => c.scheme)).toEqual(['bearer', 'dpop'])
    expect(challenges[1]?.parameters.error).toBe('invalid_token')
    expect(challenges[1]?.parameters.algs).toContain('ES256')

    // Another key cannot use the public client's refresh token (and spends nothing).
    const thief = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
    const refresh = (handle: oauth.DPoPHandle) =>
      withNonceRetry(async () =>
        oauth.processRefreshTokenResponse(
          as,
          client,
          await oauth.refreshTokenGrantRequest(as, client, none, tokens.refresh_token!, {
            DPoP: handle,
            ...insecure,
          }),
        ),
      )
    await expect(refresh(thief)).rejects.toMatchObject({ error: 'invalid_grant' })

    const refreshed = await refresh(dpop)
    expect(refreshed.token_type).toBe('dpop')
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token)
    expect((await callTool(refreshed.access_token, dpop)).status).toBe(200)
  })
})
