import { generateKeyPair, SignJWT } from 'jose'
import { beforeEach, describe, expect, it } from 'vitest'
import { requireScopes } from '../../src/resource/scopes.js'
import {
  bearer,
  createTestGatehouse,
  form,
  getTokens,
  ISSUER,
  PRM_URL,
  register,
  RESOURCE,
  type RegisteredClient,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

describe('A.2.9 resource-server layer', () => {
  let t: TestGatehouse
  let c1: RegisteredClient

  beforeEach(async () => {
    t = await createTestGatehouse({
      config: {
        resources: [
          { url: RESOURCE, scopes: ['mcp:read', 'mcp:write'], defaultScopes: ['mcp:read'] },
          { url: 'https://as.test/other', scopes: ['mcp:read'] },
        ],
      },
    })
    c1 = await register(t)
  })

  function challengeParams(res: Response): Record<string, string> {
    const header = res.headers.get('www-authenticate') ?? ''
    expect(header.startsWith('Bearer ')).toBe(true)
    const params: Record<string, string> = {}
    // The Bearer challenge only; the DPoP challenge (RFC 9449 §7.1) follows it.
    const bearerPart = header.slice(7).split(/, DPoP (?=\w+=)/)[0] ?? ''
    for (const m of bearerPart.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      expect(params).not.toHaveProperty(m[1]!)
      params[m[1]!] = m[2]!
    }
    return params
  }

  it('RS-01 answers a request without Authorization with 401 and no error code', async () => {
    const res = await t.mcp()
    expect(res.status).toBe(401)
    const p = challengeParams(res)
    expect(p).toEqual({ resource_metadata: PRM_URL, scope: 'mcp:read mcp:write' })
  })

  it('RS-02 answers empty, foreign-scheme and malformed credentials with 401, never 500', async () => {
    for (const authorization of [
      'Bearer',
      'Bearer ',
      'Basic dXM6cHc=',
      'Bearer a b',
      'Bearer "x"',
    ]) {
      const res = await t.mcp({ headers: { authorization } })
      expect(res.status).toBe(401)
    }
  })

  it('RS-03 answers an expired token with 401 invalid_token', async () => {
    const { tokens } = await getTokens(t, c1)
    t.clock.advance(3600 + 31)
    const res = await t.mcp(bearer(tokens.access_token))
    expect(res.status).toBe(401)
    const p = challengeParams(res)
    expect(p.error).toBe('invalid_token')
    expect(p.resource_metadata).toBe(PRM_URL)
  })

  it('RS-04 refuses a valid token minted for another resource', async () => {
    const { tokens } = await getTokens(t, c1, { resource: 'https://as.test/other' })
    const res = await t.mcp(bearer(tokens.access_token))
    expect(res.status).toBe(401)
    expect(challengeParams(res).error).toBe('invalid_token')
  })

  it('RS-05 refuses a token from another issuer or key (no passthrough)', async () => {
    const { privateKey } = await generateKeyPair('RS256')
    const foreign = await new SignJWT({ client_id: c1.client_id, scope: 'mcp:read', gid: 'g' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'upstream' })
      .setIssuer(ISSUER)
      .setAudience(RESOURCE)
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey)
    expect((await t.mcp(bearer(foreign))).status).toBe(401)
  })

  it('RS-06 never reads a token from the query string', async () => {
    const { tokens } = await getTokens(t, c1)
    const res = await t.mcp({}, `/mcp?access_token=${tokens.access_token}`)
    expect(res.status).toBe(401)
    expect(challengeParams(res)).not.toHaveProperty('error')
  })

  it('RS-07 refuses a token sent in the header and the query at once', async () => {
    const { tokens } = await getTokens(t, c1)
    const res = await t.mcp(bearer(tokens.access_token), `/mcp?access_token=${tokens.access_token}`)
    expect(res.status).toBe(400)
    expect(challengeParams(res).error).toBe('invalid_request')
  })

  it('RS-08 answers a missing scope with 403 insufficient_scope naming the scopes needed', async () => {
    const { tokens } = await getTokens(t, c1, { scope: 'mcp:read' })
    const write = t.gh.protect(() => new Response('ok'), { scopes: ['mcp:write'] })
    const res = await write(
      new Request(RESOURCE, { method: 'POST', ...bearer(tokens.access_token) }),
    )
    expect(res.status).toBe(403)
    const p = challengeParams(res)
    expect(p.error).toBe('insufficient_scope')
    expect(p.scope).toBe('mcp:write')
    expect(p.resource_metadata).toBe(PRM_URL)
    expect((await res.json()).error_description).toContain('mcp:write')
  })

  it('RS-09 a revoked grant stops working within revocationCheckSeconds on another instance', async () => {
    const { tokens } = await getTokens(t, c1)
    // A second instance on the same store, which cached the grant as live.
    const other = await createTestGatehouse({
      store: t.store,
      config: { resources: [{ url: RESOURCE, scopes: ['mcp:read', 'mcp:write'] }] },
    })
    expect((await other.mcp(bearer(tokens.access_token))).status).toBe(200)
    await t.call('/revoke', form({ token: tokens.refresh_token!, client_id: c1.client_id }))
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(401)
    // The other instance may serve from its cache for at most revocationCheckSeconds (5 s).
    other.clock.advance(6)
    expect((await other.mcp(bearer(tokens.access_token))).status).toBe(401)
  })

  it('RS-10 refuses a JWT of another type signed by the same keys', async () => {
    const key = t.gh.keys.current()
    const idToken = await new SignJWT({ client_id: c1.client_id, gid: 'g' })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(RESOURCE)
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(key.key)
    expect((await t.mcp(bearer(idToken))).status).toBe(401)
  })

  it('RS-11 accepts the scheme name in any letter case', async () => {
    const { tokens } = await getTokens(t, c1)
    expect(
      (await t.mcp({ headers: { authorization: `bearer ${tokens.access_token}` } })).status,
    ).toBe(200)
    expect(
      (await t.mcp({ headers: { authorization: `BEARER ${tokens.access_token}` } })).status,
    ).toBe(200)
  })

  it('RS-15 refuses a browser request from an unlisted Origin with 403', async () => {
    const { tokens } = await getTokens(t, c1)
    const evil = await t.mcp({
      headers: { authorization: `Bearer ${tokens.access_token}`, origin: 'https://evil.test' },
    })
    expect(evil.status).toBe(403)
    const own = await t.mcp({
      headers: { authorization: `Bearer ${tokens.access_token}`, origin: 'https://as.test' },
    })
    expect(own.status).toBe(200)
  })

  it('RS-17 challenges are well-formed and carry no CR/LF or quotes from input', async () => {
    // Fetch cannot even send CR/LF in a header; a quote in the token is refused as malformed.
    const ok = await t.mcp({ headers: { authorization: 'Bearer abc"def' } })
    expect(ok.status).toBe(401)
    const header = ok.headers.get('www-authenticate') ?? ''
    expect(header).not.toMatch(/[\r\n]/)
    challengeParams(ok)
  })

  it('RS-18 honours a scope hierarchy and names every missing scope in one challenge', async () => {
    const { tokens } = await getTokens(t, c1, { scope: 'mcp:write' })
    const hierarchy = { 'mcp:write': ['mcp:read'] }
    const read = t.gh.protect((_r, token) => {
      requireScopes(token, ['mcp:read'], hierarchy)
      return new Response('read')
    })
    expect((await read(new Request(RESOURCE, bearer(tokens.access_token)))).status).toBe(200)
    const both = t.gh.protect((_r, token) => {
      requireScopes(token, ['admin:a', 'admin:b'], hierarchy)
      return new Response('never')
    })
    const res = await both(new Request(RESOURCE, bearer(tokens.access_token)))
    expect(res.status).toBe(403)
    expect((await res.json()).error_description).toBe('missing scope: admin:a admin:b')
  })

  it('the guard hands the handler the principal, client and scopes', async () => {
    const { tokens, client } = await getTokens(t, c1, { scope: 'mcp:read mcp:write' })
    const body = await (await t.mcp(bearer(tokens.access_token))).json()
    expect(body).toEqual({
      sub: 'user-1',
      client: client.client_id,
      scopes: ['mcp:read', 'mcp:write'],
    })
  })
})
