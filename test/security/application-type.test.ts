/**
 * `application_type` in registration (MCP 2026-07-28 §Dynamic Client Registration, SEP-837; OIDC
 * Dynamic Client Registration §2; RFC 8252): a `web` client redirects to https on a real host
 * only; a `native` client may use loopback http (any port) and private-use schemes; a client that
 * names no type gets the one its redirect URIs imply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startClientHost, type ClientHost } from '../helpers/client-host.js'
import { createCIMDGatehouse, metadataDocument } from '../helpers/cimd.js'
import {
  authorizeURL,
  createTestGatehouse,
  pkcePair,
  RESOURCE,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

describe('A.2.2 application_type in registration', () => {
  let t: TestGatehouse
  beforeAll(async () => {
    t = await createTestGatehouse()
  })

  const registerWith = (metadata: Record<string, unknown>) =>
    t.call('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token_endpoint_auth_method: 'none', ...metadata }),
    })

  async function refused(res: Response) {
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: string; error_description: string }
    expect(body.error).toBe('invalid_redirect_uri')
    return body.error_description
  }

  it('AT-01 a web client may not register a loopback or a private-use-scheme redirect URI', async () => {
    expect(
      await refused(
        await registerWith({
          application_type: 'web',
          redirect_uris: ['http://127.0.0.1:3000/cb'],
        }),
      ),
    ).toMatch(/native/)
    await refused(
      await registerWith({ application_type: 'web', redirect_uris: ['http://localhost/cb'] }),
    )
    await refused(
      await registerWith({ application_type: 'web', redirect_uris: ['com.example.app:/cb'] }),
    )
    const ok = await registerWith({
      application_type: 'web',
      redirect_uris: ['https://app.test/cb'],
    })
    expect(ok.status).toBe(201)
    expect(((await ok.json()) as Record<string, unknown>).application_type).toBe('web')
  })

  it('AT-02 a native client may register loopback http and a reverse-domain private-use scheme, not remote http', async () => {
    const ok = await registerWith({
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/cb', 'com.example.app:/cb'],
    })
    expect(ok.status).toBe(201)
    await refused(
      await registerWith({ application_type: 'native', redirect_uris: ['http://app.test/cb'] }),
    )
    await refused(await registerWith({ application_type: 'native', redirect_uris: ['myapp:/cb'] }))
  })

  it('AT-03 with no application_type, the redirect URIs decide: loopback or a private-use scheme means native, else web', async () => {
    const local = await registerWith({ redirect_uris: ['http://127.0.0.1/cb'] })
    expect(local.status).toBe(201)
    const native = (await local.json()) as { client_id: string; application_type: string }
    expect(native.application_type).toBe('native')
    // Native loopback redirects may use any port at authorization time (RFC 8252 §7.3).
    const { challenge } = pkcePair()
    const res = await t.call(
      authorizeURL({
        response_type: 'code',
        client_id: native.client_id,
        redirect_uri: 'http://127.0.0.1:51234/cb',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 's',
        resource: RESOURCE,
      }),
    )
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:51234\/cb\?code=/)
    const remote = await registerWith({ redirect_uris: ['https://app.test/cb'] })
    expect(((await remote.json()) as Record<string, unknown>).application_type).toBe('web')
  })
})

describe('A.2.3 application_type in metadata documents', () => {
  let host: ClientHost
  beforeAll(async () => {
    host = await startClientHost()
  })
  afterAll(async () => {
    await host.close()
  })

  it('AT-04 a document that says web but lists a loopback redirect URI is refused; without a type it is native', async () => {
    const t = await createCIMDGatehouse(host)
    host.json('/web.json', metadataDocument(host, '/web.json', { application_type: 'web' }))
    host.json('/untyped.json', metadataDocument(host, '/untyped.json'))
    const url = (path: string) => {
      const { challenge } = pkcePair()
      return authorizeURL({
        response_type: 'code',
        client_id: `${host.origin()}${path}`,
        redirect_uri: 'https://app.test/cb',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 's',
        resource: RESOURCE,
      })
    }
    const web = await t.call(url('/web.json'))
    expect(web.status).toBe(400)
    expect(web.headers.get('location')).toBeNull()
    const untyped = await t.call(url('/untyped.json'))
    expect(untyped.status).not.toBe(400)
  })
})
