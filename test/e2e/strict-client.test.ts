/**
 * A strict spec client (oauth4webapi) against Gatehouse on a real loopback server: RFC 8414
 * discovery with issuer equality, RFC 7591 registration, PKCE, the RFC 9207 `iss` check on the
 * authorization response, the token and refresh grants, and revocation.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'

// oauth4webapi requires https unless told otherwise; everything here is on loopback.
// eslint-disable-next-line @typescript-eslint/no-deprecated
const insecure = { [oauth.allowInsecureRequests]: true }

describe('a strict OAuth client (oauth4webapi)', () => {
  let server: Server
  let issuer: string
  let gh: Gatehouse

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
        resources: [{ url: `${issuer}/mcp`, scopes: ['mcp:read'] }],
      },
      store: createMemoryStore(),
      authenticate: () => Promise.resolve({ subject: 'strict-user' }),
      // The strict client's redirect handling is under test, not consent.
      dangerouslySkipConsent: true,
      onWarning: () => undefined,
    })
    handler = toNodeHandler((r) => gh.fetch(r))
  })
  afterAll(async () => {
    await new Promise((done) => server.close(done))
    await gh.close()
  })

  it('discovers, registers, authorizes with PKCE, checks iss, redeems, refreshes and revokes', async () => {
    const as = await oauth.processDiscoveryResponse(
      new URL(issuer),
      await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure }),
    )
    expect(as.issuer).toBe(issuer)
    expect(as.authorization_response_iss_parameter_supported).toBe(true)

    const redirectUri = 'http://127.0.0.1:4444/cb'
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          redirect_uris: [redirectUri],
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['authorization_code', 'refresh_token'],
        },
        insecure,
      ),
    )
    const client: oauth.Client = { client_id: registered.client_id }
    const auth = oauth.ClientSecretBasic(registered.client_secret as string)

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
    }).toString()
    const redirect = await fetch(url, { redirect: 'manual' })
    const callback = new URL(redirect.headers.get('location')!)
    // RFC 9207: the library insists on iss equal to the discovered issuer.
    const params = oauth.validateAuthResponse(as, client, callback, state)
    const forged = new URL(callback)
    forged.searchParams.set('iss', 'https://evil.test')
    expect(() => oauth.validateAuthResponse(as, client, forged, state)).toThrow()

    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        auth,
        params,
        redirectUri,
        verifier,
        insecure,
      ),
    )
    expect(tokens.token_type).toBe('bearer')
    expect(tokens.scope).toBe('mcp:read')
    expect(tokens.refresh_token).toBeTypeOf('string')

    // The access token is an RFC 9068 JWT that oauth4webapi's resource-server check accepts.
    const claims = await oauth.validateJwtAccessToken(
      as,
      new Request(`${issuer}/mcp`, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
      `${issuer}/mcp`,
      insecure,
    )
    expect(claims.sub).toBe('strict-user')

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, insecure),
    )
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token)

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client, auth, refreshed.refresh_token!, insecure),
    )
    await expect(
      oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token!, insecure),
      ),
    ).rejects.toMatchObject({ error: 'invalid_grant' })
  })
})
