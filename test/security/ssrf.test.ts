/**
 * Catalogue A.2.14: SSRF on every URL Gatehouse fetches. The guarded fetch with the Node transport
 * (resolver injected, test CA) and the metadata-document sites that use it; the client host's
 * request log says what reached it.
 */
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeTransport } from '../../src/adapters/node-transport.js'
import { UpstreamError } from '../../src/errors.js'
import { createGuardedFetch, type GuardedFetchOptions } from '../../src/http/guarded-fetch.js'
import { JWTVerifier } from '../../src/jwt/verifier.js'
import { CLIENT_ASSERTION_TYPE } from '../../src/config/protocol.js'
import { startClientHost, tableResolver, type ClientHost } from '../helpers/client-host.js'
import {
  authorizeRequest,
  createCIMDGatehouse,
  LOCAL_REDIRECT,
  APP_REDIRECT,
  metadataDocument,
} from '../helpers/cimd.js'
import { form, getCode, ISSUER } from '../helpers/gatehouse.js'

const SPECIAL = [
  '127.0.0.1',
  '10.0.0.1',
  '172.16.0.1',
  '192.168.1.1',
  '169.254.169.254',
  '100.64.0.1',
  '0.0.0.0',
  '::1',
  'fe80::1',
  'fc00::1',
  '::ffff:127.0.0.1',
  '2130706433',
  '0x7f.1',
  '0177.0.0.1',
  'not-an-address',
]

let host: ClientHost
let n = 0
const path = (name: string) => `/${name}-${++n}.json`

beforeAll(async () => {
  host = await startClientHost()
})
afterAll(async () => {
  await host.close()
})

function guarded(
  table: Record<string, string[] | ((n: number) => string[])>,
  options: GuardedFetchOptions & { proxy?: string } = {},
) {
  const resolver = tableResolver(table)
  const { proxy, ...rest } = options
  const fetch = createGuardedFetch({
    transport: createNodeTransport({
      ca: host.ca,
      resolve: resolver.resolve,
      ...(proxy !== undefined ? { proxy } : {}),
    }),
    ...rest,
  })
  return { fetch, lookups: resolver.lookups }
}

async function refusal(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(UpstreamError)
  return error as UpstreamError
}

describe('A.2.14 SSRF', () => {
  it('SSRF-01: http URLs are refused at runtime, for documents and for their jwks_uri', async () => {
    const { fetch, lookups } = guarded(
      { 'client.test': ['127.0.0.1'] },
      { allowHttpLoopback: true },
    )
    expect((await refusal(fetch(`http://client.test:${host.port}/x`))).code).toBe(
      'ERR_FETCH_BLOCKED',
    )
    expect(lookups).toEqual([])
    const t = await createCIMDGatehouse(host)
    const p = path('http-jwks')
    host.json(
      p,
      metadataDocument(host, p, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks_uri: `http://client.test:${host.port}${p}.jwks`,
      }),
    )
    const res = await authorizeRequest(t, `${host.origin()}${p}`)
    expect(res.status).toBe(400)
    expect(t.errors.at(-1)?.reason).toBe('cimd_ERR_FETCH_BLOCKED')
    expect(host.count(`${p}.jwks`)).toBe(0)
  })

  it('SSRF-02: every special-use answer is refused before connecting, also with the development switch', async () => {
    const table = Object.fromEntries(SPECIAL.map((a, i) => [`h${i}.test`, [a]]))
    for (const allowHttpLoopback of [false, true]) {
      const { fetch } = guarded(table, { allowHttpLoopback })
      const before = host.count()
      for (let i = 0; i < SPECIAL.length; i++) {
        const loopback = ['127.0.0.1', '::1', '2130706433', '0x7f.1', '0177.0.0.1'].includes(
          SPECIAL[i]!,
        )
        if (allowHttpLoopback && loopback) continue
        const error = await refusal(fetch(`https://h${i}.test:${host.port}/x`))
        expect(error.code, SPECIAL[i]).toBe('ERR_FETCH_BLOCKED')
      }
      expect(host.count()).toBe(before)
    }
    // A name with one public and one private answer is refused as a whole.
    const mixed = guarded({ 'mixed.test': ['93.184.216.34', '10.0.0.1'] })
    expect((await refusal(mixed.fetch('https://mixed.test/x'))).code).toBe('ERR_FETCH_BLOCKED')
  })

  it('SSRF-02: a jwks_uri in a document that resolves to the metadata service is refused', async () => {
    const t = await createCIMDGatehouse(host, {
      resolve: { 'client.test': ['127.0.0.1'], 'keys.test': ['169.254.169.254'] },
    })
    const p = path('meta-jwks')
    host.json(
      p,
      metadataDocument(host, p, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks_uri: 'https://keys.test/jwks.json',
      }),
    )
    expect((await authorizeRequest(t, `${host.origin()}${p}`)).status).toBe(400)
    expect(t.errors.at(-1)?.reason).toBe('cimd_ERR_FETCH_BLOCKED')
  })

  it('SSRF-02: the IdP key URL is checked after resolution; an internal IdP needs dangerouslyAllowPrivateNetwork', async () => {
    const keys = await generateKeyPair('ES256')
    const jwksPath = path('idp-jwks')
    host.json(jwksPath, {
      keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'i1', alg: 'ES256', use: 'sig' }],
    })
    const issuer = 'https://idp.test'
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'i1' })
      .setIssuer(issuer)
      .setSubject('user')
      .setAudience('gatehouse')
      .setExpirationTime('1m')
      .sign(keys.privateKey)
    const verifier = (dangerouslyAllowPrivateNetwork: boolean) =>
      new JWTVerifier({
        issuer,
        audience: 'gatehouse',
        jwksUri: `${host.origin('other.test')}${jwksPath}`,
        transport: createNodeTransport({
          ca: host.ca,
          resolve: tableResolver({ 'other.test': ['127.0.0.1'] }).resolve,
        }),
        dangerouslyAllowPrivateNetwork,
      })
    await expect(verifier(false).verifyToken(token)).rejects.toMatchObject({
      code: 'ERR_FETCH_BLOCKED',
    })
    expect(host.count(jwksPath)).toBe(0)
    expect((await verifier(true).verifyToken(token))?.subject).toBe('user')
    expect(host.count(jwksPath)).toBe(1)
  })

  it('SSRF-03: a redirect to an internal address is not followed', async () => {
    const p = path('to-internal')
    host.route(p, (_req, res) => {
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }).end()
    })
    const { fetch, lookups } = guarded(
      { 'client.test': ['127.0.0.1'] },
      { allowHttpLoopback: true },
    )
    const error = await refusal(fetch(`${host.origin()}${p}`))
    expect(error.code).toBe('ERR_UPSTREAM_RESPONSE')
    expect(error.message).not.toContain('169.254')
    expect(lookups).toEqual(['client.test'])
  })

  it('SSRF-04: with a rebinding resolver the connection goes to the checked address, resolved once', async () => {
    const p = path('rebinding')
    host.json(p, { ok: true })
    const { fetch, lookups } = guarded(
      { 'client.test': (i) => (i === 1 ? ['127.0.0.1'] : ['10.0.0.1']) },
      { allowHttpLoopback: true },
    )
    const response = await fetch(`${host.origin()}${p}`)
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ ok: true })
    expect(lookups).toEqual(['client.test'])
    // TLS was checked against the name, not the pinned IP: the Host header kept the name.
    expect(host.requests.at(-1)?.host).toBe(`client.test:${host.port}`)
    expect((await refusal(fetch(`${host.origin()}${p}`))).code).toBe('ERR_FETCH_BLOCKED')
    expect(host.count(p)).toBe(1)
  })

  it('SSRF-05: jku and x5u headers of a client assertion are never fetched', async () => {
    const t = await createCIMDGatehouse(host)
    const attacker = await generateKeyPair('ES256')
    const attackerJwk = { ...(await exportJWK(attacker.publicKey)), kid: 'a1', alg: 'ES256' }
    const jwksPath = path('attacker-jwks')
    host.json(jwksPath, { keys: [attackerJwk] })
    const owner = await generateKeyPair('ES256')
    const p = path('jku-client')
    host.json(
      p,
      metadataDocument(host, p, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...(await exportJWK(owner.publicKey)), kid: 'o1', alg: 'ES256' }] },
      }),
    )
    const id = `${host.origin()}${p}`
    const code = await getCode(t, { client_id: id, redirect_uris: [LOCAL_REDIRECT, APP_REDIRECT] })
    const signed = await new SignJWT({})
      .setProtectedHeader({
        alg: 'ES256',
        kid: 'a1',
        jku: `${host.origin()}${jwksPath}`,
        x5u: `${host.origin()}${jwksPath}`,
      })
      .setIssuer(id)
      .setSubject(id)
      .setAudience(`${ISSUER}/token`)
      .setExpirationTime('1m')
      .setJti('j1')
      .sign(attacker.privateKey)
    const res = await t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code: code.code,
        code_verifier: code.verifier,
        redirect_uri: APP_REDIRECT,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: signed,
      }),
    )
    expect(res.status).toBe(401)
    expect(host.count(jwksPath)).toBe(0)
  })

  it('SSRF-06: an identity assertion naming an attacker issuer causes no fetch', async () => {
    const t = await createCIMDGatehouse(host)
    const before = host.count()
    const attacker = await generateKeyPair('ES256')
    const idJag = await new SignJWT({ client_id: 'x', resource: 'https://as.test/mcp' })
      .setProtectedHeader({ alg: 'ES256', typ: 'oauth-id-jag+jwt' })
      .setIssuer(host.origin())
      .setSubject('mallory')
      .setAudience(ISSUER)
      .setExpirationTime('1m')
      .setJti('jag-1')
      .sign(attacker.privateKey)
    const res = await t.call(
      '/token',
      form({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        assertion: idJag,
        client_id: 'unknown-client',
      }),
    )
    expect(res.status).toBeGreaterThanOrEqual(400)
    expect(host.count()).toBe(before)
    expect(t.lookups).toEqual([])
  })

  it('SSRF-07: a remote error body never reaches the caller', async () => {
    const p = path('secret-500')
    host.route(p, (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"secret-123"}')
    })
    const t = await createCIMDGatehouse(host)
    const id = `${host.origin()}${p}`
    const page = await authorizeRequest(t, id)
    expect(page.status).toBe(400)
    const html = await page.text()
    expect(html).toContain(id)
    expect(html).not.toContain('secret-123')
    expect(html.replaceAll(id, '')).not.toMatch(/500|Internal/)
    const token = await t.call(
      '/token',
      form({ grant_type: 'authorization_code', code: 'c', code_verifier: 'v', client_id: id }),
    )
    expect(token.status).toBe(401)
    const body = await token.text()
    expect(body).not.toContain('secret-123')
    expect(JSON.parse(body)).toEqual({
      error: 'invalid_client',
      error_description: 'client authentication failed',
    })
  })

  it('SSRF-08: file, gopher, ftp and data URLs are refused', async () => {
    const { fetch, lookups } = guarded({})
    for (const u of [
      'file:///etc/passwd',
      'gopher://client.test/x',
      'ftp://client.test/x',
      'data:application/json,{}',
    ]) {
      expect((await refusal(fetch(u))).code).toBe('ERR_FETCH_BLOCKED')
    }
    expect(lookups).toEqual([])
    // As client ids they are not URLs Gatehouse resolves: plain unknown clients, nothing fetched.
    const t = await createCIMDGatehouse(host)
    expect((await authorizeRequest(t, 'file:///etc/passwd')).status).toBe(400)
    expect(t.lookups).toEqual([])
  })

  it('SSRF-09: document fetches are limited per target host, and concurrency per host is bounded', async () => {
    const t = await createCIMDGatehouse(host, { cimd: { fetchesPerHostPerMinute: 5 } })
    const before = host.count()
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => authorizeRequest(t, `${host.origin()}/flood-${i}.json`)),
    )
    expect(results.every((r) => r.status === 400)).toBe(true)
    expect(host.count() - before).toBe(5)
    expect(t.errors.filter((e) => e.reason === 'rate_limited')).toHaveLength(15)

    // The flood cannot lock out a client this instance has already loaded (review finding).
    const known = path('known')
    host.json(known, metadataDocument(host, known), { 'cache-control': 'no-store' })
    const u = await createCIMDGatehouse(host, {
      cimd: { fetchesPerHostPerMinute: 5, minCacheSeconds: 0 },
    })
    expect((await authorizeRequest(u, `${host.origin()}${known}`)).status).toBe(302)
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => authorizeRequest(u, `${host.origin()}/junk-${i}.json`)),
    )
    expect(u.errors.filter((e) => e.reason === 'rate_limited').length).toBeGreaterThan(0)
    const again = await authorizeRequest(u, `${host.origin()}${known}`)
    expect(again.status).toBe(302)
    expect(host.count(known)).toBe(2)

    let active = 0
    let peak = 0
    const slow = path('slow')
    host.route(slow, (_req, res) => {
      active++
      peak = Math.max(peak, active)
      setTimeout(() => {
        active--
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      }, 100)
    })
    const { fetch } = guarded(
      { 'client.test': ['127.0.0.1'] },
      { allowHttpLoopback: true, maxConcurrentPerHost: 2 },
    )
    const all = await Promise.all(Array.from({ length: 6 }, () => fetch(`${host.origin()}${slow}`)))
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200])
    expect(peak).toBe(2)
  })

  it('SSRF-10: an egress proxy carries every fetch, tunnelled to the checked address', async () => {
    const tunnels: string[] = []
    const sockets: Socket[] = []
    const proxy: Server = createServer()
    proxy.on('connect', (req, client: Socket, head) => {
      tunnels.push(req.url ?? '')
      sockets.push(client)
      const [h, port] = (req.url ?? '').split(/:(?=\d+$)/)
      const upstream = connect(Number(port), h!.replace(/^\[|\]$/g, ''), () => {
        client.write('HTTP/1.1 200 Connection established\r\n\r\n')
        upstream.write(head)
        upstream.pipe(client)
        client.pipe(upstream)
      })
      upstream.on('error', () => client.destroy())
    })
    await new Promise<void>((done) => proxy.listen(0, '127.0.0.1', done))
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
      const p = path('proxied')
      host.json(p, metadataDocument(host, p))
      const t = await createCIMDGatehouse(host, { proxy: proxyUrl })
      expect((await authorizeRequest(t, `${host.origin()}${p}`)).status).toBe(302)
      expect(tunnels).toEqual([`127.0.0.1:${host.port}`])
      // The proxy never sees a name it would resolve itself, and refused addresses never reach it.
      const { fetch } = guarded({ 'x.test': ['10.0.0.1'] }, { proxy: proxyUrl })
      expect((await refusal(fetch('https://x.test/y'))).code).toBe('ERR_FETCH_BLOCKED')
      expect(tunnels).toHaveLength(1)
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise<void>((done) =>
        proxy.close(() => {
          done()
        }),
      )
    }
  })
})
