/**
 * The OIDC proxy signs users in at identity providers whose ID tokens are not RS256: the embedded
 * oidc-provider signs with ES256, PS256 or EdDSA (one run each), and the whole sign-in goes through
 * Gatehouse's consent page, the IdP's login form, the callback, /token and the protected endpoint.
 * The expected algorithms come from `upstream.algorithm` or else the discovery document, and
 * symmetric or `none` algorithms are never accepted for ID tokens.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import {
  startDevIdentityProvider,
  type DevIdP,
  type DevIdPSigningAlgorithm,
} from '../../src/dev/oidc-idp/index.js'
import { ConfigError } from '../../src/errors.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { closeServer, listenLoopback } from '../helpers/browser.js'
import { approveAndSignIn, UserAgent } from '../helpers/user-agent.js'

// Gatehouse runs in-process (the user agent routes its origin to `gh.fetch`); nothing listens here.
const GH = 'http://127.0.0.1:7778'
const CLIENT_REDIRECT = 'http://127.0.0.1:5556/cb'
const ALICE = { username: 'alice', password: 'wonderland' }
const UPSTREAM_SECRET = 'upstream-secret-value'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  for (const thing of open.splice(0).reverse()) await thing.close()
})

async function startIdP(idTokenSigningAlg?: DevIdPSigningAlgorithm): Promise<DevIdP> {
  const idp = await startDevIdentityProvider({
    users: [{ ...ALICE, sub: 'alice-sub' }],
    clients: [
      {
        clientId: 'gatehouse',
        clientSecret: UPSTREAM_SECRET,
        redirectUris: [`${GH}/auth/callback`],
      },
    ],
    ...(idTokenSigningAlg ? { idTokenSigningAlg } : {}),
  })
  open.push(idp)
  return idp
}

async function startGatehouse(
  configUrl: string,
  upstream: Record<string, unknown> = {},
): Promise<{ gh: Gatehouse; reasons: string[]; warnings: string[] }> {
  const reasons: string[] = []
  const warnings: string[] = []
  const gh = await createGatehouse({
    config: {
      issuer: GH,
      secret: 'a'.repeat(32),
      resources: [{ url: `${GH}/mcp`, scopes: ['mcp:read'] }],
      upstream: {
        kind: 'oidc',
        configUrl,
        clientId: 'gatehouse',
        clientSecret: UPSTREAM_SECRET,
        ...upstream,
      },
    },
    store: createMemoryStore(),
    signatureVerifier: nodeSignatureVerifier,
    onError: (e) => reasons.push(`${e.code} ${e.reason ?? ''}`),
    onWarning: (message) => warnings.push(message),
  })
  open.push(gh)
  return { gh, reasons, warnings }
}

/**
 * An MCP client's sign-in: register, /authorize, consent, the IdP's login, back to the client.
 * Returns the client's callback parameters and, when there is a code, the `sub` the protected
 * endpoint sees with the access token it redeems for.
 */
async function signIn(gh: Gatehouse): Promise<{ callback: URLSearchParams; sub?: string }> {
  const registered = await gh.fetch(
    new Request(`${GH}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [CLIENT_REDIRECT],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        client_name: 'Algorithm test client',
      }),
    }),
  )
  expect(registered.status).toBe(201)
  const { client_id: clientId } = (await registered.json()) as { client_id: string }
  const verifier = randomBytes(32).toString('base64url')
  const authorize = `${GH}/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: CLIENT_REDIRECT,
    state: 'client-state',
    scope: 'mcp:read',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource: `${GH}/mcp`,
  })}`
  const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
  const landed = await approveAndSignIn(ua, authorize, ALICE, CLIENT_REDIRECT)
  const callback = landed.searchParams
  expect(callback.get('state')).toBe('client-state')
  expect(callback.get('iss')).toBe(GH)
  const code = callback.get('code')
  if (code === null) return { callback }
  const token = await gh.fetch(
    new Request(`${GH}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: CLIENT_REDIRECT,
        client_id: clientId,
      }).toString(),
    }),
  )
  expect(token.status).toBe(200)
  const { access_token: accessToken } = (await token.json()) as { access_token: string }
  const mcp = gh.protect((_r, t) => Response.json({ sub: t.subject }))
  const call = await mcp(
    new Request(`${GH}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${accessToken}` },
    }),
  )
  expect(call.status).toBe(200)
  return { callback, sub: ((await call.json()) as { sub: string }).sub }
}

/** Serves `doc` as a discovery document on loopback and returns its URL. */
async function serveDiscovery(doc: Record<string, unknown>): Promise<string> {
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(doc))
  })
  const origin = await listenLoopback(server)
  open.push({ close: () => closeServer(server) })
  return `${origin}/.well-known/openid-configuration`
}

async function discoveryOf(idp: DevIdP): Promise<Record<string, unknown>> {
  const res = await fetch(`${idp.issuer}/.well-known/openid-configuration`)
  return (await res.json()) as Record<string, unknown>
}

describe('OIDC proxy with ID tokens signed by other algorithms than RS256', () => {
  describe.each(['ES256', 'PS256', 'EdDSA'] as const)('an IdP that signs with %s', (alg) => {
    it('signs the user in with the algorithm taken from the discovery document', async () => {
      const idp = await startIdP(alg)
      // The IdP advertises and holds nothing but this algorithm, so RS256 cannot be what passes.
      expect((await discoveryOf(idp)).id_token_signing_alg_values_supported).toEqual([alg])
      expect(idp.jwks().keys.map((k) => k.alg)).toEqual([alg])
      const { gh, reasons } = await startGatehouse(`${idp.issuer}/.well-known/openid-configuration`)
      const { callback, sub } = await signIn(gh)
      expect(callback.get('error')).toBeNull()
      expect(sub).toBe('alice-sub')
      expect(reasons).toEqual([])
    })

    it('signs the user in with the algorithm named in upstream.algorithm', async () => {
      const idp = await startIdP(alg)
      const { gh } = await startGatehouse(`${idp.issuer}/.well-known/openid-configuration`, {
        algorithm: alg,
      })
      expect((await signIn(gh)).sub).toBe('alice-sub')
    })
  })

  it('warns at start and refuses the sign-in when the ID token is not signed with upstream.algorithm', async () => {
    const idp = await startIdP('ES256')
    const { gh, reasons, warnings } = await startGatehouse(
      `${idp.issuer}/.well-known/openid-configuration`,
      {
        algorithm: 'RS256',
      },
    )
    const { callback, sub } = await signIn(gh)
    expect(callback.get('code')).toBeNull()
    expect(callback.get('error')).toBe('temporarily_unavailable')
    expect(sub).toBeUndefined()
    // Refused at the code exchange (the ID token's `alg`), before any key is looked at.
    expect(reasons).toEqual(['temporarily_unavailable ERR_UPSTREAM'])
    expect(warnings).toEqual([
      expect.stringMatching(/upstream\.algorithm RS256 is not in .*\(ES256\)/),
    ])
  })

  it('ignores HS* and none in the discovery document and keeps the asymmetric algorithms', async () => {
    const idp = await startIdP('ES256')
    const doc = await discoveryOf(idp)
    const configUrl = await serveDiscovery({
      ...doc,
      id_token_signing_alg_values_supported: ['none', 'HS256', 'ES256'],
    })
    // Not strict: the document is served at another URL than its issuer's.
    const { gh } = await startGatehouse(configUrl, { strict: false })
    expect((await signIn(gh)).sub).toBe('alice-sub')
  })

  it('refuses to start when the IdP offers only HS* or none for ID tokens', async () => {
    const idp = await startIdP()
    const doc = await discoveryOf(idp)
    for (const algs of [['HS256'], ['none'], ['HS256', 'HS512', 'none']]) {
      const configUrl = await serveDiscovery({
        ...doc,
        id_token_signing_alg_values_supported: algs,
      })
      const started = startGatehouse(configUrl, { strict: false })
      await expect(started).rejects.toThrow(ConfigError)
      await expect(started).rejects.toThrow(/id_token_signing_alg_values_supported/)
    }
  })
})
