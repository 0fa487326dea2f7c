import { beforeEach, describe, expect, it } from 'vitest'
import {
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

describe('A.2.7 token endpoint: authorization_code grant and client authentication', () => {
  let t: TestGatehouse
  let c1: RegisteredClient
  let cc: RegisteredClient

  beforeEach(async () => {
    t = await createTestGatehouse()
    c1 = await register(t)
    cc = await register(t, { token_endpoint_auth_method: 'client_secret_basic', client_name: 'CC' })
  })

  const redeem = (code: string, verifier: string, extra: Record<string, string> = {}) =>
    t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: 'https://app.test/cb',
        client_id: c1.client_id,
        ...extra,
      }),
    )

  async function expectError(res: Response, error: string, status = 400) {
    expect(res.status).toBe(status)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.json()
    expect(body.error).toBe(error)
    expect(body.error).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/)
    return body
  }

  it('TK-01 issues a bearer access token with expiry, scope and no-store', async () => {
    const { code, verifier } = await getCode(t, c1, { scope: 'mcp:read mcp:write' })
    const res = await redeem(code, verifier, { resource: RESOURCE })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = await res.json()
    expect(body.token_type).toBe('Bearer')
    expect(body.expires_in).toBe(3600)
    expect(body.scope).toBe('mcp:read mcp:write')
    expect(body.access_token.split('.')).toHaveLength(3)
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('TK-02 refuses a second redemption and revokes what the first one issued', async () => {
    const { code, verifier } = await getCode(t, c1)
    const first = await (await redeem(code, verifier)).json()
    expect((await t.mcp(bearer(first.access_token))).status).toBe(200)
    await expectError(await redeem(code, verifier), 'invalid_grant')
    expect((await t.mcp(bearer(first.access_token))).status).toBe(401)
    const refresh = await t.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
        client_id: c1.client_id,
      }),
    )
    await expectError(refresh, 'invalid_grant')
    expect(t.errors.map((e) => e.reason)).toContain('code_replay')
  })

  it('TK-03 a replay with the wrong verifier or client leaves the first tokens valid', async () => {
    const { code, verifier } = await getCode(t, c1)
    const first = await (await redeem(code, verifier)).json()
    await expectError(await redeem(code, 'w'.repeat(43)), 'invalid_grant')
    const other = await register(t)
    await expectError(await redeem(code, verifier, { client_id: other.client_id }), 'invalid_grant')
    expect((await t.mcp(bearer(first.access_token))).status).toBe(200)
  })

  it('TK-04 refuses a wrong code_verifier and the code stays unusable for it', async () => {
    const { code, verifier } = await getCode(t, c1)
    await expectError(await redeem(code, 'x'.repeat(43)), 'invalid_grant')
    expect((await redeem(code, verifier)).status).toBe(200)
  })

  it('TK-05 requires code_verifier', async () => {
    const { code } = await getCode(t, c1)
    const res = await t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code,
        redirect_uri: 'https://app.test/cb',
        client_id: c1.client_id,
      }),
    )
    await expectError(res, 'invalid_request')
  })

  it('TK-06 PKCE downgrade is impossible: every code was issued with a challenge (AZ-06)', async () => {
    const res = await t.call(
      `/authorize?response_type=code&client_id=${c1.client_id}&redirect_uri=https://app.test/cb`,
    )
    expect(new URL(res.headers.get('location') ?? '').searchParams.get('error')).toBe(
      'invalid_request',
    )
  })

  it('TK-07 refuses a code redeemed by another client', async () => {
    const { code, verifier } = await getCode(t, c1)
    const other = await register(t)
    await expectError(await redeem(code, verifier, { client_id: other.client_id }), 'invalid_grant')
  })

  it('TK-08 refuses a redirect_uri different from the authorized one', async () => {
    const { code, verifier } = await getCode(t, c1)
    await expectError(
      await redeem(code, verifier, { redirect_uri: 'http://127.0.0.1/callback' }),
      'invalid_grant',
    )
  })

  it('TK-09 refuses a code after its lifetime', async () => {
    const { code, verifier } = await getCode(t, c1)
    t.clock.advance(301)
    await expectError(await redeem(code, verifier), 'invalid_grant')
  })

  it('TK-10 refuses a resource that was not authorized', async () => {
    const { code, verifier } = await getCode(t, c1)
    await expectError(
      await redeem(code, verifier, { resource: 'https://other.test/mcp' }),
      'invalid_target',
    )
  })

  it('TK-10 refuses a resource with dot segments, even one that resolves to the authorized one', async () => {
    const { code, verifier } = await getCode(t, c1)
    for (const resource of [
      'https://as.test/x/../mcp',
      'https://as.test/mcp/%2E',
      'https://as.test\\mcp',
    ]) {
      await expectError(await redeem(code, verifier, { resource }), 'invalid_target')
    }
  })

  it('TK-11 answers a wrong Basic secret with 401 invalid_client and a Basic challenge', async () => {
    const res = await postBasic(
      t,
      '/token',
      { grant_type: 'authorization_code', code: 'x', code_verifier: 'y'.repeat(43) },
      cc.client_id,
      'wrong',
    )
    await expectError(res, 'invalid_client', 401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/)
    const none = await t.call('/token', form({ grant_type: 'authorization_code', code: 'x' }))
    await expectError(none, 'invalid_client', 401)
    const missing = await t.call(
      '/token',
      form({ grant_type: 'authorization_code', code: 'x', client_id: cc.client_id }),
    )
    await expectError(missing, 'invalid_client', 401)
  })

  it('TK-11 authenticates a confidential client with Basic and with post', async () => {
    const code = await getCode(t, cc)
    const res = await redeemBasic(t, cc, code)
    expect(res.status).toBe(200)
    const post = await register(t, { token_endpoint_auth_method: 'client_secret_post' })
    const code2 = await getCode(t, post)
    const res2 = await t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code: code2.code,
        code_verifier: code2.verifier,
        redirect_uri: code2.redirectUri,
        client_id: post.client_id,
        client_secret: post.client_secret!,
      }),
    )
    expect(res2.status).toBe(200)
    // A client registered for post may not switch to Basic.
    const code3 = await getCode(t, post)
    const res3 = await redeemBasic(t, post, code3)
    await expectError(res3, 'invalid_client', 401)
  })

  it('TK-12 refuses two authentication methods at once', async () => {
    const res = await postBasic(
      t,
      '/token',
      { grant_type: 'authorization_code', code: 'x', client_secret: cc.client_secret! },
      cc.client_id,
      cc.client_secret!,
    )
    await expectError(res, 'invalid_request')
  })

  it('TK-13 refuses credentials or codes in the query string', async () => {
    const { code, verifier } = await getCode(t, c1)
    const res = await t.call(
      `/token?code=${code}`,
      form({ grant_type: 'authorization_code', code_verifier: verifier, client_id: c1.client_id }),
    )
    await expectError(res, 'invalid_request')
    // The code was not consumed by the refused request.
    expect((await redeem(code, verifier)).status).toBe(200)
  })

  it('TK-14 refuses a JSON body', async () => {
    const res = await t.call('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'authorization_code' }),
    })
    await expectError(res, 'invalid_request')
  })

  it('TK-15 answers GET with 405 and Allow: POST', async () => {
    const res = await t.call('/token?grant_type=authorization_code')
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('POST')
  })

  it('TK-16 refuses unknown grant types', async () => {
    for (const grant of ['password', 'implicit', 'urn:foo']) {
      await expectError(
        await t.call('/token', form({ grant_type: grant, client_id: c1.client_id })),
        'unsupported_grant_type',
      )
    }
  })

  it('TK-17 refuses a grant the client did not register', async () => {
    const noRefresh = await register(t, { grant_types: ['authorization_code'] })
    await expectError(
      await t.call(
        '/token',
        form({ grant_type: 'refresh_token', refresh_token: 'x', client_id: noRefresh.client_id }),
      ),
      'unauthorized_client',
    )
    const { tokens } = await getTokens(t, noRefresh)
    expect(tokens.refresh_token).toBeUndefined()
  })

  it('TK-18 refuses repeated parameters', async () => {
    const res = await t.call('/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=authorization_code&code=a&code=b&client_id=${c1.client_id}`,
    })
    await expectError(res, 'invalid_request')
  })

  it('TK-19 error codes use the RFC character set and descriptions carry no secrets', async () => {
    const { code } = await getCode(t, c1)
    const body = await expectError(await redeem(code, 'z'.repeat(43)), 'invalid_grant')
    expect(body.error_description).not.toContain(code)
    expect(body.error_description).not.toMatch(/at |Error:/)
  })

  it('TK-20 answers failed authentication with 429 and Retry-After past the limit, never blocking the real client', async () => {
    const attempt = (secret: string) =>
      postBasic(
        t,
        '/token',
        { grant_type: 'refresh_token', refresh_token: 'x' },
        cc.client_id,
        secret,
      )
    for (let i = 0; i < 20; i++) expect((await attempt(`wrong${i}`)).status).toBe(401)
    const limited = await attempt('wrong-again')
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    // The real client is never locked out by someone else's failures (client ids are public).
    const code = await getCode(t, cc)
    const res = await redeemBasic(t, cc, code)
    expect(res.status).toBe(200)
  })

  it('TK-21 refuses private_key_jwt client assertions with invalid_client', async () => {
    const res = await t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        client_id: c1.client_id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: 'e30.e30.',
      }),
    )
    await expectError(res, 'invalid_client', 401)
  })

  it('TK-23 refuses a scope wider than granted at refresh', async () => {
    const { tokens } = await getTokens(t, c1, { scope: 'mcp:read' })
    const res = await t.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: c1.client_id,
        scope: 'mcp:read mcp:write',
      }),
    )
    await expectError(res, 'invalid_scope')
  })

  it('TK-24 the access token is an RFC 9068 JWT for the requested resource only', async () => {
    const { tokens, client } = await getTokens(t, c1)
    const [h, p] = tokens.access_token.split('.')
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString())
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString())
    expect(header.typ).toBe('at+jwt')
    expect(header.kid).toBeTypeOf('string')
    expect(header.alg).toBe('RS256')
    expect(payload.aud).toBe(RESOURCE)
    expect(payload.iss).toBe('https://as.test')
    expect(payload.sub).toBe('user-1')
    expect(payload.client_id).toBe(client.client_id)
    expect(payload.jti).toBeTypeOf('string')
    expect(payload.gid).toBeTypeOf('string')
    expect(payload.exp - payload.iat).toBe(3600)
  })
})
