/**
 * `private_key_jwt` for clients that register themselves (RFC 7591 + RFC 7523), under
 * `registration.allowPrivateKeyJwt`: the registration rules for `jwks` / `jwks_uri`, and client
 * assertions at /token over HTTP from oauth4webapi's `PrivateKeyJwt` (keys inline or fetched from
 * the client's https `jwks_uri` through the guarded transport, cached, fetched again on rotation),
 * with the assertion rules (aud = issuer, single-use jti, bounded exp) failing closed.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createNodeTransport } from '../../src/adapters/node-transport.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { CLIENT_ASSERTION_TYPE } from '../../src/config/protocol.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { startClientHost, tableResolver, type ClientHost } from '../helpers/client-host.js'
import { createClock, type TestClock } from '../helpers/gatehouse.js'

// oauth4webapi requires https unless told otherwise; Gatehouse listens on loopback here.
// eslint-disable-next-line @typescript-eslint/no-deprecated
const insecure = { [oauth.allowInsecureRequests]: true }
const REDIRECT = 'http://127.0.0.1/callback'

interface Key {
  privateKey: CryptoKey
  publicJwk: Record<string, unknown>
}

async function newKey(kid: string): Promise<Key> {
  const pair = await generateKeyPair('ES256', { extractable: true })
  return {
    privateKey: pair.privateKey,
    publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' },
  }
}

interface Running {
  gh: Gatehouse
  base: string
  clock: TestClock
  errors: string[]
  close(): Promise<void>
}

async function start(
  config: Record<string, unknown>,
  host: ClientHost | undefined,
): Promise<Running> {
  let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
  const server: Server = createServer((req, res) => {
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const clock = createClock()
  const errors: string[] = []
  const gh = await createGatehouse({
    config: {
      issuer: base,
      secret: randomBytes(32).toString('base64url'),
      resources: [{ url: `${base}/mcp`, scopes: ['mcp:tools'] }],
      ...config,
    },
    store: createMemoryStore(),
    now: clock.now,
    authenticate: () => Promise.resolve({ subject: 'user-1' }),
    // Client authentication at /token is under test, not the consent page.
    dangerouslySkipConsent: true,
    onWarning: () => undefined,
    onError: (e) => errors.push(`${e.code} ${e.reason ?? ''} ${e.message}`),
    ...(host
      ? {
          transport: createNodeTransport({
            ca: host.ca,
            resolve: tableResolver({ 'client.test': ['127.0.0.1'] }).resolve,
          }),
        }
      : {}),
  })
  handler = toNodeHandler((request) => gh.fetch(request))
  return {
    gh,
    base,
    clock,
    errors,
    close: async () => {
      await new Promise((resolve) => server.close(resolve))
      await gh.close()
    },
  }
}

function register(base: string, metadata: Record<string, unknown>): Promise<Response> {
  return fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'key client',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      ...metadata,
    }),
  })
}

/** `/authorize` for `clientId`: the code and its verifier. */
async function authorize(base: string, clientId: string) {
  const verifier = oauth.generateRandomCodeVerifier()
  const url = new URL(`${base}/authorize`)
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'st',
    resource: `${base}/mcp`,
  }).toString()
  const res = await fetch(url, { redirect: 'manual' })
  expect(res.status).toBe(302)
  const location = new URL(res.headers.get('location') ?? '')
  return { location, verifier }
}

/** The code flow finished by oauth4webapi with `PrivateKeyJwt`. */
async function oauth4webapiTokens(run: Running, clientId: string, key: CryptoKey) {
  const as = await oauth.processDiscoveryResponse(
    new URL(run.base),
    await oauth.discoveryRequest(new URL(run.base), { algorithm: 'oauth2', ...insecure }),
  )
  const client = { client_id: clientId }
  const { location, verifier } = await authorize(run.base, clientId)
  const params = oauth.validateAuthResponse(as, client, location, 'st')
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.PrivateKeyJwt({ key, kid: 'k1' }),
    params,
    REDIRECT,
    verifier,
    { additionalParameters: { resource: `${run.base}/mcp` }, ...insecure },
  )
  return oauth.processAuthorizationCodeResponse(as, client, response)
}

/** A hand-made assertion (for the bad ones). */
function assertion(
  run: Running,
  clientId: string,
  key: Key,
  claims: { aud?: string | string[]; exp?: number; jti?: string | null } = {},
  kid = 'k1',
): Promise<string> {
  const now = Math.floor(run.clock.now() / 1000)
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(claims.aud ?? run.base)
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 60)
  if (claims.jti !== null) jwt.setJti(claims.jti ?? randomUUID())
  return jwt.sign(key.privateKey)
}

async function redeem(run: Running, clientId: string, clientAssertion: string) {
  const { location, verifier } = await authorize(run.base, clientId)
  return fetch(`${run.base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: location.searchParams.get('code') ?? '',
      code_verifier: verifier,
      redirect_uri: REDIRECT,
      resource: `${run.base}/mcp`,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: clientAssertion,
    }),
  })
}

describe('private_key_jwt for registered clients', () => {
  let host: ClientHost
  let run: Running
  let key: Key
  let n = 0

  /** Serves `keys` at a fresh path on the client host; returns its https URL. */
  function publish(keys: Record<string, unknown>[], headers: Record<string, string> = {}) {
    const path = `/jwks-${++n}.json`
    host.json(path, { keys }, headers)
    return { path, url: `${host.origin()}${path}` }
  }

  beforeAll(async () => {
    host = await startClientHost()
    key = await newKey('k1')
    // client.test resolves to 127.0.0.1 here: the development switch lets the guard reach it.
    run = await start(
      { registration: { allowPrivateKeyJwt: true, dangerouslyAllowLoopbackJwksUri: true } },
      host,
    )
  })
  afterAll(async () => {
    await run.close()
    await host.close()
  })

  it('is advertised when allowed, and refused at registration when not', async () => {
    const meta = (await (
      await fetch(`${run.base}/.well-known/oauth-authorization-server`)
    ).json()) as Record<string, string[]>
    expect(meta.token_endpoint_auth_methods_supported).toContain('private_key_jwt')
    expect(meta.token_endpoint_auth_signing_alg_values_supported).toContain('ES256')

    const off = await start({}, host)
    try {
      const offMeta = (await (
        await fetch(`${off.base}/.well-known/oauth-authorization-server`)
      ).json()) as Record<string, string[]>
      expect(offMeta.token_endpoint_auth_methods_supported).not.toContain('private_key_jwt')
      const res = await register(off.base, { jwks: { keys: [key.publicJwk] } })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: 'invalid_client_metadata' })
    } finally {
      await off.close()
    }
  })

  it('registration takes exactly one of jwks and jwks_uri, public keys only, an https jwks_uri', async () => {
    const jwksUri = publish([key.publicJwk]).url
    const privateJwk = { ...(await exportJWK(key.privateKey)), kid: 'k1' }
    const bad: [Record<string, unknown>, string][] = [
      [{}, 'neither'],
      [{ jwks: { keys: [key.publicJwk] }, jwks_uri: jwksUri }, 'both'],
      [{ jwks: { keys: [privateJwk] } }, 'a private key'],
      [{ jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'a symmetric key'],
      [{ jwks: { keys: [] } }, 'no keys'],
      [{ jwks_uri: 'http://client.test/jwks.json' }, 'http off loopback'],
      [{ jwks_uri: 'ftp://client.test/jwks.json' }, 'not http(s)'],
      [{ jwks_uri: `https://user:pw@client.test:${host.port}/jwks.json` }, 'userinfo'],
      [{ jwks_uri: 'not a url' }, 'not a URL'],
      [{ jwks_uri: 42 }, 'not a string'],
    ]
    for (const [metadata, why] of bad) {
      const res = await register(run.base, metadata)
      expect(res.status, why).toBe(400)
      expect(await res.json(), why).toMatchObject({ error: 'invalid_client_metadata' })
    }

    const ok = await register(run.base, { jwks_uri: jwksUri })
    expect(ok.status).toBe(201)
    const client = (await ok.json()) as Record<string, unknown>
    expect(client).toMatchObject({
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: jwksUri,
    })
    expect(client.client_secret).toBeUndefined()
    expect(client.jwks).toBeUndefined()
  })

  it('oauth4webapi PrivateKeyJwt with inline jwks gets tokens at /token', async () => {
    const res = await register(run.base, { jwks: { keys: [key.publicJwk] } })
    const { client_id } = (await res.json()) as { client_id: string }
    const tokens = await oauth4webapiTokens(run, client_id, key.privateKey)
    expect(tokens.token_type).toBe('bearer')
    const token = await run.gh.verifyBearer(
      new Request(`${run.base}/mcp`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      }),
    )
    expect(token).toMatchObject({ subject: 'user-1', clientId: client_id })
  })

  it('oauth4webapi PrivateKeyJwt with a jwks_uri: keys fetched once through the guard, then cached', async () => {
    const jwks = publish([key.publicJwk], { 'cache-control': 'max-age=600' })
    const res = await register(run.base, { jwks_uri: jwks.url })
    const { client_id } = (await res.json()) as { client_id: string }
    expect(host.count(jwks.path)).toBe(0)
    const first = await oauth4webapiTokens(run, client_id, key.privateKey)
    expect(first.access_token).toBeTypeOf('string')
    const second = await oauth4webapiTokens(run, client_id, key.privateKey)
    expect(second.access_token).toBeTypeOf('string')
    expect(host.count(jwks.path)).toBe(1)
  })

  it('a rotated key is picked up by fetching the set again, at most once a minute', async () => {
    const jwks = publish([key.publicJwk], { 'cache-control': 'max-age=3600' })
    const { client_id } = (await (await register(run.base, { jwks_uri: jwks.url })).json()) as {
      client_id: string
    }
    expect((await redeem(run, client_id, await assertion(run, client_id, key))).status).toBe(200)
    const rotated = await newKey('k2')
    host.json(jwks.path, { keys: [rotated.publicJwk] })
    // Within a minute of the fetch: the unknown key is refused without another fetch.
    const early = await redeem(run, client_id, await assertion(run, client_id, rotated, {}, 'k2'))
    expect(early.status).toBe(401)
    expect(host.count(jwks.path)).toBe(1)
    run.clock.advance(61)
    const later = await redeem(run, client_id, await assertion(run, client_id, rotated, {}, 'k2'))
    expect(later.status).toBe(200)
    expect(host.count(jwks.path)).toBe(2)
    // The old key is gone from the set now.
    const old = await redeem(run, client_id, await assertion(run, client_id, key))
    expect(old.status).toBe(401)
  })

  it('bad assertions get 401 invalid_client: replayed jti, token endpoint or extra audience, long exp, no jti, wrong key', async () => {
    const { client_id } = (await (
      await register(run.base, { jwks: { keys: [key.publicJwk] } })
    ).json()) as { client_id: string }
    const now = Math.floor(run.clock.now() / 1000)
    const once = await assertion(run, client_id, key)
    expect((await redeem(run, client_id, once)).status).toBe(200)
    const other = await newKey('k1')
    const bad: [string, string][] = [
      [once, 'replayed jti'],
      [await assertion(run, client_id, key, { aud: `${run.base}/token` }), 'token endpoint aud'],
      [await assertion(run, client_id, key, { aud: [run.base, 'https://other.test'] }), 'two auds'],
      [await assertion(run, client_id, key, { exp: now + 3600 }), 'exp an hour ahead'],
      [await assertion(run, client_id, key, { exp: now - 120 }), 'expired'],
      [await assertion(run, client_id, key, { jti: null }), 'no jti'],
      [await assertion(run, client_id, other), 'signed by another key'],
    ]
    for (const [jwt, why] of bad) {
      const res = await redeem(run, client_id, jwt)
      expect(res.status, why).toBe(401)
      expect(await res.json(), why).toMatchObject({ error: 'invalid_client' })
    }
    for (const e of run.errors) expect(e).not.toContain(once)
  })

  it('a jwks_uri that cannot be used (404, not JSON, private keys) gets 401 invalid_client and is not cached', async () => {
    const path = `/broken-${++n}.json`
    const url = `${host.origin()}${path}`
    const { client_id } = (await (await register(run.base, { jwks_uri: url })).json()) as {
      client_id: string
    }
    const missing = await redeem(run, client_id, await assertion(run, client_id, key))
    expect(missing.status).toBe(401)
    const body = (await missing.json()) as Record<string, string>
    expect(body.error).toBe('invalid_client')
    host.route(path, (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<x>'))
    expect((await redeem(run, client_id, await assertion(run, client_id, key))).status).toBe(401)
    host.json(path, { keys: [{ ...(await exportJWK(key.privateKey)), kid: 'k1' }] })
    expect((await redeem(run, client_id, await assertion(run, client_id, key))).status).toBe(401)
    host.json(path, { keys: [key.publicJwk] })
    expect((await redeem(run, client_id, await assertion(run, client_id, key))).status).toBe(200)
    expect(host.count(path)).toBe(4)
  })

  it('without the development switch a jwks_uri on loopback is refused at registration, and one resolving to loopback at /token', async () => {
    const strict = await start({ registration: { allowPrivateKeyJwt: true } }, host)
    try {
      for (const jwksUri of [
        `http://127.0.0.1:${host.port}/jwks.json`,
        `https://localhost:${host.port}/jwks.json`,
      ]) {
        const res = await register(strict.base, { jwks_uri: jwksUri })
        expect(res.status, jwksUri).toBe(400)
      }
      // client.test resolves to 127.0.0.1: the guard refuses the address, nothing is fetched.
      const jwks = publish([key.publicJwk])
      const { client_id } = (await (
        await register(strict.base, { jwks_uri: jwks.url })
      ).json()) as {
        client_id: string
      }
      const res = await redeem(strict, client_id, await assertion(strict, client_id, key))
      expect(res.status).toBe(401)
      expect(host.count(jwks.path)).toBe(0)
    } finally {
      await strict.close()
    }
  })

  it('without an outbound transport only inline jwks can be registered', async () => {
    const bare = await start({ registration: { allowPrivateKeyJwt: true } }, undefined)
    try {
      const byUri = await register(bare.base, { jwks_uri: publish([key.publicJwk]).url })
      expect(byUri.status).toBe(400)
      expect(await byUri.json()).toMatchObject({ error: 'invalid_client_metadata' })
      const inline = await register(bare.base, { jwks: { keys: [key.publicJwk] } })
      expect(inline.status).toBe(201)
    } finally {
      await bare.close()
    }
  })
})
