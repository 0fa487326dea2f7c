/**
 * A.2.11: the SEP-990 identity-assertion grant (ID-JAG over RFC 7523 jwt-bearer) at /token, with
 * ID-JAGs minted by `jose` and keys served by a loopback enterprise IdP.
 */
import { base64url, SignJWT } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  basic,
  bearer,
  storeOnClock,
  createTestGatehouse,
  ISSUER,
  register,
  RESOURCE,
  type TestGatehouse,
} from '../helpers/gatehouse.js'
import { startEnterpriseIdP, type EnterpriseIdP } from '../helpers/enterprise-idp.js'

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const CC_SECRET = 'cc-secret-that-is-long-enough-for-the-schema'
const OTHER_SECRET = 'other-secret-that-is-long-enough-for-schema'

describe('A.2.11 SEP-990 ID-JAG at the token endpoint (jwt-bearer)', () => {
  let idp: EnterpriseIdP
  let t: TestGatehouse

  beforeAll(async () => {
    idp = await startEnterpriseIdP({ audience: ISSUER, resource: RESOURCE, clientId: 'CC' })
  })
  afterAll(() => idp.close())

  const config = (extra: Record<string, unknown> = {}) => ({
    clients: [
      { clientId: 'CC', clientSecret: CC_SECRET, grantTypes: [JWT_BEARER] },
      { clientId: 'OTHER', clientSecret: OTHER_SECRET, grantTypes: [JWT_BEARER] },
      {
        clientId: 'NARROW',
        clientSecret: OTHER_SECRET,
        grantTypes: [JWT_BEARER],
        assertionScopes: ['mcp:read'],
      },
      {
        clientId: 'PUBLIC',
        tokenEndpointAuthMethod: 'none',
        redirectUris: ['https://app.test/cb'],
        grantTypes: ['authorization_code'],
      },
    ],
    identityAssertion: { trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri }] },
    ...extra,
  })

  beforeEach(async () => {
    t = await createTestGatehouse({ config: config() })
  })

  const exchange = (
    assertion: string | undefined,
    extra: Record<string, string> = {},
    auth: string | null = basic('CC', CC_SECRET),
  ) =>
    t.call('/token', {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: JWT_BEARER,
        ...(assertion !== undefined ? { assertion } : {}),
        ...extra,
      }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(auth !== null ? { authorization: auth } : {}),
      },
    })

  async function expectRefused(res: Response, error = 'invalid_grant', status = 400) {
    expect(res.status).toBe(status)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as { error: string; error_description: string }
    expect(body.error).toBe(error)
    return body
  }

  function claimsOf(jwt: string): Record<string, unknown> {
    return JSON.parse(
      new TextDecoder().decode(base64url.decode(jwt.split('.')[1] ?? '')),
    ) as Record<string, unknown>
  }

  it('IDJ-01 a valid ID-JAG from a confidential client gets an access token for its resource (RT-11: no refresh token)', async () => {
    const res = await exchange(await idp.mintIdJag())
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as Record<string, unknown>
    expect(body.token_type).toBe('Bearer')
    expect(body.expires_in).toBe(3600)
    expect(body.refresh_token).toBeUndefined()
    const claims = claimsOf(body.access_token as string)
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: RESOURCE,
      sub: 'u1',
      client_id: 'CC',
      scope: 'mcp:read',
      idp: idp.issuer,
    })
    // The token works at the resource, and its principal's issuer is the enterprise IdP.
    const mcp = await t.mcp(bearer(body.access_token as string))
    expect(mcp.status).toBe(200)
    expect(await mcp.json()).toMatchObject({ sub: 'u1', client: 'CC', scopes: ['mcp:read'] })
    const token = await t.gh.verifyBearer(
      new Request(RESOURCE, bearer(body.access_token as string)),
    )
    expect(token.issuer).toBe(idp.issuer)
    expect(token.claims.iss).toBe(ISSUER)
  })

  it('RT-11 a client that also registered refresh_token still gets no refresh token for an ID-JAG', async () => {
    t = await createTestGatehouse({
      config: config({
        clients: [
          {
            clientId: 'CC',
            clientSecret: CC_SECRET,
            redirectUris: ['https://app.test/cb'],
            grantTypes: ['authorization_code', 'refresh_token', JWT_BEARER],
          },
        ],
      }),
    })
    const res = await exchange(await idp.mintIdJag())
    expect(res.status).toBe(200)
    expect(((await res.json()) as Record<string, unknown>).refresh_token).toBeUndefined()
  })

  it('RT-11 the grant an ID-JAG bought lives only as long as its access token', async () => {
    // The store follows the test clock, so lifetimes in the store pass as the clock advances.
    const { clock, store, admin } = await storeOnClock()
    t = await createTestGatehouse({ store, config: config(), options: { now: clock.now } })
    const res = await exchange(await idp.mintIdJag())
    const body = (await res.json()) as { access_token: string; expires_in: number }
    expect((await admin.listGrants()).map((g) => g.subject)).toEqual(['u1'])
    clock.advance(body.expires_in - 1)
    expect((await t.mcp(bearer(body.access_token))).status).toBe(200)
    // The grant outlives its token by the clock tolerance (30 s), as verifiers accept it as long.
    clock.advance(30)
    expect(await admin.listGrants()).toHaveLength(1)
    clock.advance(2)
    expect(await admin.listGrants()).toEqual([])
    await admin.close()
  })

  it('IDJ-02 a typ other than oauth-id-jag+jwt is refused', async () => {
    for (const typ of ['JWT', 'at+jwt', undefined]) {
      await expectRefused(await exchange(await idp.mintIdJag({}, { typ })))
    }
  })

  it('IDJ-03 aud must be exactly this issuer (string, or an array of that one value)', async () => {
    for (const aud of [
      'https://other-as.test',
      [ISSUER, 'x'],
      `${ISSUER}/token`,
      `${ISSUER}/`,
      [],
      [ISSUER, ISSUER],
    ]) {
      await expectRefused(await exchange(await idp.mintIdJag({ aud })))
    }
    const single = await exchange(await idp.mintIdJag({ aud: [ISSUER] }))
    expect(single.status).toBe(200)
  })

  it('IDJ-04 the client_id claim must be the authenticated client', async () => {
    await expectRefused(await exchange(await idp.mintIdJag({ client_id: 'OTHER' })))
    await expectRefused(await exchange(await idp.mintIdJag(), {}, basic('OTHER', OTHER_SECRET)))
  })

  it('IDJ-05 no client authentication or a wrong secret is 401 invalid_client', async () => {
    await expectRefused(await exchange(await idp.mintIdJag(), {}, null), 'invalid_client', 401)
    const wrong = await exchange(await idp.mintIdJag(), {}, basic('CC', 'not-the-secret'))
    await expectRefused(wrong, 'invalid_client', 401)
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/)
  })

  it('IDJ-06 a public client presenting an ID-JAG is unauthorized_client (configured or registered)', async () => {
    const jag = await idp.mintIdJag({ client_id: 'PUBLIC' })
    await expectRefused(await exchange(jag, { client_id: 'PUBLIC' }, null), 'unauthorized_client')
    const dcr = await register(t)
    await expectRefused(
      await exchange(
        await idp.mintIdJag({ client_id: dcr.client_id }),
        { client_id: dcr.client_id },
        null,
      ),
      'unauthorized_client',
    )
    // Dynamic registration cannot ask for the grant at all.
    const res = await t.call('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['https://app.test/cb'],
        grant_types: ['authorization_code', JWT_BEARER],
        token_endpoint_auth_method: 'client_secret_basic',
      }),
    })
    expect(res.status).toBe(400)
  })

  it('IDJ-07 the resource claim must name one of our resources, and is required', async () => {
    await expectRefused(await exchange(await idp.mintIdJag({ resource: 'https://other.test/mcp' })))
    await expectRefused(await exchange(await idp.mintIdJag({ resource: undefined })))
    // Draft -04: an array may name several; only ours are granted (identity-assertion-resources).
    await expectRefused(
      await exchange(await idp.mintIdJag({ resource: ['https://other.test/mcp'] })),
    )
    // A resource parameter cannot move the token elsewhere.
    const moved = await exchange(await idp.mintIdJag(), { resource: 'https://other.test/mcp' })
    await expectRefused(moved, 'invalid_target')
  })

  it('IDJ-08 scopes are the ID-JAG scopes the resource and client policy allow; the request only narrows', async () => {
    const res = await exchange(await idp.mintIdJag({ scope: 'mcp:read admin:all' }))
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, string>
    expect(body.scope).toBe('mcp:read')
    expect(claimsOf(body.access_token ?? '').scope).toBe('mcp:read')

    // Client policy: NARROW may hold mcp:read only, whatever the IdP delegates.
    const narrow = await exchange(
      await idp.mintIdJag({ client_id: 'NARROW', scope: 'mcp:read mcp:write' }),
      {},
      basic('NARROW', OTHER_SECRET),
    )
    expect(((await narrow.json()) as Record<string, string>).scope).toBe('mcp:read')

    const narrowed = await exchange(await idp.mintIdJag({ scope: 'mcp:read mcp:write' }), {
      scope: 'mcp:write',
    })
    expect(((await narrowed.json()) as Record<string, string>).scope).toBe('mcp:write')
    await expectRefused(
      await exchange(await idp.mintIdJag({ scope: 'mcp:read' }), { scope: 'mcp:write' }),
      'invalid_scope',
    )
  })

  it('IDJ-09 untrusted issuers, foreign keys, alg none and HS256 with the public key are refused; an unknown iss is never fetched', async () => {
    const before = idp.hits.get('/jwks') ?? 0
    await expectRefused(await exchange(await idp.mintIdJag({ iss: 'https://evil.test' })))
    await expectRefused(
      await exchange(await idp.mintIdJag({ iss: 'https://evil.test', jku: 'https://evil.test/k' })),
    )
    expect(idp.hits.get('/jwks') ?? 0).toBe(before)

    await expectRefused(await exchange(await idp.mintWithForeignKey()))
    const good = claimsOf(await idp.mintIdJag())
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'oauth-id-jag+jwt' }))}.${base64url.encode(JSON.stringify(good))}.`
    await expectRefused(await exchange(none))
    const hs = await new SignJWT(claimsOf(await idp.mintIdJag()))
      .setProtectedHeader({ alg: 'HS256', kid: 'idp-1', typ: 'oauth-id-jag+jwt' })
      .sign(new TextEncoder().encode(JSON.stringify(idp.publicJwk)))
    await expectRefused(await exchange(hs))
  })

  it('IDJ-10 expired, too long-lived and future-issued ID-JAGs are refused', async () => {
    const now = Math.floor(Date.now() / 1000)
    await expectRefused(await exchange(await idp.mintIdJag({ iat: now - 600, exp: now - 120 })))
    await expectRefused(await exchange(await idp.mintIdJag({ exp: now + 86_400 })))
    await expectRefused(await exchange(await idp.mintIdJag({ iat: now + 600, exp: now + 700 })))
    await expectRefused(await exchange(await idp.mintIdJag({ iat: now - 3000, exp: now + 200 })))
  })

  it('IDJ-11 the same ID-JAG is accepted once', async () => {
    const jag = await idp.mintIdJag()
    expect((await exchange(jag)).status).toBe(200)
    await expectRefused(await exchange(jag))
  })

  it('IDJ-11 a refused request (wrong resource parameter or scope) does not spend the ID-JAG', async () => {
    const jag = await idp.mintIdJag()
    await expectRefused(
      await exchange(jag, { resource: 'https://other.test/mcp' }),
      'invalid_target',
    )
    await expectRefused(await exchange(jag, { scope: 'mcp:write' }), 'invalid_scope')
    expect((await exchange(jag)).status).toBe(200)
  })

  // An IdP that grants resources by prefix would sign `…/mcp/../admin` for a user allowed `…/mcp/*`;
  // URL normalisation must not turn that into a token for `…/admin`.
  const DOT_SEGMENT_RESOURCES = [
    'https://as.test/mcp/../admin',
    'https://as.test/mcp/%2e%2e/admin',
    'https://as.test/mcp/%2E%2e/admin',
    'https://as.test/mcp/.%2E/admin',
    'https://as.test/mcp/./../admin',
    'https://as.test/x/../admin/.',
    'https://as.test/admin/./',
    'https://as.test/mcp\\..\\admin',
    'https://as.test/mcp/..\\admin',
    'https://as.test/mcp/.\t./admin',
  ]
  const twoResources = () =>
    config({
      resources: [
        { url: RESOURCE, scopes: ['mcp:read', 'mcp:write'], defaultScopes: ['mcp:read'] },
        { url: 'https://as.test/admin', scopes: ['mcp:read'] },
      ],
    })

  it('IDJ-07 a resource claim with dot segments or backslashes is refused and leaves the jti unspent', async () => {
    t = await createTestGatehouse({ config: twoResources() })
    for (const resource of DOT_SEGMENT_RESOURCES) {
      const jti = `dots-${String(Math.random())}`
      await expectRefused(await exchange(await idp.mintIdJag({ resource, jti })))
      // The same jti in a well-formed ID-JAG still works: the refused one did not spend it.
      const ok = await exchange(await idp.mintIdJag({ resource: 'https://as.test/admin', jti }))
      expect(ok.status).toBe(200)
      expect(claimsOf(((await ok.json()) as { access_token: string }).access_token).aud).toBe(
        'https://as.test/admin',
      )
    }
    expect(t.errors.map((e) => e.reason)).toEqual(
      DOT_SEGMENT_RESOURCES.map(() => 'id_jag_resource_dot_segment'),
    )
  })

  it('IDJ-07 a resource parameter with dot segments is invalid_target and does not spend the ID-JAG', async () => {
    t = await createTestGatehouse({ config: twoResources() })
    const jag = await idp.mintIdJag()
    for (const resource of [
      'https://as.test/x/../mcp',
      'https://as.test/mcp/%2e',
      'https://as.test\\mcp',
    ]) {
      await expectRefused(await exchange(jag, { resource }), 'invalid_target')
    }
    expect((await exchange(jag)).status).toBe(200)
  })

  it('IDJ-12 jti, sub, iat, exp and client_id are required', async () => {
    for (const missing of ['jti', 'sub', 'iat', 'exp', 'client_id']) {
      await expectRefused(await exchange(await idp.mintIdJag({ [missing]: undefined })))
    }
  })

  it('IDJ-13 a missing or repeated assertion is invalid_request; a non-JWT is invalid_grant', async () => {
    await expectRefused(await exchange(undefined), 'invalid_request')
    const jag = await idp.mintIdJag()
    const twice = await t.call('/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('CC', CC_SECRET),
      },
      body: `grant_type=${encodeURIComponent(JWT_BEARER)}&assertion=${jag}&assertion=${jag}`,
    })
    await expectRefused(twice, 'invalid_request')
    await expectRefused(await exchange('not-a-jwt'))
    // Neither refusal spent the assertion.
    expect((await exchange(jag)).status).toBe(200)
  })

  it('IDJ-08 a scope claim outside the RFC 6749 character set is refused', async () => {
    await expectRefused(await exchange(await idp.mintIdJag({ scope: 'mcp:read x"y' })))
    await expectRefused(await exchange(await idp.mintIdJag({ scope: ['mcp:read'] })))
  })

  it('IDJ-14 an ID-JAG bound to a key (cnf) is refused: DPoP is not supported', async () => {
    await expectRefused(await exchange(await idp.mintIdJag({ cnf: { jkt: 'abc' } })))
  })

  it('IDJ-18 an ID-JAG with act (draft -04 §3.1, RFC 8693 §4.1): the token carries the actor, qualified by the IdP, kept apart from sub and the client', async () => {
    const act = { sub: 'agent-42', act: { sub: 'orchestrator', iss: 'https://other.example' } }
    const res = await exchange(await idp.mintIdJag({ sub: 'u1', act }))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string }
    const claims = claimsOf(body.access_token)
    // sub stays the resource owner, the client stays the client; the actor names the IdP's
    // namespace (its iss) where the ID-JAG left it implicit, a nested actor keeps its own iss.
    expect(claims).toMatchObject({ sub: 'u1', client_id: 'CC', idp: idp.issuer })
    expect(claims.act).toEqual({
      sub: 'agent-42',
      iss: idp.issuer,
      act: { sub: 'orchestrator', iss: 'https://other.example' },
    })
    const token = await t.gh.verifyBearer(new Request(RESOURCE, bearer(body.access_token)))
    expect(token.subject).toBe('u1')
    expect(token.claims.act).toEqual(claims.act)
    // Introspection reports the actor too (RFC 8693 §4.1).
    const introspected = await t.call('/introspect', {
      method: 'POST',
      body: new URLSearchParams({ token: body.access_token }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('CC', CC_SECRET),
      },
    })
    expect(((await introspected.json()) as Record<string, unknown>).act).toEqual(claims.act)
  })

  it('IDJ-18 a token exchange of that token keeps the ID-JAG actor chain, nested under a new actor', async () => {
    const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
    t = await createTestGatehouse({
      config: config({
        clients: [{ clientId: 'CC', clientSecret: CC_SECRET, grantTypes: [JWT_BEARER, EXCHANGE] }],
        tokenExchange: { enabled: true, clients: [{ clientId: 'CC' }] },
      }),
    })
    const res = await exchange(await idp.mintIdJag({ sub: 'u1', act: { sub: 'agent-42' } }))
    expect(res.status).toBe(200)
    const { access_token: first } = (await res.json()) as { access_token: string }
    const { access_token: actor } = (await (
      await exchange(await idp.mintIdJag({ sub: 'tool-3' }))
    ).json()) as { access_token: string }
    const exchanged = await t.call('/token', {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: EXCHANGE,
        subject_token: first,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        actor_token: actor,
        actor_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('CC', CC_SECRET),
      },
    })
    expect(exchanged.status).toBe(200)
    const body = (await exchanged.json()) as { access_token: string }
    expect(claimsOf(body.access_token)).toMatchObject({
      sub: 'u1',
      idp: idp.issuer,
      act: { sub: 'tool-3', iss: ISSUER, act: { sub: 'agent-42', iss: idp.issuer } },
    })
  })

  it('IDJ-18 a malformed act, an act naming the subject itself, or a chain deeper than 5 is refused and leaves the jti unspent', async () => {
    const deep = (n: number): Record<string, unknown> =>
      n === 1 ? { sub: 'a1' } : { sub: `a${String(n)}`, act: deep(n - 1) }
    for (const act of [
      'agent-42',
      ['agent-42'],
      {},
      { sub: 42 },
      { sub: 'agent-42', iss: 7 },
      { sub: 'agent-42', act: 'orchestrator' },
      { sub: 'agent-42', act: { iss: 'https://other.example' } },
      { sub: 'u1' },
      { sub: 'u1', iss: idp.issuer },
      deep(6),
    ]) {
      const jag = await idp.mintIdJag({ sub: 'u1', act })
      await expectRefused(await exchange(jag))
      expect(t.errors.at(-1)?.reason).toMatch(/^id_jag_(bad_act|act_is_subject|act_too_deep)$/)
    }
    // Five deep is accepted; a refused ID-JAG's jti was not spent (the same jti then passes).
    const jti = 'jti-for-act-retry'
    await expectRefused(await exchange(await idp.mintIdJag({ jti, act: { sub: 'u1' } })))
    expect((await exchange(await idp.mintIdJag({ jti, act: deep(5) }))).status).toBe(200)
  })

  it('an ID-JAG carrying authorization_details (RAR, not supported) is refused, not silently widened', async () => {
    const details = [{ type: 'notes', actions: ['read'], locations: [RESOURCE] }]
    await expectRefused(await exchange(await idp.mintIdJag({ authorization_details: details })))
  })

  it('an ID-JAG without scope grants no scope, and the response then names none', async () => {
    const res = await exchange(await idp.mintIdJag({ scope: undefined }))
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, string>
    expect(body.scope).toBeUndefined()
    expect(claimsOf(body.access_token ?? '').scope).toBeUndefined()
  })

  it('an ID-JAG whose delegated scopes the client may hold none of is invalid_scope, with its jti unspent', async () => {
    // NARROW may hold mcp:read only; the IdP delegated mcp:write alone.
    const jag = await idp.mintIdJag({ client_id: 'NARROW', scope: 'mcp:write' })
    const body = await expectRefused(
      await exchange(jag, {}, basic('NARROW', OTHER_SECRET)),
      'invalid_scope',
    )
    expect(body.error_description).toBe('none of the delegated scopes may be granted here')
    expect(t.errors.at(-1)?.reason).toBe('id_jag_no_scope')
    // Unspent: refused again for the scope, not as a replay.
    await expectRefused(await exchange(jag, {}, basic('NARROW', OTHER_SECRET)), 'invalid_scope')
  })

  it('users of two trusted IdPs with the same sub are two principals (subjectPrefix), also at introspection', async () => {
    const second = await startEnterpriseIdP({
      audience: ISSUER,
      resource: RESOURCE,
      clientId: 'CC',
    })
    try {
      t = await createTestGatehouse({
        config: config({
          identityAssertion: {
            trustedIssuers: [
              { issuer: idp.issuer, jwksUri: idp.jwksUri, subjectPrefix: 'corp' },
              { issuer: second.issuer, jwksUri: second.jwksUri, subjectPrefix: 'partner' },
            ],
          },
        }),
      })
      const tokens: string[] = []
      for (const source of [idp, second]) {
        const res = await exchange(await source.mintIdJag({ sub: 'u1' }))
        expect(res.status).toBe(200)
        tokens.push(((await res.json()) as { access_token: string }).access_token)
      }
      expect(tokens.map((tk) => claimsOf(tk).sub)).toEqual(['corp:u1', 'partner:u1'])
      const answers = []
      for (const token of tokens) {
        const res = await t.call('/introspect', {
          method: 'POST',
          body: new URLSearchParams({ token }).toString(),
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: basic('CC', CC_SECRET),
          },
        })
        answers.push((await res.json()) as Record<string, unknown>)
      }
      expect(answers.map((a) => [a.sub, a.idp])).toEqual([
        ['corp:u1', idp.issuer],
        ['partner:u1', second.issuer],
      ])
    } finally {
      await second.close()
    }
  })

  it('IDJ-15 a genuine ID token from the trusted IdP is not an ID-JAG', async () => {
    await expectRefused(await exchange(await idp.idToken('u1', 'CC')))
  })

  it('IDJ-16 neither the ID-JAG nor the access token reaches logs or error text', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(() => undefined),
    )
    try {
      const jag = await idp.mintIdJag()
      const ok = await exchange(jag)
      const token = ((await ok.json()) as { access_token: string }).access_token
      const replay = await exchange(jag)
      const replayText = await replay.text()
      await exchange(await idp.mintIdJag({}, { typ: undefined }))
      const logged = JSON.stringify([t.errors, spies.map((s) => s.mock.calls)])
      for (const secret of [jag, jag.split('.')[2] ?? '', token, CC_SECRET]) {
        expect(logged).not.toContain(secret)
        expect(replayText).not.toContain(secret)
      }
      // The reason reaches the hook; the client's description does not say which check failed.
      expect(t.errors.map((e) => e.reason)).toEqual(['id_jag_jti_replay', 'id_jag_wrong_typ'])
      expect(new Set(t.errors.map((e) => e.message)).size).toBe(1)
    } finally {
      for (const s of spies) s.mockRestore()
    }
  })

  it('IDJ-17 the response names the granted scope and resource; the resource is the token audience', async () => {
    const res = await exchange(await idp.mintIdJag({ scope: 'mcp:read mcp:write' }))
    const body = (await res.json()) as Record<string, string>
    expect(body.scope).toBe('mcp:read mcp:write')
    expect(body.resource).toBe(RESOURCE)
    expect(claimsOf(body.access_token ?? '').aud).toBe(RESOURCE)
  })

  it('revoking an ID-JAG access token stops it at the resource', async () => {
    const res = await exchange(await idp.mintIdJag())
    const token = ((await res.json()) as { access_token: string }).access_token
    const revoke = await t.call('/revoke', {
      method: 'POST',
      body: new URLSearchParams({ token }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('CC', CC_SECRET),
      },
    })
    expect(revoke.status).toBe(200)
    expect((await t.mcp(bearer(token))).status).toBe(401)
  })

  it('keys may come from the IdP discovery document or an inline JWKS', async () => {
    for (const keys of [{ discoveryUrl: idp.discoveryUrl }, { jwks: { keys: [idp.publicJwk] } }]) {
      t = await createTestGatehouse({
        config: config({
          identityAssertion: { trustedIssuers: [{ issuer: idp.issuer, ...keys }] },
        }),
      })
      expect((await exchange(await idp.mintIdJag())).status).toBe(200)
    }
  })

  it('metadata advertises the grant and the ID-JAG profile only when enabled, and never the trusted issuers', async () => {
    const enabled = await (await t.call('/.well-known/oauth-authorization-server')).json()
    expect(enabled.grant_types_supported).toContain(JWT_BEARER)
    expect(enabled.authorization_grant_profiles_supported).toEqual([
      'urn:ietf:params:oauth:grant-profile:id-jag',
    ])
    expect(JSON.stringify(enabled)).not.toContain(idp.issuer)

    const plain = await createTestGatehouse()
    const disabled = await (await plain.call('/.well-known/oauth-authorization-server')).json()
    expect(disabled.grant_types_supported).not.toContain(JWT_BEARER)
    expect(disabled.authorization_grant_profiles_supported).toBeUndefined()
    const cc = await register(plain, { token_endpoint_auth_method: 'client_secret_basic' })
    const res = await plain.call('/token', {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: JWT_BEARER,
        assertion: await idp.mintIdJag(),
      }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(cc.client_id, cc.client_secret ?? ''),
      },
    })
    await expectRefused(res, 'unsupported_grant_type')
  })
})
