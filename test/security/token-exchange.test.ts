/**
 * RFC 8693 token exchange at /token: Gatehouse's own access tokens and JWTs of a trusted issuer
 * (running on 127.0.0.1) traded for audience-bound tokens; `act` for delegation chains and
 * `may_act`; bad input of every kind gets the RFC's error, no token, and no token text in errors.
 */
import { base64url } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../src/audit-event.js'
import {
  basic,
  bearer,
  createTestGatehouse,
  form,
  getTokens,
  ISSUER,
  register,
  RESOURCE,
  type TestGatehouse,
} from '../helpers/gatehouse.js'
import { startPlatformIssuer, type PlatformIssuer } from '../helpers/platform-issuer.js'
import { createProof, createProofKey } from '../helpers/dpop.js'

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token'
const JWT = 'urn:ietf:params:oauth:token-type:jwt'
const OTHER = 'https://as.test/other'
const SECRET = 'gateway-secret-that-is-long-enough!!'

let idp: PlatformIssuer
let foreignIdp: PlatformIssuer

beforeAll(async () => {
  idp = await startPlatformIssuer()
  foreignIdp = await startPlatformIssuer()
})
afterAll(async () => {
  await idp.close()
  await foreignIdp.close()
})

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(jwt.split('.')[1] ?? ''))) as Record<
    string,
    unknown
  >
}

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resources: [
      { url: RESOURCE, scopes: ['mcp:read', 'mcp:write'], defaultScopes: ['mcp:read'] },
      { url: OTHER, scopes: ['mcp:read', 'other:read'] },
    ],
    clients: [
      { clientId: 'gateway', clientSecret: SECRET, grantTypes: [GRANT] },
      { clientId: 'narrow', clientSecret: SECRET, grantTypes: [GRANT] },
      { clientId: 'plain', clientSecret: SECRET, grantTypes: ['client_credentials'] },
    ],
    clientCredentials: { enabled: true },
    tokenExchange: {
      enabled: true,
      clients: [
        { clientId: 'gateway' },
        { clientId: 'narrow', scopes: ['mcp:read'], resources: [RESOURCE] },
      ],
      trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri, subjectPrefix: 'ext' }],
    },
    ...extra,
  }
}

describe('RFC 8693 token exchange', () => {
  let t: TestGatehouse
  let audit: AuditEvent[]

  beforeEach(async () => {
    audit = []
    t = await createTestGatehouse({
      config: config(),
      options: { audit: (e) => audit.push(e) },
    })
  })

  const exchange = (params: Record<string, string>, client = 'gateway') =>
    t.call('/token', {
      ...form({ grant_type: GRANT, ...params }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client, SECRET),
      },
    })

  /** A user's Gatehouse token for RESOURCE with `scope`. */
  async function userToken(scope = 'mcp:read mcp:write') {
    const c = await register(t)
    const { tokens } = await getTokens(t, c, { scope })
    return { client: c, token: tokens.access_token }
  }

  /** Expects a refusal with `error` and `status`, no token, and no token text in the body. */
  async function refused(res: Response, error: string, secrets: string[] = [], status = 400) {
    const text = await res.text()
    expect({ status: res.status, error: (JSON.parse(text) as { error: string }).error }).toEqual({
      status,
      error,
    })
    expect(text).not.toContain('access_token')
    for (const s of secrets) expect(text).not.toContain(s.slice(-20))
  }

  it('TX-01 a user token for one resource becomes a token for another, audience-bound, no refresh', async () => {
    const { token } = await userToken()
    const res = await exchange({
      subject_token: token,
      subject_token_type: ACCESS,
      resource: OTHER,
      scope: 'mcp:read',
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      token_type: 'Bearer',
      issued_token_type: ACCESS,
      scope: 'mcp:read',
    })
    expect(body.refresh_token).toBeUndefined()
    const issued = String(body.access_token)
    const claims = claimsOf(issued)
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: OTHER,
      sub: 'user-1',
      client_id: 'gateway',
      gty: GRANT,
    })
    expect(claims.act).toBeUndefined()
    // The guard accepts it at the target resource only.
    expect((await t.mcp(bearer(issued), '/other')).status).toBe(200)
    expect((await t.mcp(bearer(issued))).status).toBe(401)
    const success = audit.find((e) => e.grantType === GRANT && e.outcome === 'success')
    expect(success).toMatchObject({
      event: 'tokens_issued',
      clientId: 'gateway',
      subject: 'user-1',
    })
  })

  it('TX-01d with a DPoP proof the exchanged token is bound to its key (token_type DPoP, cnf.jkt)', async () => {
    const { token } = await userToken()
    const key = await createProofKey()
    const proof = await createProof(key, {
      htu: `${ISSUER}/token`,
      iat: Math.floor(t.clock.now() / 1000),
    })
    const res = await t.call('/token', {
      ...form({
        grant_type: GRANT,
        subject_token: token,
        subject_token_type: ACCESS,
        resource: OTHER,
        scope: 'mcp:read',
      }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('gateway', SECRET),
        dpop: proof,
      },
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { token_type: string; access_token: string }
    expect(body.token_type).toBe('DPoP')
    expect(claimsOf(body.access_token).cnf).toEqual({ jkt: key.jkt })
    // Bound: presented as a plain bearer token it is refused.
    expect((await t.mcp(bearer(body.access_token), '/other')).status).toBe(401)
    // Nor can it be exchanged (without a proof) for a token without the constraint.
    const again = await exchange({
      subject_token: body.access_token,
      subject_token_type: ACCESS,
      resource: RESOURCE,
      scope: 'mcp:read',
    })
    await refused(again, 'invalid_grant', [body.access_token])
  })

  it('TX-02 with no scope asked, the subject token scopes the target knows; audience works like resource', async () => {
    const { token } = await userToken()
    const res = await exchange({
      subject_token: token,
      subject_token_type: ACCESS,
      audience: OTHER,
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string; scope: string }
    // mcp:write is not one of OTHER's scopes; other:read was never the user's.
    expect(body.scope).toBe('mcp:read')
    expect(claimsOf(body.access_token).aud).toBe(OTHER)
  })

  it('TX-03 scopes never widen: beyond the subject token, beyond the client cap', async () => {
    const { token } = await userToken('mcp:read')
    await refused(
      await exchange({
        subject_token: token,
        subject_token_type: ACCESS,
        resource: RESOURCE,
        scope: 'mcp:write',
      }),
      'invalid_scope',
      [token],
    )
    const wide = await userToken('mcp:read mcp:write')
    await refused(
      await exchange(
        { subject_token: wide.token, subject_token_type: ACCESS, scope: 'mcp:write' },
        'narrow',
      ),
      'invalid_scope',
    )
    // No scope asked: the cap applies.
    const ok = await exchange({ subject_token: wide.token, subject_token_type: ACCESS }, 'narrow')
    expect(((await ok.json()) as { scope: string }).scope).toBe('mcp:read')
    const failure = audit.find((e) => e.outcome === 'failure' && e.grantType === GRANT)
    expect(failure).toMatchObject({ reason: 'exchange_scope_widening', clientId: 'gateway' })
  })

  it('TX-04 a revoked Gatehouse subject token is refused at once', async () => {
    const { client, token } = await userToken()
    const revoke = await t.call('/revoke', form({ token, client_id: client.client_id }))
    expect(revoke.status).toBe(200)
    await refused(
      await exchange({ subject_token: token, subject_token_type: ACCESS, resource: OTHER }),
      'invalid_grant',
      [token],
    )
    // The own verifier or the live-grant check (the latter for a revocation on another instance).
    expect(t.errors.at(-1)?.reason).toMatch(/^exchange_subject_(own_invalid|grant_revoked)$/)
  })

  it('TX-04b a revocation on another instance is seen at once, whatever the cached liveness', async () => {
    const other = await createTestGatehouse({ config: config(), store: t.store })
    const { client, token } = await userToken()
    // The other instance has seen the grant live (cached for revocationCheckSeconds).
    expect((await other.mcp(bearer(token))).status).toBe(200)
    expect((await t.call('/revoke', form({ token, client_id: client.client_id }))).status).toBe(200)
    const res = await other.call('/token', {
      ...form({ grant_type: GRANT, subject_token: token, subject_token_type: ACCESS }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('gateway', SECRET),
      },
    })
    await refused(res, 'invalid_grant', [token])
    expect(other.errors.at(-1)?.reason).toBe('exchange_subject_grant_revoked')
  })

  it('TX-05 targets: unknown, dot segments, resource and audience disagreeing, not allowed for the client', async () => {
    const { token } = await userToken()
    const base = { subject_token: token, subject_token_type: ACCESS }
    await refused(
      await exchange({ ...base, resource: 'https://as.test/elsewhere' }),
      'invalid_target',
    )
    await refused(
      await exchange({ ...base, resource: 'https://as.test/mcp/../other' }),
      'invalid_target',
    )
    await refused(
      await exchange({ ...base, audience: 'https://as.test/mcp/' + 'x' }),
      'invalid_target',
    )
    await refused(
      await exchange({ ...base, resource: RESOURCE, audience: OTHER }),
      'invalid_target',
    )
    await refused(await exchange({ ...base, resource: OTHER }, 'narrow'), 'invalid_target')
  })

  it('TX-06 malformed requests are invalid_request and issue nothing', async () => {
    const { token } = await userToken()
    await refused(await exchange({ subject_token: token }), 'invalid_request', [token])
    await refused(await exchange({ subject_token_type: ACCESS }), 'invalid_request')
    await refused(
      await exchange({ subject_token: token, subject_token_type: ACCESS, actor_token: token }),
      'invalid_request',
    )
    await refused(
      await exchange({
        subject_token: token,
        subject_token_type: ACCESS,
        requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token',
      }),
      'invalid_request',
    )
    await refused(
      await exchange({
        subject_token: token,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      }),
      'invalid_request',
    )
    await refused(
      await exchange({ subject_token: 'not-a-jwt', subject_token_type: ACCESS }),
      'invalid_grant',
    )
  })

  it('TX-07 a client without the grant is unauthorized_client; a public client cannot even authenticate for it', async () => {
    const { token } = await userToken()
    await refused(
      await exchange({ subject_token: token, subject_token_type: ACCESS }, 'plain'),
      'unauthorized_client',
    )
    const pub = await register(t)
    const res = await t.call(
      '/token',
      form({
        grant_type: GRANT,
        client_id: pub.client_id,
        subject_token: token,
        subject_token_type: ACCESS,
      }),
    )
    await refused(res, 'unauthorized_client')
  })

  it('TX-08 an external JWT from a trusted issuer: subject, idp and lifetime bounded by its exp', async () => {
    const subject = await idp.mint({
      sub: 'svc-42',
      aud: ISSUER,
      scope: 'mcp:read other:read',
      // On Gatehouse's (test) clock, which stands still.
      iat: Math.floor(t.clock.now() / 1000),
      nbf: Math.floor(t.clock.now() / 1000),
      exp: Math.floor(t.clock.now() / 1000) + 120,
    })
    const res = await exchange({
      subject_token: subject,
      subject_token_type: JWT,
      resource: OTHER,
      requested_token_type: JWT,
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, unknown>
    expect(body.issued_token_type).toBe(JWT)
    expect(body.expires_in).toBe(120)
    expect(body.scope).toBe('mcp:read other:read')
    const claims = claimsOf(String(body.access_token))
    expect(claims).toMatchObject({ sub: 'ext:svc-42', idp: idp.issuer, aud: OTHER })
    expect(Number(claims.exp)).toBeLessThanOrEqual(Number(claimsOf(subject).exp))
  })

  it('TX-09 external JWTs: wrong issuer, wrong key, wrong audience, expired, too long-lived, as access_token', async () => {
    const now = Math.floor(Date.now() / 1000)
    const good = { sub: 'svc-42', aud: ISSUER, scope: 'mcp:read' }
    const cases: [string, string, string][] = [
      [await foreignIdp.mint(good), JWT, 'exchange_subject_untrusted_issuer'],
      [await idp.mintWithForeignKey(good), JWT, 'exchange_subject_jwt_signature'],
      [await idp.mint({ ...good, aud: 'https://elsewhere.test' }), JWT, ''],
      [await idp.mint({ ...good, iat: now - 4000, nbf: now - 4000, exp: now - 3000 }), JWT, ''],
      [await idp.mint({ ...good, exp: now + 86_000 }), JWT, 'exchange_subject_lifetime_too_long'],
      [await idp.mint(good), ACCESS, 'exchange_subject_foreign_access_token'],
    ]
    for (const [token, type, reason] of cases) {
      await refused(
        await exchange({ subject_token: token, subject_token_type: type }),
        'invalid_grant',
        [token],
      )
      if (reason !== '') expect(t.errors.at(-1)?.reason).toContain(reason.split('_jwt')[0])
    }
    // An unknown issuer causes no key fetch.
    expect(foreignIdp.hits.size).toBe(0)
  })

  /** An external token of the trusted issuer for Gatehouse, valid now on its clock (2 minutes). */
  const external = (claims: Record<string, unknown>) => {
    const now = Math.floor(t.clock.now() / 1000)
    return idp.mint({ aud: ISSUER, iat: now, nbf: now, exp: now + 120, ...claims })
  }

  it("TX-08b an external token's act stays in its issuer's namespace: each level without iss gets that issuer", async () => {
    const subject = await external({
      sub: 'alice',
      scope: 'mcp:read',
      // `user-1` is also a Gatehouse user's subject: the actor must not read as that user.
      act: { sub: 'user-1', act: { sub: 'robot', iss: 'https://elsewhere.test' } },
    })
    const res = await exchange({
      subject_token: subject,
      subject_token_type: JWT,
      resource: OTHER,
      requested_token_type: JWT,
    })
    expect(res.status).toBe(200)
    const claims = claimsOf(((await res.json()) as { access_token: string }).access_token)
    expect(claims.sub).toBe('ext:alice')
    expect(claims.act).toEqual({
      sub: 'user-1',
      iss: idp.issuer,
      act: { sub: 'robot', iss: 'https://elsewhere.test' },
    })
  })

  it("TX-08d an external token's act may not name Gatehouse as an actor's issuer, nor go deeper than 5", async () => {
    const mint = (act: Record<string, unknown>) =>
      external({ sub: 'alice', scope: 'mcp:read', act })
    const send = async (act: Record<string, unknown>) =>
      exchange({ subject_token: await mint(act), subject_token_type: JWT, resource: OTHER })
    await refused(await send({ sub: 'user-1', iss: ISSUER }), 'invalid_grant')
    expect(t.errors.at(-1)?.reason).toBe('exchange_subject_bad_act')
    await refused(await send({ sub: 'a', act: { sub: 'user-1', iss: ISSUER } }), 'invalid_grant')
    const chain = (n: number): Record<string, unknown> =>
      n === 1 ? { sub: 'a1' } : { sub: `a${String(n)}`, act: chain(n - 1) }
    await refused(await send(chain(6)), 'invalid_grant')
    expect(t.errors.at(-1)?.reason).toBe('exchange_subject_act_too_deep')
    expect((await send(chain(5))).status).toBe(200)
  })

  it('TX-08c an external token whose scope holds characters outside RFC 6749 §3.3 is refused, not signed again', async () => {
    const subject = await external({ sub: 'svc-42', scope: 'mcp:read a"b c\\d' })
    const res = await exchange({ subject_token: subject, subject_token_type: JWT, resource: OTHER })
    await refused(res, 'invalid_grant')
    expect(t.errors.at(-1)?.reason).toBe('exchange_subject_bad_scope')
  })

  it('TX-10 actor_token gives an act claim; exchanging again nests the chain (RFC 8693 §4.1)', async () => {
    const { token } = await userToken()
    const agent = await idp.mint({ sub: 'agent-7', aud: ISSUER })
    const first = await exchange({
      subject_token: token,
      subject_token_type: ACCESS,
      actor_token: agent,
      actor_token_type: JWT,
      resource: RESOURCE,
    })
    expect(first.status).toBe(200)
    const once = ((await first.json()) as { access_token: string }).access_token
    expect(claimsOf(once).act).toEqual({ sub: 'agent-7', iss: idp.issuer })
    // The gateway (its own client-credentials-free path: a Gatehouse token as actor) goes on.
    const tool = await idp.mint({ sub: 'tool-3', aud: ISSUER })
    const second = await exchange({
      subject_token: once,
      subject_token_type: ACCESS,
      actor_token: tool,
      actor_token_type: JWT,
      resource: OTHER,
    })
    expect(second.status).toBe(200)
    const twice = ((await second.json()) as { access_token: string }).access_token
    expect(claimsOf(twice)).toMatchObject({
      sub: 'user-1',
      act: { sub: 'tool-3', iss: idp.issuer, act: { sub: 'agent-7', iss: idp.issuer } },
    })
    // Without an actor the chain stays.
    const third = await exchange({
      subject_token: twice,
      subject_token_type: ACCESS,
      resource: OTHER,
    })
    const kept = ((await third.json()) as { access_token: string }).access_token
    expect(claimsOf(kept).act).toEqual(claimsOf(twice).act)
  })

  it('TX-11 an untrusted actor is refused; may_act must allow the actor', async () => {
    const { token } = await userToken()
    const stranger = await foreignIdp.mint({ sub: 'agent-7', aud: ISSUER })
    await refused(
      await exchange({
        subject_token: token,
        subject_token_type: ACCESS,
        actor_token: stranger,
        actor_token_type: JWT,
      }),
      'invalid_grant',
      [stranger],
    )
    expect(t.errors.at(-1)?.reason).toBe('exchange_actor_untrusted_issuer')
    const subject = await idp.mint({
      sub: 'user-9',
      aud: ISSUER,
      scope: 'mcp:read',
      may_act: { sub: 'agent-7', iss: idp.issuer },
    })
    const wrongActor = await idp.mint({ sub: 'agent-8', aud: ISSUER })
    const rightActor = await idp.mint({ sub: 'agent-7', aud: ISSUER })
    const base = { subject_token: subject, subject_token_type: JWT }
    await refused(
      await exchange({ ...base, actor_token: wrongActor, actor_token_type: JWT }),
      'invalid_grant',
    )
    expect(t.errors.at(-1)?.reason).toBe('exchange_may_act')
    await refused(await exchange(base), 'invalid_grant')
    const ok = await exchange({ ...base, actor_token: rightActor, actor_token_type: JWT })
    expect(ok.status).toBe(200)
    const body = (await ok.json()) as { access_token: string }
    expect(claimsOf(body.access_token).act).toEqual({ sub: 'agent-7', iss: idp.issuer })
  })

  it('TX-12 the issued token can be revoked by the exchanging client', async () => {
    const { token } = await userToken()
    const res = await exchange({ subject_token: token, subject_token_type: ACCESS })
    const issued = ((await res.json()) as { access_token: string }).access_token
    expect((await t.mcp(bearer(issued))).status).toBe(200)
    const revoke = await t.call('/revoke', {
      ...form({ token: issued }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('gateway', SECRET),
      },
    })
    expect(revoke.status).toBe(200)
    t.clock.advance(10)
    expect((await t.mcp(bearer(issued))).status).toBe(401)
    // The user's own token is untouched.
    expect((await t.mcp(bearer(token))).status).toBe(200)
  })

  it('TX-15 an external sub shaped like a local subject (email|…, <idp>|…, a proxy user) stays in the issuer namespace', async () => {
    // A proxy user of this Gatehouse is "user-1" (see userToken); a linked user is "email|…".
    const { token: local } = await userToken('mcp:read')
    expect(claimsOf(local).sub).toBe('user-1')
    for (const sub of ['user-1', 'email|alice@example.com', 'corp|u1']) {
      const subject = await idp.mint({ sub, aud: ISSUER, scope: 'mcp:read' })
      const res = await exchange({ subject_token: subject, subject_token_type: JWT })
      expect(res.status).toBe(200)
      const { access_token } = (await res.json()) as { access_token: string }
      expect(claimsOf(access_token).sub).toBe(`ext:${sub}`)
      const at = await t.gh.verifyBearer(new Request(RESOURCE, bearer(access_token)))
      expect(at.subject).toBe(`ext:${sub}`)
    }
  })
})

describe('token exchange keeps who the user is', () => {
  it('TX-15 roles and the user at the IdP travel from a Gatehouse subject token', async () => {
    const t = await createTestGatehouse({
      config: config(),
      options: {
        authenticate: () =>
          Promise.resolve({
            subject: 'user-1',
            claims: { roles: ['admin'], upstream_iss: 'https://idp.test', tid: 'tenant-1' },
          }),
      },
    })
    const { tokens } = await getTokens(t, await register(t), { scope: 'mcp:read' })
    const res = await t.call('/token', {
      ...form({
        grant_type: GRANT,
        subject_token: tokens.access_token,
        subject_token_type: ACCESS,
      }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('gateway', SECRET),
      },
    })
    expect(res.status).toBe(200)
    const issued = ((await res.json()) as { access_token: string }).access_token
    expect(claimsOf(issued)).toMatchObject({
      sub: 'user-1',
      roles: ['admin'],
      upstream: { iss: 'https://idp.test', sub: 'user-1', tid: 'tenant-1' },
    })
  })
})

describe('token exchange metadata and configuration', () => {
  it('TX-13 grant_types_supported lists the grant exactly when enabled', async () => {
    const on = await createTestGatehouse({ config: config() })
    const meta = async (t: TestGatehouse) =>
      (await (await t.call('/.well-known/oauth-authorization-server')).json()) as {
        grant_types_supported: string[]
      }
    expect((await meta(on)).grant_types_supported).toContain(GRANT)
    const off = await createTestGatehouse({
      config: { clientCredentials: { enabled: true } },
    })
    expect((await meta(off)).grant_types_supported).not.toContain(GRANT)
    const disabled = await createTestGatehouse({
      config: { tokenExchange: { enabled: false } },
    })
    expect((await meta(disabled)).grant_types_supported).not.toContain(GRANT)
    const res = await disabled.call(
      '/token',
      form({ grant_type: GRANT, client_id: 'x', subject_token: 'a', subject_token_type: ACCESS }),
    )
    expect(res.status).toBe(401)
  })

  it('TX-14 configuration: the grant needs the client listed, confidential, and the section enabled', async () => {
    await expect(
      createTestGatehouse({
        config: config({
          tokenExchange: { enabled: true, clients: [] },
        }),
      }),
    ).rejects.toThrow(/token-exchange grant needs tokenExchange.enabled/)
    await expect(
      createTestGatehouse({
        config: config({
          clients: [
            {
              clientId: 'gateway',
              tokenEndpointAuthMethod: 'none',
              grantTypes: [GRANT],
            },
          ],
          tokenExchange: { enabled: true, clients: [{ clientId: 'gateway' }] },
        }),
      }),
    ).rejects.toThrow(/confidential clients only/)
    await expect(
      createTestGatehouse({
        config: config({ tokenExchange: { enabled: true, clients: [{ clientId: 'nobody' }] } }),
      }),
    ).rejects.toThrow(/must name a client/)
    await expect(
      createTestGatehouse({
        config: config({
          tokenExchange: {
            enabled: true,
            clients: [{ clientId: 'gateway', resources: ['https://as.test/nowhere'] }],
          },
        }),
      }),
    ).rejects.toThrow(/must be one of resources\[\]\.url/)
  })

  it('TX-15 a trusted issuer without subjectPrefix is refused at load: its subjects would be local users', async () => {
    const section = (trusted: Record<string, unknown>[]) =>
      config({
        tokenExchange: {
          enabled: true,
          clients: [{ clientId: 'gateway' }],
          trustedIssuers: trusted,
        },
      })
    await expect(
      createTestGatehouse({
        config: section([{ issuer: idp.issuer, jwksUri: idp.jwksUri }]),
      }),
    ).rejects.toThrow(/tokenExchange\.trustedIssuers\.0\.subjectPrefix: is required/)
    await expect(
      createTestGatehouse({
        config: section([
          { issuer: idp.issuer, jwksUri: idp.jwksUri, subjectPrefix: 'x' },
          { issuer: foreignIdp.issuer, jwksUri: foreignIdp.jwksUri, subjectPrefix: 'x' },
        ]),
      }),
    ).rejects.toThrow(/tokenExchange\.trustedIssuers\.1\.subjectPrefix: must differ/)
  })
})
