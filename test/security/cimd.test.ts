/**
 * Catalogue A.2.3: Client ID Metadata Documents, against an HTTPS client host on loopback (test CA)
 * and a table resolver. Every refusal also asserts what the client host saw: nothing, where
 * nothing may be fetched.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNodeTransport } from '../../src/adapters/node-transport.js'
import { startClientHost, type ClientHost } from '../helpers/client-host.js'
import {
  APP_REDIRECT,
  authorizeRequest,
  createCIMDGatehouse,
  LOCAL_REDIRECT,
  metadataDocument,
  UNREACHED_UPSTREAM,
} from '../helpers/cimd.js'
import {
  createTestGatehouse,
  getTokens,
  form,
  type RegisteredClient,
} from '../helpers/gatehouse.js'
import { hiddenInput, UserAgent } from '../helpers/user-agent.js'

let host: ClientHost
let n = 0
/** A fresh path per use, so tests never share a cached document. */
const path = (name: string) => `/${name}-${++n}.json`
const url = (p: string, name = 'client.test') => `${host.origin(name)}${p}`

beforeAll(async () => {
  host = await startClientHost()
})
afterAll(async () => {
  await host.close()
})

/** The client record tests hand to the helpers (the document's URL and redirect URIs). */
function asClient(p: string): RegisteredClient {
  return { client_id: url(p), redirect_uris: [LOCAL_REDIRECT, APP_REDIRECT] }
}

async function expectRefusedPage(response: Response): Promise<string> {
  expect(response.status).toBe(400)
  expect(response.headers.get('location')).toBeNull()
  return response.text()
}

describe('A.2.3 Client ID Metadata Documents', () => {
  it('CIMD-01: the consent page shows the client name, the document host, the redirect host and a localhost warning', async () => {
    const p = path('consent')
    host.json(p, metadataDocument(host, p))
    const t = await createCIMDGatehouse(host, { config: { upstream: UNREACHED_UPSTREAM } })
    const res = await authorizeRequest(t, url(p), { redirect_uri: LOCAL_REDIRECT })
    expect(res.status).toBe(302)
    const consent = await t.call(res.headers.get('location')!)
    const html = await consent.text()
    expect(consent.status).toBe(200)
    expect(html).toContain('Acme Agent')
    expect(html).toContain(`client.test:${host.port}`)
    expect(html).toContain('id="redirect-host">127.0.0.1:5000<')
    expect(html).toContain('class="warn"')
    expect(host.count(p)).toBe(1)
  })

  it('CIMD-02: an http client_id is refused without any fetch', async () => {
    const t = await createCIMDGatehouse(host, { allowLoopback: false })
    const p = path('http')
    host.json(p, metadataDocument(host, p))
    const before = host.count()
    const res = await authorizeRequest(t, `http://client.test:${host.port}${p}`)
    await expectRefusedPage(res)
    expect(t.errors.at(-1)).toMatchObject({ code: 'invalid_client', reason: 'cimd_bad_url' })
    expect(host.count()).toBe(before)
    expect(t.lookups).toEqual([])
  })

  it('CIMD-03: a client_id URL without a path is refused without any fetch', async () => {
    const t = await createCIMDGatehouse(host)
    const before = host.count()
    for (const id of [host.origin(), `${host.origin()}/`]) {
      await expectRefusedPage(await authorizeRequest(t, id))
    }
    expect(host.count()).toBe(before)
    expect(t.lookups).toEqual([])
  })

  it('CIMD-04: user information, dot segments and fragments are refused without any fetch', async () => {
    const t = await createCIMDGatehouse(host)
    const before = host.count()
    const o = host.origin()
    for (const id of [
      `https://u:p@client.test:${host.port}/m.json`,
      `${o}/a/../m.json`,
      `${o}/a/%2e%2e/m.json`,
      `${o}/m.json#x`,
      `https://CLIENT.test:${host.port}/m.json`,
    ]) {
      await expectRefusedPage(await authorizeRequest(t, id))
    }
    expect(host.count()).toBe(before)
    expect(t.lookups).toEqual([])
  })

  it('CIMD-05: a document whose client_id differs from its URL (even by a slash) is refused', async () => {
    const p = path('mismatch')
    host.json(p, metadataDocument(host, p, { client_id: `${url(p)}/` }))
    const t = await createCIMDGatehouse(host)
    await expectRefusedPage(await authorizeRequest(t, url(p)))
    expect(t.errors.at(-1)).toMatchObject({
      code: 'invalid_client',
      reason: 'cimd_client_id_mismatch',
    })
  })

  it('CIMD-06: documents without redirect_uris or client_name, invalid JSON, or an array are refused', async () => {
    const t = await createCIMDGatehouse(host)
    const noRedirects = path('no-redirects')
    const withoutRedirects = metadataDocument(host, noRedirects)
    delete withoutRedirects.redirect_uris
    host.json(noRedirects, withoutRedirects)
    const noName = path('no-name')
    const withoutName = metadataDocument(host, noName)
    delete withoutName.client_name
    host.json(noName, withoutName)
    const broken = path('broken')
    host.route(broken, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"client_id":')
    })
    const array = path('array')
    host.json(array, [metadataDocument(host, array)])
    const reasons: (string | undefined)[] = []
    for (const p of [noRedirects, noName, broken, array]) {
      await expectRefusedPage(await authorizeRequest(t, url(p)))
      reasons.push(t.errors.at(-1)?.reason)
    }
    expect(reasons).toEqual([
      'cimd_no_redirect_uris',
      'cimd_no_client_name',
      'cimd_not_json',
      'cimd_not_object',
    ])
  })

  it('CIMD-07: a redirect URI the document does not list is refused without a redirect', async () => {
    const p = path('redirect')
    host.json(p, metadataDocument(host, p))
    const t = await createCIMDGatehouse(host)
    await expectRefusedPage(
      await authorizeRequest(t, url(p), { redirect_uri: 'https://evil.test/cb' }),
    )
    expect(t.errors.at(-1)?.reason).toBe('redirect_mismatch')
  })

  it('CIMD-08: a redirect from the document URL is not followed', async () => {
    const p = path('moved')
    const target = path('target')
    host.json(target, metadataDocument(host, target))
    host.route(p, (_req, res) => {
      res.writeHead(302, { location: url(target, 'other.test') }).end()
    })
    const t = await createCIMDGatehouse(host)
    await expectRefusedPage(await authorizeRequest(t, url(p)))
    expect(host.count(p)).toBe(1)
    expect(host.count(target)).toBe(0)
    expect(t.lookups).not.toContain('other.test')
  })

  it('CIMD-09: an error status is refused and not cached: the next request fetches again', async () => {
    const p = path('flaky')
    const t = await createCIMDGatehouse(host)
    await expectRefusedPage(await authorizeRequest(t, url(p)))
    host.json(p, metadataDocument(host, p))
    const ok = await authorizeRequest(t, url(p))
    expect(ok.status).toBe(302)
    expect(new URL(ok.headers.get('location')!).searchParams.get('code')).toBeTruthy()
    expect(host.count(p)).toBe(2)
  })

  it('CIMD-10: an oversized document is cut off at the cap, declared or streamed', async () => {
    const t = await createCIMDGatehouse(host)
    const declared = path('declared')
    host.route(declared, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '99999999' })
      res.write('{')
    })
    const streamed = path('streamed')
    host.route(streamed, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      let sent = 0
      const pump = () => {
        while (sent < 10 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      pump()
    })
    const started = Date.now()
    for (const p of [declared, streamed]) {
      await expectRefusedPage(await authorizeRequest(t, url(p)))
      expect(t.errors.at(-1)?.reason).toBe('cimd_ERR_UPSTREAM_RESPONSE')
    }
    expect(Date.now() - started).toBeLessThan(3000)
  })

  it('CIMD-11: a host that stalls after the headers times out within 5 s and blocks nothing else', async () => {
    const stalled = path('stall')
    host.route(stalled, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"client_id":')
    })
    const fine = path('fine')
    host.json(fine, metadataDocument(host, fine))
    const t = await createCIMDGatehouse(host)
    const started = Date.now()
    const slow = authorizeRequest(t, url(stalled))
    const other = await authorizeRequest(t, url(fine))
    expect(other.status).toBe(302)
    expect(Date.now() - started).toBeLessThan(1000)
    await expectRefusedPage(await slow)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(t.errors.some((e) => e.reason === 'cimd_ERR_UPSTREAM_TIMEOUT')).toBe(true)
  })

  it('CIMD-12: documents with a shared-secret method or a client_secret are refused', async () => {
    const t = await createCIMDGatehouse(host)
    const cases = [
      { token_endpoint_auth_method: 'client_secret_basic' },
      { token_endpoint_auth_method: 'client_secret_post' },
      { token_endpoint_auth_method: 'client_secret_jwt' },
      { client_secret: 'shh' },
    ]
    for (const extra of cases) {
      const p = path('secret')
      host.json(p, metadataDocument(host, p, extra))
      const res = await authorizeRequest(t, url(p))
      const text = await expectRefusedPage(res)
      expect(text).not.toContain('shh')
      expect(t.errors.at(-1)?.code).toBe('invalid_client')
    }
  })

  it('CIMD-13: a client_id whose host resolves to a special-use address is refused before connecting', async () => {
    const special = [
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
      '::ffff:7f00:1',
      '2130706433',
      '0x7f.1',
      '0177.0.0.1',
    ]
    const table = Object.fromEntries(special.map((a, i) => [`h${i}.test`, [a]]))
    const t = await createCIMDGatehouse(host, { allowLoopback: false, resolve: table })
    const before = host.count()
    for (let i = 0; i < special.length; i++) {
      await expectRefusedPage(await authorizeRequest(t, `https://h${i}.test:${host.port}/m.json`))
      expect(t.errors.at(-1)?.reason, special[i]).toBe('cimd_ERR_FETCH_BLOCKED')
    }
    // Literal spellings never reach the resolver.
    for (const literal of ['2130706433', '0x7f.1', '0177.0.0.1', '[::1]', '[::ffff:127.0.0.1]']) {
      await expectRefusedPage(await authorizeRequest(t, `https://${literal}:${host.port}/m.json`))
    }
    expect(host.count()).toBe(before)
    expect(t.lookups).toHaveLength(special.length)
  })

  it('CIMD-14: a rebinding resolver cannot move the connection: one lookup, to the checked address', async () => {
    const p = path('rebind')
    host.json(p, metadataDocument(host, p), { 'cache-control': 'no-store' })
    const t = await createCIMDGatehouse(host, {
      resolve: { 'client.test': (i) => (i === 1 ? ['127.0.0.1'] : ['169.254.169.254']) },
    })
    expect((await authorizeRequest(t, url(p))).status).toBe(302)
    expect(t.lookups).toEqual(['client.test'])
    expect(host.count(p)).toBe(1)
    // Once the cached copy has expired, the next resolution is checked again and refused.
    t.clock.advance(61)
    await expectRefusedPage(await authorizeRequest(t, url(p)))
    expect(t.errors.at(-1)?.reason).toBe('cimd_ERR_FETCH_BLOCKED')
    expect(host.count(p)).toBe(1)
  })

  it('CIMD-15: a document is cached per Cache-Control max-age, within the configured bounds', async () => {
    const t = await createCIMDGatehouse(host)
    const p = path('cached')
    host.json(p, metadataDocument(host, p), { 'cache-control': 'max-age=120' })
    expect((await authorizeRequest(t, url(p))).status).toBe(302)
    host.json(p, metadataDocument(host, p, { redirect_uris: ['https://changed.test/cb'] }))
    t.clock.advance(100)
    expect((await authorizeRequest(t, url(p))).status).toBe(302)
    expect(host.count(p)).toBe(1)
    t.clock.advance(21)
    await expectRefusedPage(await authorizeRequest(t, url(p)))
    expect(host.count(p)).toBe(2)

    // Below the minimum (60 s) and above the maximum (24 h) the bounds apply.
    const short = path('short')
    host.json(short, metadataDocument(host, short), { 'cache-control': 'max-age=5' })
    await authorizeRequest(t, url(short))
    t.clock.advance(30)
    await authorizeRequest(t, url(short))
    expect(host.count(short)).toBe(1)
    const long = path('long')
    host.json(long, metadataDocument(host, long), { 'cache-control': 'max-age=99999999' })
    await authorizeRequest(t, url(long))
    t.clock.advance(86_401)
    await authorizeRequest(t, url(long))
    expect(host.count(long)).toBe(2)
  })

  it('CIMD-16: a document whose redirect URIs or keys changed voids its codes and grants', async () => {
    const t = await createCIMDGatehouse(host)
    const p = path('changing')
    host.json(p, metadataDocument(host, p))
    const { tokens } = await getTokens(t, asClient(p), { redirect_uri: APP_REDIRECT })
    const pending = await authorizeRequest(t, url(p))
    const code = new URL(pending.headers.get('location')!).searchParams.get('code')!
    host.json(
      p,
      metadataDocument(host, p, { redirect_uris: [APP_REDIRECT, 'https://new.test/cb'] }),
    )
    t.clock.advance(61)
    const refresh = await t.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: url(p),
      }),
    )
    expect(refresh.status).toBe(400)
    expect(await refresh.json()).toMatchObject({ error: 'invalid_grant' })
    expect(t.errors.at(-1)?.reason).toBe('client_metadata_changed')
    const redeem = await t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code,
        code_verifier: 'x'.repeat(43),
        client_id: url(p),
      }),
    )
    expect(redeem.status).toBe(400)
  })

  it('CIMD-16: a consent shown for the old document cannot be approved after it changed', async () => {
    const p = path('consent-change')
    host.json(p, metadataDocument(host, p))
    const t = await createCIMDGatehouse(host, { config: { upstream: UNREACHED_UPSTREAM } })
    const ua = new UserAgent({ 'https://as.test': (r) => t.gh.fetch(r) })
    const res = await authorizeRequest(t, url(p))
    const consentUrl = new URL(res.headers.get('location')!).href
    const html = await (await ua.request(consentUrl)).text()
    host.json(
      p,
      metadataDocument(host, p, {
        jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'A'.repeat(43) }] },
      }),
    )
    t.clock.advance(61)
    const approve = await ua.request('https://as.test/consent', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'same-origin',
      },
      body: new URLSearchParams({
        txn: hiddenInput(html, 'txn'),
        csrf: hiddenInput(html, 'csrf'),
        action: 'approve',
      }).toString(),
    })
    expect(approve.status).toBe(403)
    expect(approve.headers.get('location')).toBeNull()
    expect(t.errors.at(-1)?.reason).toBe('consent_client_changed')
  })

  it('CIMD-17: logo_uri is neither fetched nor linked from the consent page', async () => {
    const p = path('logo')
    host.json(p, metadataDocument(host, p, { logo_uri: 'http://169.254.169.254/' }))
    const t = await createCIMDGatehouse(host, { config: { upstream: UNREACHED_UPSTREAM } })
    const res = await authorizeRequest(t, url(p))
    const html = await (await t.call(res.headers.get('location')!)).text()
    expect(html).toContain('Acme Agent')
    expect(html).not.toContain('169.254.169.254')
    expect(html).not.toContain('<img')
    expect(t.lookups).toEqual(['client.test'])
  })

  it('CIMD-18: the metadata advertises client_id_metadata_document_supported when enabled', async () => {
    const on = await createCIMDGatehouse(host)
    const meta = await (await on.call('/.well-known/oauth-authorization-server')).json()
    expect(meta).toMatchObject({ client_id_metadata_document_supported: true })
    expect(meta.token_endpoint_auth_methods_supported).toContain('private_key_jwt')
    expect(meta.revocation_endpoint_auth_methods_supported).toContain('private_key_jwt')
    expect(meta.introspection_endpoint_auth_methods_supported).toContain('private_key_jwt')
    const off = await createTestGatehouse()
    const plain = await (await off.call('/.well-known/oauth-authorization-server')).json()
    expect(plain).not.toHaveProperty('client_id_metadata_document_supported')
  })

  it('CIMD-18: enabling documents without a transport that checks resolved addresses fails at start-up', async () => {
    await expect(
      createTestGatehouse({ config: { clientIdMetadataDocuments: { enabled: true } } }),
    ).rejects.toThrow(/clientIdMetadataDocuments\.enabled: needs the `transport`/)
    // With one, it starts.
    await createTestGatehouse({
      config: { clientIdMetadataDocuments: { enabled: true } },
      options: { transport: createNodeTransport() },
    })
  })

  it('CIMD-20: when the fetch fails, the error page shows the client_id URL and no consent', async () => {
    const p = path('down')
    host.route(p, () => {
      /* never answers */
    })
    const t = await createCIMDGatehouse(host, {
      config: { upstream: UNREACHED_UPSTREAM },
      cimd: { timeoutSeconds: 0.5 },
    })
    const html = await expectRefusedPage(await authorizeRequest(t, url(p)))
    expect(html).toContain(url(p))
    expect(html).not.toContain('<form')
    expect(html).not.toContain('Acme Agent')
  })
})
