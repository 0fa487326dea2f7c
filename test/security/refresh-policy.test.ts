/**
 * The refresh-token policy (`refreshTokens`): which clients get refresh tokens (`issueTo`), the
 * absolute lifetime of a sign-in's refresh tokens on top of the idle one, and the metadata, all
 * through /token and the metadata endpoint.
 */
import { describe, expect, it } from 'vitest'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  basic,
  bearer,
  storeOnClock,
  createTestGatehouse,
  form,
  getCode,
  getTokens,
  register,
  RESOURCE,
  type RegisteredClient,
  type TestGatehouse,
  type Tokens,
} from '../helpers/gatehouse.js'

function refresh(t: TestGatehouse, client: RegisteredClient, token: string) {
  const params = { grant_type: 'refresh_token', refresh_token: token }
  if (client.client_secret === undefined) {
    return t.call('/token', form({ ...params, client_id: client.client_id }))
  }
  const request = form(params)
  return t.call('/token', {
    ...request,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(client.client_id, client.client_secret),
    },
  })
}

/** The code flow for a confidential client (client_secret_basic at /token). */
async function confidentialTokens(t: TestGatehouse, client: RegisteredClient): Promise<Tokens> {
  const code = await getCode(t, client)
  const res = await t.call('/token', {
    ...form({
      grant_type: 'authorization_code',
      code: code.code,
      code_verifier: code.verifier,
      redirect_uri: code.redirectUri,
      resource: RESOURCE,
    }),
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(client.client_id, client.client_secret ?? ''),
    },
  })
  expect(res.status).toBe(200)
  return (await res.json()) as Tokens
}

async function grantTypesSupported(t: TestGatehouse): Promise<string[]> {
  const meta = await t.call('/.well-known/oauth-authorization-server')
  return ((await meta.json()) as { grant_types_supported: string[] }).grant_types_supported
}

describe('refresh-token policy', () => {
  it('issueTo "confidential": public clients get no refresh token, confidential ones do', async () => {
    const t = await createTestGatehouse({ config: { refreshTokens: { issueTo: 'confidential' } } })
    const { tokens } = await getTokens(t)
    expect(tokens.access_token).toBeTypeOf('string')
    expect(tokens.refresh_token).toBeUndefined()

    const client = await register(t, { token_endpoint_auth_method: 'client_secret_basic' })
    const confidential = await confidentialTokens(t, client)
    expect(confidential.refresh_token).toBeTypeOf('string')
    const res = await refresh(t, client, confidential.refresh_token!)
    expect(res.status).toBe(200)
    expect(((await res.json()) as Tokens).refresh_token).toBeTypeOf('string')
    expect(await grantTypesSupported(t)).toContain('refresh_token')
  })

  it('issueTo "none": no refresh tokens, not advertised, and one issued under an earlier policy is refused', async () => {
    const store = createMemoryStore()
    const before = await createTestGatehouse({ store })
    const { client, tokens } = await getTokens(before)
    expect(tokens.refresh_token).toBeTypeOf('string')
    expect(await grantTypesSupported(before)).toContain('refresh_token')

    // The operator turns refresh tokens off; an instance on the same store now runs the new policy.
    const after = await createTestGatehouse({
      store,
      config: { refreshTokens: { issueTo: 'none' } },
    })
    expect(await grantTypesSupported(after)).not.toContain('refresh_token')
    const fresh = await getTokens(after)
    expect(fresh.tokens.refresh_token).toBeUndefined()
    const res = await refresh(after, client, tokens.refresh_token!)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'unauthorized_client' })
    expect(after.errors.some((e) => e.message.includes(tokens.refresh_token!))).toBe(false)
  })

  it('absoluteLifetimeSeconds: rotations never reach past it, counted from the sign-in', async () => {
    const t = await createTestGatehouse({
      config: { refreshTokenTtlSeconds: 1800, refreshTokens: { absoluteLifetimeSeconds: 3600 } },
    })
    const { client, tokens } = await getTokens(t)
    let current = tokens.refresh_token!
    const step = async (seconds: number) => {
      t.clock.advance(seconds)
      return refresh(t, client, current)
    }
    // Well inside both lifetimes: rotation as usual.
    for (const seconds of [1700, 1700]) {
      const res = await step(seconds)
      expect(res.status).toBe(200)
      current = ((await res.json()) as Tokens).refresh_token!
    }
    // At 3400 s the new token got only the 200 s left of the sign-in, not 1800 s of idle time.
    const late = await step(150)
    expect(late.status).toBe(200)
    current = ((await late.json()) as Tokens).refresh_token!
    const past = await step(60)
    expect(past.status).toBe(400)
    expect(await past.json()).toMatchObject({ error: 'invalid_grant' })
  })

  it('without absoluteLifetimeSeconds only the idle lifetime applies (the same steps keep working)', async () => {
    const t = await createTestGatehouse({ config: { refreshTokenTtlSeconds: 1800 } })
    const { client, tokens } = await getTokens(t)
    let current = tokens.refresh_token!
    for (const seconds of [1700, 1700, 150, 60]) {
      t.clock.advance(seconds)
      const res = await refresh(t, client, current)
      expect(res.status).toBe(200)
      current = ((await res.json()) as Tokens).refresh_token!
    }
    // Idle past refreshTokenTtlSeconds: refused.
    t.clock.advance(1801)
    expect((await refresh(t, client, current)).status).toBe(400)
  })

  it('a sign-in given no refresh token keeps its grant only as long as its access token', async () => {
    // The store follows the test clock, so lifetimes in the store pass as the clock advances.
    const { clock, store, admin } = await storeOnClock()
    const t = await createTestGatehouse({
      store,
      config: { refreshTokens: { issueTo: 'confidential' } },
      options: { now: clock.now },
    })
    const { client: publicClient, tokens } = await getTokens(t)
    expect(tokens.refresh_token).toBeUndefined()
    const confidential = await register(t, { token_endpoint_auth_method: 'client_secret_basic' })
    const refreshable = await confidentialTokens(t, confidential)
    expect(refreshable.refresh_token).toBeTypeOf('string')
    const clientsOfGrants = async () => (await admin.listGrants()).map((g) => g.clientId).sort()
    expect(await clientsOfGrants()).toEqual([publicClient.client_id, confidential.client_id].sort())

    clock.advance(tokens.expires_in - 1)
    expect((await t.mcp(bearer(tokens.access_token))).status).toBe(200)
    // The grant outlives its token by the clock tolerance (30 s), as verifiers accept it as long.
    clock.advance(30)
    expect(await clientsOfGrants()).toHaveLength(2)
    clock.advance(2)
    // Its access token has expired and nothing can renew it: the grant is gone. The grant with a
    // refresh token stays, and its refresh token still works.
    expect(await clientsOfGrants()).toEqual([confidential.client_id])
    expect((await refresh(t, confidential, refreshable.refresh_token!)).status).toBe(200)
    await admin.close()
  })

  it('the policy is validated with the configuration', async () => {
    await expect(
      createTestGatehouse({ config: { refreshTokens: { issueTo: 'public' } } }),
    ).rejects.toThrow(/issueTo/)
    await expect(
      createTestGatehouse({ config: { refreshTokens: { absoluteLifetimeSeconds: 10 } } }),
    ).rejects.toThrow(/absoluteLifetimeSeconds/)
  })
})
