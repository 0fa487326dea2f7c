import { beforeEach, describe, expect, it } from 'vitest'
import {
  createTestGatehouse,
  ISSUER,
  PRM_URL,
  RESOURCE,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

describe('A.2.1 metadata endpoints', () => {
  let t: TestGatehouse
  beforeEach(async () => {
    t = await createTestGatehouse()
  })

  it('MD-01 serves protected-resource metadata at the path-based location', async () => {
    const res = await t.call('/.well-known/oauth-protected-resource/mcp')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('application/json')
    const body = await res.json()
    expect(body.resource).toBe(RESOURCE)
    expect(body.authorization_servers).toEqual([ISSUER])
    expect(body.bearer_methods_supported).toEqual(['header'])
    expect(body.scopes_supported).toEqual(['mcp:read', 'mcp:write'])
  })

  it('MD-02 answers an unauthenticated MCP request with 401 and a challenge without error', async () => {
    const res = await t.mcp()
    expect(res.status).toBe(401)
    const challenge = res.headers.get('www-authenticate') ?? ''
    // RFC 9449 §7.1: DPoP is accepted too, so its challenge (with the algorithms) follows.
    expect(challenge).toMatch(
      new RegExp(
        `^Bearer resource_metadata="${PRM_URL}", scope="mcp:read mcp:write", DPoP algs="[A-Za-z0-9 ]+"$`,
      ),
    )
    expect(challenge).not.toContain('error=')
  })

  it('MD-03 does not serve a root document whose resource differs from the URL used', async () => {
    const res = await t.call('/.well-known/oauth-protected-resource')
    expect(res.status).toBe(404)
  })

  it('MD-04 keeps the canonical resource whatever the configured spelling', async () => {
    const u = await createTestGatehouse({
      config: { resources: [{ url: 'HTTPS://AS.TEST:443/mcp/', scopes: [] }] },
    })
    const body = await (await u.call('/.well-known/oauth-protected-resource/mcp')).json()
    expect(body.resource).toBe(RESOURCE)
    const slash = await u.call('/.well-known/oauth-protected-resource/mcp/')
    expect(slash.status).toBe(404)
  })

  it('MD-05 serves RFC 8414 metadata with the exact issuer and required members', async () => {
    const res = await t.call('/.well-known/oauth-authorization-server')
    expect(res.status).toBe(200)
    const m = await res.json()
    expect(m.issuer).toBe(ISSUER)
    expect(m.authorization_endpoint).toBe(`${ISSUER}/authorize`)
    expect(m.token_endpoint).toBe(`${ISSUER}/token`)
    expect(m.registration_endpoint).toBe(`${ISSUER}/register`)
    expect(m.response_types_supported).toEqual(['code'])
    expect(m.code_challenge_methods_supported).toEqual(['S256'])
    expect(m.grant_types_supported).toEqual(['authorization_code', 'refresh_token'])
    expect(m.token_endpoint_auth_methods_supported).toContain('none')
  })

  it('MD-05 inserts the well-known segment before the issuer path when the issuer has one', async () => {
    const u = await createTestGatehouse({ config: { issuer: 'https://as.test/tenant1' } })
    const res = await u.call('/.well-known/oauth-authorization-server/tenant1')
    expect(res.status).toBe(200)
    const m = await res.json()
    expect(m.issuer).toBe('https://as.test/tenant1')
    expect(m.token_endpoint).toBe('https://as.test/tenant1/token')
    expect((await u.call('/.well-known/oauth-authorization-server')).status).toBe(404)
    expect((await u.call('/tenant1/token', { method: 'GET' })).status).toBe(405)
  })

  it('MD-06 serves no OpenID discovery document, since Gatehouse issues no ID tokens', async () => {
    expect((await t.call('/.well-known/openid-configuration')).status).toBe(404)
  })

  it('MD-07 refuses an http issuer that is not loopback at start-up', async () => {
    await expect(createTestGatehouse({ config: { issuer: 'http://as.test' } })).rejects.toThrow(
      /issuer: must be https/,
    )
    await expect(
      createTestGatehouse({ config: { issuer: 'https://as.test/?x=1' } }),
    ).rejects.toThrow(/no query/)
    const local = await createTestGatehouse({
      config: {
        issuer: 'http://127.0.0.1:8080',
        resources: [{ url: 'http://127.0.0.1:8080/mcp' }],
      },
    })
    expect(local.gh.config.issuer).toBe('http://127.0.0.1:8080')
  })

  it('MD-08 advertises no implicit, password or plain PKCE', async () => {
    const m = await (await t.call('/.well-known/oauth-authorization-server')).json()
    expect(m.response_types_supported).not.toContain('token')
    expect(m.grant_types_supported).not.toContain('password')
    expect(m.grant_types_supported).not.toContain('implicit')
    expect(m.code_challenge_methods_supported).not.toContain('plain')
  })

  it('MD-09 omits empty arrays', async () => {
    const u = await createTestGatehouse({ config: { resources: [{ url: RESOURCE }] } })
    const m = await (await u.call('/.well-known/oauth-authorization-server')).json()
    expect(m).not.toHaveProperty('scopes_supported')
    const prm = await (await u.call('/.well-known/oauth-protected-resource/mcp')).json()
    expect(prm).not.toHaveProperty('scopes_supported')
    for (const v of Object.values(m)) if (Array.isArray(v)) expect(v.length).toBeGreaterThan(0)
  })

  it('MD-10 never builds the issuer or resource from Host or X-Forwarded-Host', async () => {
    const headers = {
      host: 'evil.test',
      'x-forwarded-host': 'evil.test',
      'x-forwarded-proto': 'http',
    }
    const m = await (
      await t.gh.fetch(
        new Request('https://evil.test/.well-known/oauth-authorization-server', { headers }),
      )
    ).json()
    expect(JSON.stringify(m)).not.toContain('evil.test')
    const prm = await (
      await t.gh.fetch(
        new Request('https://evil.test/.well-known/oauth-protected-resource/mcp', { headers }),
      )
    ).json()
    expect(prm.resource).toBe(RESOURCE)
  })

  it('MD-11 allows any origin on metadata and JWKS, without credentials', async () => {
    for (const path of [
      '/.well-known/oauth-authorization-server',
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/jwks.json',
    ]) {
      const res = await t.call(path, { headers: { origin: 'https://web.client' } })
      expect(res.headers.get('access-control-allow-origin')).toBe('*')
      expect(res.headers.get('access-control-allow-credentials')).toBeNull()
      const pre = await t.call(path, {
        method: 'OPTIONS',
        headers: { origin: 'https://web.client', 'access-control-request-method': 'GET' },
      })
      expect(pre.status).toBe(204)
      expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    }
  })

  it('MD-12 answers POST on metadata with 405 and Allow', async () => {
    const res = await t.call('/.well-known/oauth-authorization-server', { method: 'POST' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('GET, HEAD')
  })

  it('MD-13 advertises the RFC 9207 iss parameter', async () => {
    const m = await (await t.call('/.well-known/oauth-authorization-server')).json()
    expect(m.authorization_response_iss_parameter_supported).toBe(true)
  })

  it('MD-14 does not advertise the jwt-bearer grant while it is not enabled', async () => {
    const m = await (await t.call('/.well-known/oauth-authorization-server')).json()
    expect(m.grant_types_supported).not.toContain('urn:ietf:params:oauth:grant-type:jwt-bearer')
    expect(m).not.toHaveProperty('authorization_grant_profiles_supported')
  })

  it('MD-15 advertises revocation and introspection and a minimal scope list', async () => {
    const m = await (await t.call('/.well-known/oauth-authorization-server')).json()
    expect(m.revocation_endpoint).toBe(`${ISSUER}/revoke`)
    expect(m.introspection_endpoint).toBe(`${ISSUER}/introspect`)
    expect(m.scopes_supported).toEqual(['mcp:read', 'mcp:write'])
  })

  it('MD-16 never advertises offline_access in PRM or challenges', async () => {
    const u = await createTestGatehouse({
      config: { resources: [{ url: RESOURCE, scopes: ['mcp:read', 'offline_access'] }] },
    })
    const prm = await (await u.call('/.well-known/oauth-protected-resource/mcp')).json()
    expect(prm.scopes_supported).toEqual(['mcp:read'])
    const res = await u.mcp()
    expect(res.headers.get('www-authenticate')).not.toContain('offline_access')
  })

  it('serves the public signing keys with kid and without private members', async () => {
    const jwks = await (await t.call('/.well-known/jwks.json')).json()
    expect(jwks.keys.length).toBeGreaterThan(0)
    for (const k of jwks.keys) {
      expect(k.kid).toBeTypeOf('string')
      for (const p of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k).not.toHaveProperty(p)
    }
  })
})
