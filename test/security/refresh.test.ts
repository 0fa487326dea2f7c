import { beforeEach, describe, expect, it } from 'vitest'
import {
  basic,
  bearer,
  createTestGatehouse,
  form,
  getCode,
  getTokens,
  register,
  type RegisteredClient,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

describe('A.2.8 refresh tokens', () => {
  let t: TestGatehouse
  let c1: RegisteredClient

  beforeEach(async () => {
    t = await createTestGatehouse()
    c1 = await register(t)
  })

  const refresh = (token: string, extra: Record<string, string> = {}) =>
    t.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: token,
        client_id: c1.client_id,
        ...extra,
      }),
    )

  it('refuses a resource with dot segments at refresh and keeps the refresh token usable', async () => {
    const { tokens } = await getTokens(t, c1)
    for (const resource of ['https://as.test/x/../mcp', 'https://as.test/mcp/%2e']) {
      const res = await refresh(tokens.refresh_token!, { resource })
      expect(res.status).toBe(400)
      expect((await res.json()).error).toBe('invalid_target')
    }
    expect((await refresh(tokens.refresh_token!)).status).toBe(200)
  })

  it('RT-01 rotates the refresh token on every use', async () => {
    const { tokens } = await getTokens(t, c1)
    const res = await refresh(tokens.refresh_token!)
    expect(res.status).toBe(200)
    const next = await res.json()
    expect(next.refresh_token).toBeTypeOf('string')
    expect(next.refresh_token).not.toBe(tokens.refresh_token)
    expect(next.access_token).not.toBe(tokens.access_token)
  })

  it('RT-02 reuse of a rotated token revokes the whole grant', async () => {
    const { tokens } = await getTokens(t, c1)
    const rt2 = (await (await refresh(tokens.refresh_token!)).json()) as {
      refresh_token: string
      access_token: string
    }
    const reuse = await refresh(tokens.refresh_token!)
    expect(reuse.status).toBe(400)
    expect((await reuse.json()).error).toBe('invalid_grant')
    const after = await refresh(rt2.refresh_token)
    expect((await after.json()).error).toBe('invalid_grant')
    expect((await t.mcp(bearer(rt2.access_token))).status).toBe(401)
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(401)
    expect(t.errors.map((e) => e.reason)).toContain('refresh_token_reuse')
  })

  it('RT-03 refuses a refresh token presented by another client, without revoking it', async () => {
    const { tokens } = await getTokens(t, c1)
    const c2 = await register(t)
    const res = await t.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: c2.client_id,
      }),
    )
    expect((await res.json()).error).toBe('invalid_grant')
    expect((await refresh(tokens.refresh_token!)).status).toBe(200)
  })

  it('RT-04 refuses a wider scope and grants a narrower one', async () => {
    const { tokens } = await getTokens(t, c1, { scope: 'mcp:read' })
    const wider = await refresh(tokens.refresh_token!, { scope: 'mcp:read mcp:write' })
    expect((await wider.json()).error).toBe('invalid_scope')
    const { tokens: both } = await getTokens(t, c1, { scope: 'mcp:read mcp:write' })
    const narrower = await refresh(both.refresh_token!, { scope: 'mcp:read' })
    expect(narrower.status).toBe(200)
    const body = await narrower.json()
    expect(body.scope).toBe('mcp:read')
    const me = await (await t.mcp(bearer(body.access_token))).json()
    expect(me.scopes).toEqual(['mcp:read'])
  })

  it('RT-05 refuses another resource', async () => {
    const { tokens } = await getTokens(t, c1)
    const res = await refresh(tokens.refresh_token!, { resource: 'https://other.test/mcp' })
    expect(res.status).toBe(400)
    expect((await res.json()).error).toBe('invalid_target')
  })

  it('RT-06 a confidential client must authenticate to refresh', async () => {
    const cc = await register(t, { token_endpoint_auth_method: 'client_secret_post' })
    const code = await getCode(t, cc)
    const issued = await t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code: code.code,
        code_verifier: code.verifier,
        redirect_uri: code.redirectUri,
        client_id: cc.client_id,
        client_secret: cc.client_secret!,
      }),
    )
    const rt = ((await issued.json()) as { refresh_token: string }).refresh_token
    const withoutAuth = await t.call(
      '/token',
      form({ grant_type: 'refresh_token', refresh_token: rt, client_id: cc.client_id }),
    )
    expect(withoutAuth.status).toBe(401)
    expect((await withoutAuth.json()).error).toBe('invalid_client')
    const wrong = await t.call('/token', {
      ...form({ grant_type: 'refresh_token', refresh_token: rt }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(cc.client_id, 'nope'),
      },
    })
    expect(wrong.status).toBe(401)
    const right = await t.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: rt,
        client_id: cc.client_id,
        client_secret: cc.client_secret!,
      }),
    )
    expect(right.status).toBe(200)
  })

  it('RT-07 a refresh token stops working once its grant is revoked', async () => {
    const { tokens } = await getTokens(t, c1)
    const rev = await t.call(
      '/revoke',
      form({ token: tokens.access_token, client_id: c1.client_id }),
    )
    expect(rev.status).toBe(200)
    expect((await (await refresh(tokens.refresh_token!)).json()).error).toBe('invalid_grant')
  })

  it('RT-08 concurrent refreshes with one token: at most one succeeds, and the reuse revokes the family', async () => {
    const { tokens } = await getTokens(t, c1)
    const results = await Promise.all([
      refresh(tokens.refresh_token!),
      refresh(tokens.refresh_token!),
      refresh(tokens.refresh_token!),
    ])
    const ok = results.filter((r) => r.status === 200)
    expect(ok.length).toBeLessThanOrEqual(1)
    for (const r of results.filter((x) => x.status !== 200))
      expect((await r.json()).error).toBe('invalid_grant')
    // Every presentation after the first claim is reuse (RFC 9700 §4.14.2): the family is revoked,
    // so no refresh token of it works afterwards and no second family can exist.
    for (const r of ok) {
      const next = (await r.json()) as { refresh_token: string }
      expect((await (await refresh(next.refresh_token)).json()).error).toBe('invalid_grant')
    }
    expect(t.errors.map((e) => e.reason)).toContain('refresh_token_reuse')
  })

  it('RT-09 a refresh token expires after its idle lifetime', async () => {
    const { tokens } = await getTokens(t, c1)
    t.clock.advance(30 * 86_400 + 1)
    expect((await (await refresh(tokens.refresh_token!)).json()).error).toBe('invalid_grant')
  })

  it('RT-10 the rotated token keeps the original scope and resource', async () => {
    const { tokens } = await getTokens(t, c1, { scope: 'mcp:read mcp:write' })
    const narrowed = await (await refresh(tokens.refresh_token!, { scope: 'mcp:read' })).json()
    const again = await (await refresh(narrowed.refresh_token)).json()
    expect(again.scope).toBe('mcp:read mcp:write')
  })
})
