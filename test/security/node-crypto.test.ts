/**
 * The authorization-code and refresh grants on the Node path, as `gatehouse serve` wires it
 * (`nodeCrypto`): access tokens signed by `nodeSignatureSigner`, codes, refresh tokens and PKCE
 * hashed by `nodeSha256`, stored values sealed by `nodeValueCipher`. The same security checks as on the Web Crypto path (token.test.ts, refresh.test.ts).
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { nodeCrypto } from '../../src/adapters/node.js'
import {
  bearer,
  createTestGatehouse,
  form,
  getCode,
  register,
  type RegisteredClient,
  type TestGatehouse,
} from '../helpers/gatehouse.js'

describe.each(['RS256', 'ES256', 'EdDSA'])('the code flow with node:crypto, %s', (alg) => {
  let t: TestGatehouse
  let c1: RegisteredClient

  beforeEach(async () => {
    t = await createTestGatehouse({
      config: { signingAlgorithm: alg },
      options: { ...nodeCrypto },
    })
    c1 = await register(t)
  })

  const redeem = (code: string, verifier: string) =>
    t.call(
      '/token',
      form({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: 'https://app.test/cb',
        client_id: c1.client_id,
      }),
    )
  const refresh = (token: string) =>
    t.call(
      '/token',
      form({ grant_type: 'refresh_token', refresh_token: token, client_id: c1.client_id }),
    )

  it('issues tokens the guard accepts, signed with the configured algorithm', async () => {
    const { code, verifier } = await getCode(t, c1)
    const res = await redeem(code, verifier)
    expect(res.status).toBe(200)
    const body = await res.json()
    const header = JSON.parse(Buffer.from(body.access_token.split('.')[0], 'base64url').toString())
    expect(header).toEqual({ alg, kid: t.gh.keys.current().kid, typ: 'at+jwt' })
    expect((await t.mcp(bearer(body.access_token))).status).toBe(200)
  })

  it('refuses a wrong code_verifier and still redeems the code with the right one', async () => {
    const { code, verifier } = await getCode(t, c1)
    const wrong = await redeem(code, 'x'.repeat(43))
    expect(wrong.status).toBe(400)
    expect((await wrong.json()).error).toBe('invalid_grant')
    expect((await redeem(code, verifier)).status).toBe(200)
  })

  it('refuses a second redemption and revokes what the first one issued', async () => {
    const { code, verifier } = await getCode(t, c1)
    const first = await (await redeem(code, verifier)).json()
    const replay = await redeem(code, verifier)
    expect(replay.status).toBe(400)
    expect((await replay.json()).error).toBe('invalid_grant')
    expect((await t.mcp(bearer(first.access_token))).status).toBe(401)
    expect((await refresh(first.refresh_token)).status).toBe(400)
    expect(t.errors.map((e) => e.reason)).toContain('code_replay')
  })

  it('rotates refresh tokens, and reuse of a rotated one revokes the grant', async () => {
    const { code, verifier } = await getCode(t, c1)
    const first = await (await redeem(code, verifier)).json()
    const second = await (await refresh(first.refresh_token)).json()
    expect(second.refresh_token).not.toBe(first.refresh_token)
    const reuse = await refresh(first.refresh_token)
    expect(reuse.status).toBe(400)
    expect((await reuse.json()).error).toBe('invalid_grant')
    expect((await refresh(second.refresh_token)).status).toBe(400)
    expect((await t.mcp(bearer(second.access_token))).status).toBe(401)
  })
})
