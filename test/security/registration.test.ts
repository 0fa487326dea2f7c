import { beforeEach, describe, expect, it } from 'vitest'
import { createTestGatehouse, type TestGatehouse } from '../helpers/gatehouse.js'

describe('A.2.2 dynamic client registration', () => {
  let t: TestGatehouse
  beforeEach(async () => {
    t = await createTestGatehouse()
  })

  const post = (
    body: unknown,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ) =>
    t.call('/register', {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })

  const base = {
    redirect_uris: ['http://127.0.0.1/callback'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    client_name: 'X',
  }

  async function expectError(res: Response, error: string) {
    expect(res.status).toBe(400)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.json()
    expect(body.error).toBe(error)
    expect(typeof body.error_description).toBe('string')
  }

  it('DCR-01 registers a public client with a server-generated id and no secret', async () => {
    const res = await post(base)
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const c = await res.json()
    expect(c.client_id).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(c.client_id_issued_at).toBeTypeOf('number')
    expect(c.redirect_uris).toEqual(base.redirect_uris)
    expect(c.token_endpoint_auth_method).toBe('none')
    expect(c.grant_types).toEqual(base.grant_types)
    expect(c.client_name).toBe('X')
    expect(c).not.toHaveProperty('client_secret')
    expect(c).not.toHaveProperty('client_secret_hash')
  })

  it('DCR-02 refuses a registration without redirect_uris', async () => {
    const { redirect_uris: _, ...rest } = base
    await expectError(await post(rest), 'invalid_redirect_uri')
    await expectError(await post({ ...base, redirect_uris: [] }), 'invalid_redirect_uri')
  })

  it('DCR-03 refuses an http redirect URI that is not loopback', async () => {
    await expectError(
      await post({ ...base, redirect_uris: ['http://app.test/cb'] }),
      'invalid_redirect_uri',
    )
  })

  it('DCR-04 refuses a redirect URI with a fragment', async () => {
    await expectError(
      await post({ ...base, redirect_uris: ['https://app.test/cb#frag'] }),
      'invalid_redirect_uri',
    )
  })

  it('DCR-05 refuses javascript:, data:, file: and vbscript: redirect URIs', async () => {
    for (const uri of [
      'javascript:alert(1)',
      'data:text/html,<b>x</b>',
      'file:///etc/passwd',
      'vbscript:msgbox',
    ]) {
      await expectError(await post({ ...base, redirect_uris: [uri] }), 'invalid_redirect_uri')
    }
  })

  it('DCR-06 refuses a private-use scheme without a dot, accepts a reverse-domain one for native apps', async () => {
    await expectError(
      await post({ ...base, application_type: 'native', redirect_uris: ['myapp:/cb'] }),
      'invalid_redirect_uri',
    )
    const ok = await post({
      ...base,
      application_type: 'native',
      redirect_uris: ['com.example.app:/cb'],
    })
    expect(ok.status).toBe(201)
    // A web client may not use one (SEP-837); with no type, the scheme makes the client native.
    await expectError(
      await post({ ...base, application_type: 'web', redirect_uris: ['com.example.app:/cb'] }),
      'invalid_redirect_uri',
    )
    const untyped = await post({ ...base, redirect_uris: ['com.example.app:/cb'] })
    expect((await untyped.json()).application_type).toBe('native')
  })

  it('DCR-07 refuses wildcard redirect URIs', async () => {
    await expectError(
      await post({ ...base, redirect_uris: ['https://*.app.test/cb'] }),
      'invalid_redirect_uri',
    )
  })

  it('DCR-07 refuses user information and dot segments in redirect URIs', async () => {
    for (const uri of [
      'https://u:p@app.test/cb',
      'https://app.test/a/../cb',
      'https://app.test/a/%2e%2e/cb',
    ]) {
      await expectError(await post({ ...base, redirect_uris: [uri] }), 'invalid_redirect_uri')
    }
  })

  it('DCR-08 refuses an unknown token_endpoint_auth_method', async () => {
    await expectError(
      await post({ ...base, token_endpoint_auth_method: 'foo' }),
      'invalid_client_metadata',
    )
  })

  it('DCR-09 refuses password and implicit grants, token response types and mismatched types', async () => {
    await expectError(await post({ ...base, grant_types: ['password'] }), 'invalid_client_metadata')
    await expectError(await post({ ...base, grant_types: ['implicit'] }), 'invalid_client_metadata')
    await expectError(await post({ ...base, response_types: ['token'] }), 'invalid_client_metadata')
    await expectError(
      await post({ ...base, grant_types: ['authorization_code'], response_types: [] }),
      'invalid_client_metadata',
    )
  })

  it('DCR-09 refuses the jwt-bearer grant through dynamic registration', async () => {
    await expectError(
      await post({ ...base, grant_types: ['urn:ietf:params:oauth:grant-type:jwt-bearer'] }),
      'invalid_client_metadata',
    )
  })

  it('DCR-10 ignores a client-chosen client_id and client_secret', async () => {
    const c = await (await post({ ...base, client_id: 'victim-sub', client_secret: 'x' })).json()
    expect(c.client_id).not.toBe('victim-sub')
    expect(c.client_id.startsWith('https://')).toBe(false)
    expect(c).not.toHaveProperty('client_secret')
  })

  it('DCR-11 accepts an HTML client name verbatim but refuses javascript: in URL fields', async () => {
    const ok = await post({ ...base, client_name: '<img src=x onerror=alert(1)>' })
    expect(ok.status).toBe(201)
    for (const field of ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri']) {
      await expectError(
        await post({ ...base, [field]: 'javascript:alert(1)' }),
        'invalid_client_metadata',
      )
    }
  })

  it('DCR-12 answers 413 for a 1 MB body and 400 for 1000 redirect URIs or a 10 KB name', async () => {
    const huge = await post({ ...base, client_name: 'x'.repeat(1024 * 1024) })
    expect(huge.status).toBe(413)
    const many = Array.from({ length: 1000 }, (_, i) => `https://app.test/cb${i}`)
    await expectError(await post({ ...base, redirect_uris: many }), 'invalid_client_metadata')
    await expectError(
      await post({ ...base, client_name: 'n'.repeat(10 * 1024) }),
      'invalid_client_metadata',
    )
  })

  it('DCR-13 refuses a form-encoded registration', async () => {
    const res = await post('redirect_uris=https://app.test/cb', {
      'content-type': 'application/x-www-form-urlencoded',
    })
    await expectError(res, 'invalid_client_metadata')
  })

  it('DCR-13 refuses a body that is not a JSON object', async () => {
    await expectError(await post('[1,2]'), 'invalid_client_metadata')
    await expectError(await post('{not json'), 'invalid_client_metadata')
  })

  it('DCR-14 tolerates unknown scopes copied from a challenge and keeps the known ones', async () => {
    const res = await post({ ...base, scope: 'mcp:read unknown:scope' })
    expect(res.status).toBe(201)
    expect((await res.json()).scope).toBe('mcp:read')
  })

  it('DCR-15 loopback redirects are for native clients (SEP-837); with no type, loopback means native, https web', async () => {
    const native = await post({
      ...base,
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1:0/cb'],
    })
    expect(native.status).toBe(201)
    const web = await post({
      ...base,
      application_type: 'web',
      redirect_uris: ['http://localhost:3000/cb'],
    })
    await expectError(web, 'invalid_redirect_uri')
    const omitted = await (await post(base)).json()
    expect(omitted.application_type).toBe('native')
    const remote = await (await post({ ...base, redirect_uris: ['https://app.test/cb'] })).json()
    expect(remote.application_type).toBe('web')
    await expectError(
      await post({ ...base, application_type: 'desktop' }),
      'invalid_client_metadata',
    )
  })

  it('DCR-16 refuses jwks together with jwks_uri', async () => {
    await expectError(
      await post({ ...base, jwks: { keys: [] }, jwks_uri: 'https://app.test/jwks' }),
      'invalid_client_metadata',
    )
  })

  it('DCR-18 returns a secret once with client_secret_expires_at for a confidential client', async () => {
    const res = await post({
      ...base,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['https://app.test/cb'],
    })
    expect(res.status).toBe(201)
    const c = await res.json()
    expect(c.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(c.client_secret_expires_at).toBe(0)
    expect(c).not.toHaveProperty('client_secret_hash')
    const stored = await t.gh.provider.getClient(c.client_id)
    expect(stored).not.toHaveProperty('client_secret')
    expect(stored?.client_secret_hash).toBeTypeOf('string')
  })

  it('DCR-19 answers GET and PUT on /register with 405', async () => {
    for (const method of ['GET', 'PUT']) {
      const res = await t.call('/register', { method })
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBe('POST')
    }
  })

  it('DCR-17 answers 429 with Retry-After past the per-address registration limit', async () => {
    for (let i = 0; i < 20; i++) expect((await post(base)).status).toBe(201)
    const limited = await post(base)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/)
    t.clock.advance(61)
    expect((await post(base)).status).toBe(201)
  })
})
