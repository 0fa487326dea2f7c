import { beforeEach, describe, expect, it } from 'vitest'
import {
  basic,
  postBasic,
  redeemBasic,
  bearer,
  createTestGatehouse,
  form,
  getCode,
  getTokens,
  register,
  RESOURCE,
  type RegisteredClient,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

describe('A.2.13 revocation and introspection', () => {
  let t: TestGatehouse
  let c1: RegisteredClient
  let rs: RegisteredClient

  beforeEach(async () => {
    t = await createTestGatehouse()
    c1 = await register(t)
    rs = await register(t, { token_endpoint_auth_method: 'client_secret_basic', client_name: 'RS' })
  })

  const refresh = (token: string) =>
    t.call(
      '/token',
      form({ grant_type: 'refresh_token', refresh_token: token, client_id: c1.client_id }),
    )
  /** A form POST authenticated as `client` (client_secret_basic), to `at` (default `t`). */
  const postAs = (
    client: RegisteredClient,
    path: string,
    params: Record<string, string>,
    at: TestGatehouse = t,
  ) => postBasic(at, path, params, client.client_id, client.client_secret!)
  const introspect = (token: string, client = rs) => postAs(client, '/introspect', { token })
  /** An access token of the confidential client RS, through the code flow. */
  const rsAccessToken = async () => {
    const issued = await redeemBasic(t, rs, await getCode(t, rs))
    return ((await issued.json()) as { access_token: string }).access_token
  }

  it('RV-01 revoking a refresh token revokes the grant and its access tokens', async () => {
    const { tokens } = await getTokens(t, c1)
    const res = await t.call(
      '/revoke',
      form({
        token: tokens.refresh_token!,
        token_type_hint: 'refresh_token',
        client_id: c1.client_id,
      }),
    )
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect((await (await refresh(tokens.refresh_token!)).json()).error).toBe('invalid_grant')
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(401)
  })

  it('RV-02 answers 200 for an unknown token', async () => {
    expect(
      (await t.call('/revoke', form({ token: 'garbage', client_id: c1.client_id }))).status,
    ).toBe(200)
  })

  it("RV-03 a client cannot revoke another client's token", async () => {
    const { tokens } = await getTokens(t, c1)
    const c2 = await register(t)
    expect(
      (await t.call('/revoke', form({ token: tokens.refresh_token!, client_id: c2.client_id })))
        .status,
    ).toBe(200)
    expect(
      (await t.call('/revoke', form({ token: tokens.access_token, client_id: c2.client_id })))
        .status,
    ).toBe(200)
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(200)
    expect((await refresh(tokens.refresh_token!)).status).toBe(200)
  })

  it('RV-04 requires the token parameter', async () => {
    const res = await t.call('/revoke', form({ client_id: c1.client_id }))
    expect(res.status).toBe(400)
    expect((await res.json()).error).toBe('invalid_request')
  })

  it('RV-05 searches beyond a wrong hint', async () => {
    const { tokens } = await getTokens(t, c1)
    await t.call(
      '/revoke',
      form({
        token: tokens.access_token,
        token_type_hint: 'refresh_token',
        client_id: c1.client_id,
      }),
    )
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(401)
  })

  it('RV-06 revoking a self-contained access token revokes its grant (a denylist by grant)', async () => {
    const { tokens } = await getTokens(t, c1)
    const res = await t.call(
      '/revoke',
      form({
        token: tokens.access_token,
        token_type_hint: 'access_token',
        client_id: c1.client_id,
      }),
    )
    expect(res.status).toBe(200)
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(401)
    expect((await (await refresh(tokens.refresh_token!)).json()).error).toBe('invalid_grant')
  })

  it('RV-07 a confidential client must authenticate to revoke', async () => {
    const res = await t.call('/revoke', form({ token: 'x', client_id: rs.client_id }))
    expect(res.status).toBe(401)
    expect((await res.json()).error).toBe('invalid_client')
  })

  it('RV-08 answers GET with 405 and revokes nothing', async () => {
    const { tokens } = await getTokens(t, c1)
    const res = await t.call(`/revoke?token=${tokens.refresh_token!}&client_id=${c1.client_id}`)
    expect(res.status).toBe(405)
    expect((await refresh(tokens.refresh_token!)).status).toBe(200)
  })

  it('RV-09 introspection requires client authentication', async () => {
    const res = await t.call('/introspect', form({ token: 'x' }))
    expect(res.status).toBe(401)
    const pub = await t.call('/introspect', form({ token: 'x', client_id: c1.client_id }))
    expect(pub.status).toBe(401)
  })

  it('RV-10 expired, revoked and unknown tokens are only {active:false}', async () => {
    const tokens = { access_token: await rsAccessToken() }
    expect(await (await introspect('unknown')).json()).toEqual({ active: false })
    await postAs(rs, '/revoke', { token: tokens.access_token })
    expect(await (await introspect(tokens.access_token)).json()).toEqual({ active: false })
  })

  it('RV-10 introspection at another instance reports a revocation at once (no liveness cache)', async () => {
    const other = await createTestGatehouse({ store: t.store })
    const token = await rsAccessToken()
    const introspectAtOther = () => postAs(rs, '/introspect', { token }, other)
    // The other instance has seen the token live, and its guard caches that for 5 s.
    expect((await (await introspectAtOther()).json()).active).toBe(true)
    expect((await other.mcp(bearer(token))).status).toBe(200)
    await postAs(rs, '/revoke', { token })
    expect(await (await introspectAtOther()).json()).toEqual({ active: false })
    // Once introspection re-read the grant, that instance's guard refuses the token too.
    expect((await other.mcp(bearer(token))).status).toBe(401)
  })

  it('RV-10 an expired token is inactive', async () => {
    const tokens = { access_token: await rsAccessToken() }
    t.clock.advance(3700)
    expect(await (await introspect(tokens.access_token)).json()).toEqual({ active: false })
  })

  it('RV-11 a caller learns nothing about a token issued to someone else for a resource it may not see', async () => {
    const { tokens } = await getTokens(t, c1)
    expect(await (await introspect(tokens.access_token)).json()).toEqual({ active: false })
  })

  it('RV-12 an active token reports scope, client, subject, expiry, audience and issuer', async () => {
    const u = await createTestGatehouse({ config: {} })
    const pub = await register(u)
    const server = await register(u, { token_endpoint_auth_method: 'client_secret_basic' })
    const v = await createTestGatehouse({
      store: u.store,
      // Written as an operator might (upper-case host, trailing slash): compared canonically.
      config: {
        introspectionClients: [{ clientId: server.client_id, resources: ['https://AS.test/mcp/'] }],
      },
    })
    const { tokens } = await getTokens(v, pub, { scope: 'mcp:read mcp:write' })
    const res = await v.call('/introspect', {
      ...form({ token: tokens.access_token }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(server.client_id, server.client_secret!),
      },
    })
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.json()
    expect(body).toMatchObject({
      active: true,
      scope: 'mcp:read mcp:write',
      client_id: pub.client_id,
      sub: 'user-1',
      aud: RESOURCE,
      iss: 'https://as.test',
    })
    expect(body.exp).toBeTypeOf('number')
  })
})
