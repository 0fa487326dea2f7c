import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { JWTVerifier } from '../../../src/jwt/verifier.js'
import {
  createRemoteAuthProvider,
  type RemoteAuthProvider,
} from '../../../src/resource/remote-auth.js'
import { requireRoles } from '../../../src/resource/scopes.js'

const AS = 'https://auth.example.com'
const MCP = 'https://mcp.example.com/mcp'

describe('RemoteAuthProvider', () => {
  let remote: RemoteAuthProvider
  let privateKey: CryptoKey

  const mint = (claims: Record<string, unknown>, aud = MCP) =>
    new SignJWT({ client_id: 'client-1', scope: 'files:read', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(AS)
      .setAudience(aud)
      .setSubject('user-9')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey)

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256')
    privateKey = pair.privateKey
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
    remote = createRemoteAuthProvider({
      config: {
        authorizationServers: [AS],
        resources: [{ url: MCP, scopes: ['files:read', 'files:write'] }],
      },
      verifier: new JWTVerifier({
        issuer: AS,
        audience: MCP,
        jwks: { keys: [jwk] },
        typ: 'at+jwt',
      }),
    })
  })

  it('serves protected-resource metadata pointing at the external authorization server', async () => {
    const res = await remote.fetch(
      new Request('https://mcp.example.com/.well-known/oauth-protected-resource/mcp'),
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      resource: MCP,
      authorization_servers: [AS],
      bearer_methods_supported: ['header'],
      scopes_supported: ['files:read', 'files:write'],
    })
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('refuses a DPoP-bound token as Bearer and the DPoP scheme (no DPoP support here)', async () => {
    const handler = remote.protect(() => Response.json({ ok: true }))
    const bound = await mint({ cnf: { jkt: 'A'.repeat(43) } })
    for (const scheme of ['Bearer', 'DPoP']) {
      const res = await handler(
        new Request(MCP, { method: 'POST', headers: { authorization: `${scheme} ${bound}` } }),
      )
      expect(res.status).toBe(401)
      expect(((await res.json()) as { error: string }).error).toBe('invalid_token')
      const challenge = res.headers.get('www-authenticate') ?? ''
      expect(challenge).toMatch(/^Bearer error="invalid_token"/)
      expect(challenge).not.toContain('algs=')
    }
    expect(() =>
      createRemoteAuthProvider({
        config: {
          authorizationServers: [AS],
          resources: [{ url: MCP, dpop: { required: true } }],
        },
        verifier: { verifyToken: () => Promise.resolve(undefined) },
      }),
    ).toThrow(/resources\.0\.dpop: DPoP is not supported/)
  })

  it('lets a token from that server through and challenges everything else', async () => {
    const handler = remote.protect((_r, token) =>
      Response.json({ sub: token.subject, scopes: token.scopes }),
    )
    const ok = await handler(
      new Request(MCP, { method: 'POST', headers: { authorization: `Bearer ${await mint({})}` } }),
    )
    expect(await ok.json()).toEqual({ sub: 'user-9', scopes: ['files:read'] })
    const none = await handler(new Request(MCP, { method: 'POST' }))
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe(
      'Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="files:read files:write"',
    )
    const other = await handler(
      new Request(MCP, {
        method: 'POST',
        headers: { authorization: `Bearer ${await mint({}, 'https://other.example/mcp')}` },
      }),
    )
    expect(other.status).toBe(401)
  })

  it('checks each request of one protect() for several resources against its own', async () => {
    // One wrapper mounted for two resources, no resource named (or an empty name): each request
    // is checked for the resource its path names, however many came before for the other.
    const FILES = 'https://mcp.example.com/files'
    const pair = await generateKeyPair('ES256')
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' }
    const both = createRemoteAuthProvider({
      config: {
        authorizationServers: [AS],
        resources: [
          { url: MCP, scopes: ['files:read'] },
          { url: FILES, scopes: ['files:read'] },
        ],
      },
      verifier: new JWTVerifier({ issuer: AS, audience: [MCP, FILES], jwks: { keys: [jwk] } }),
    })
    const tokenFor = (aud: string) =>
      new SignJWT({ client_id: 'client-1', scope: 'files:read' })
        .setProtectedHeader({ alg: 'ES256', kid: 'k2', typ: 'at+jwt' })
        .setIssuer(AS)
        .setAudience(aud)
        .setSubject('user-9')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(pair.privateKey)
    const [forMcp, forFiles] = [await tokenFor(MCP), await tokenFor(FILES)]
    for (const options of [{}, { resource: '' }]) {
      const handler = both.protect((_r, token) => Response.json({ for: token.resource }), options)
      const call = (url: string, token: string) =>
        handler(new Request(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } }))
      expect(await (await call(MCP, forMcp)).json()).toEqual({ for: MCP })
      expect(await (await call(FILES, forFiles)).json()).toEqual({ for: FILES })
      expect((await call(FILES, forMcp)).status).toBe(401)
      expect((await call(MCP, forFiles)).status).toBe(401)
    }
  })

  it('enforces per-route scopes and roles with 403', async () => {
    const write = remote.protect(() => new Response('written'), { scopes: ['files:write'] })
    const res = await write(
      new Request(MCP, { method: 'POST', headers: { authorization: `Bearer ${await mint({})}` } }),
    )
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toContain('scope="files:write"')
    const admin = remote.protect((_r, token) => {
      requireRoles(token, ['Admin', 'Owner'])
      return new Response('admin')
    })
    const denied = await admin(
      new Request(MCP, {
        method: 'POST',
        headers: { authorization: `Bearer ${await mint({ roles: ['Reader'] })}` },
      }),
    )
    expect(denied.status).toBe(403)
    expect((await denied.json()).error_description).toBe('requires one of the roles: Admin Owner')
    const allowed = await admin(
      new Request(MCP, {
        method: 'POST',
        headers: { authorization: `Bearer ${await mint({ roles: ['Owner'] })}` },
      }),
    )
    expect(allowed.status).toBe(200)
  })

  it('publishes each authorization server exactly as configured (a trailing slash kept)', async () => {
    // Auth0's issuer is `https://{domain}/`: clients compare it exactly with the AS metadata's issuer.
    const slashed = 'https://tenant.auth0.com/'
    const rs = createRemoteAuthProvider({
      config: { authorizationServers: [slashed, AS], resources: [{ url: MCP }] },
      verifier: { verifyToken: () => Promise.resolve(undefined) },
    })
    const res = await rs.fetch(
      new Request('https://mcp.example.com/.well-known/oauth-protected-resource/mcp'),
    )
    expect(
      ((await res.json()) as { authorization_servers: string[] }).authorization_servers,
    ).toEqual([slashed, AS])
  })

  it('refuses an authorization server that is not an issuer identifier', () => {
    const create = (as: string) => () =>
      createRemoteAuthProvider({
        config: { authorizationServers: [as], resources: [{ url: MCP }] },
        verifier: { verifyToken: () => Promise.resolve(undefined) },
      })
    const message =
      /authorizationServers\.0: must be an issuer identifier: an https URL without query or fragment \(http only on loopback\)/
    expect(create('http://auth.example.com')).toThrow(message)
    expect(create('https://auth.example.com/?tenant=a')).toThrow(message)
    expect(create('https://auth.example.com/#x')).toThrow(message)
    expect(create('http://127.0.0.1:8080/')).not.toThrow()
  })

  it('refuses bad configuration at creation with every problem listed', () => {
    expect(() =>
      createRemoteAuthProvider({
        config: { authorizationServers: [], resources: [{ url: 'not a url' }] },
        verifier: { verifyToken: () => Promise.resolve(undefined) },
      }),
    ).toThrow(/^(?=[\s\S]*authorizationServers)(?=[\s\S]*resources\.0\.url)/)
  })
})
