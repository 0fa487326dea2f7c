/**
 * DPoP (RFC 9449) through HTTP, at the token endpoint and at the guard, with proofs built by hand
 * so that every bad input can be sent: each gets the RFC's error and changes nothing (the code or
 * refresh token still works afterwards with a good proof).
 */
import { describe, expect, it } from 'vitest'
import { startEnterpriseIdP } from '../helpers/enterprise-idp.js'
import {
  basic,
  ISSUER,
  RESOURCE,
  createTestGatehouse,
  form,
  getCode,
  register,
  type CodeResult,
  type RegisteredClient,
  type TestGatehouse,
} from '../helpers/gatehouse.js'
import {
  claimsOf,
  createHMACProof,
  createProof,
  createProofKey,
  createUnsecuredProof,
  type ProofKey,
  type ProofOptions,
} from '../helpers/dpop.js'

const TOKEN_URL = `${ISSUER}/token`

const nowSeconds = (t: TestGatehouse) => Math.floor(t.clock.now() / 1000)

function tokenProof(t: TestGatehouse, key: ProofKey, extra: Partial<ProofOptions> = {}) {
  return createProof(key, { htu: TOKEN_URL, iat: nowSeconds(t), ...extra })
}

function redeem(
  t: TestGatehouse,
  client: RegisteredClient,
  code: CodeResult,
  proof?: string,
): Promise<Response> {
  const init = form({
    grant_type: 'authorization_code',
    code: code.code,
    code_verifier: code.verifier,
    redirect_uri: code.redirectUri,
    client_id: client.client_id,
    resource: RESOURCE,
  })
  if (proof !== undefined) (init.headers as Record<string, string>).dpop = proof
  return t.call('/token', init)
}

function refresh(
  t: TestGatehouse,
  client: RegisteredClient,
  refreshToken: string,
  proof?: string,
): Promise<Response> {
  const init = form({
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: client.client_id,
  })
  if (proof !== undefined) (init.headers as Record<string, string>).dpop = proof
  return t.call('/token', init)
}

interface TokenBody {
  access_token: string
  token_type: string
  refresh_token?: string
}

async function boundTokens(t: TestGatehouse, key: ProofKey) {
  const client = await register(t)
  const code = await getCode(t, client)
  const res = await redeem(t, client, code, await tokenProof(t, key))
  expect(res.status).toBe(200)
  return { client, tokens: (await res.json()) as TokenBody }
}

function callMCP(t: TestGatehouse, token: string, proof: string | undefined, scheme = 'DPoP') {
  return t.mcp({
    headers: {
      authorization: `${scheme} ${token}`,
      ...(proof !== undefined ? { dpop: proof } : {}),
    },
  })
}

function resourceProof(
  t: TestGatehouse,
  key: ProofKey,
  token: string,
  extra: Partial<ProofOptions> = {},
) {
  return createProof(key, { htu: RESOURCE, iat: nowSeconds(t), accessToken: token, ...extra })
}

async function expectTokenError(res: Response, error: string, status = 400) {
  expect(res.status).toBe(status)
  expect(res.headers.get('cache-control')).toBe('no-store')
  const body = (await res.json()) as { error: string; access_token?: unknown }
  expect(body.error).toBe(error)
  expect(body.access_token).toBeUndefined()
}

describe('DPoP at the token endpoint', () => {
  it('advertises the proof algorithms in the authorization-server metadata', async () => {
    const t = await createTestGatehouse()
    const meta = (await (await t.call('/.well-known/oauth-authorization-server')).json()) as Record<
      string,
      unknown
    >
    expect(meta.dpop_signing_alg_values_supported).toContain('ES256')
    expect(meta.dpop_signing_alg_values_supported).not.toContain('HS256')
    expect(meta.dpop_signing_alg_values_supported).not.toContain('none')
  })

  it('advertises nothing about DPoP when it is off, and ignores a DPoP header then', async () => {
    const t = await createTestGatehouse({ config: { dpop: { enabled: false } } })
    const meta = (await (await t.call('/.well-known/oauth-authorization-server')).json()) as Record<
      string,
      unknown
    >
    expect(meta.dpop_signing_alg_values_supported).toBeUndefined()
    const key = await createProofKey()
    const client = await register(t)
    const res = await redeem(t, client, await getCode(t, client), await tokenProof(t, key))
    expect(res.status).toBe(200)
    const body = (await res.json()) as TokenBody
    expect(body.token_type).toBe('Bearer')
    expect(claimsOf(body.access_token).cnf).toBeUndefined()
  })

  it('binds the access token to the proof key: token_type DPoP and cnf.jkt', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const { tokens } = await boundTokens(t, key)
    expect(tokens.token_type).toBe('DPoP')
    expect(claimsOf(tokens.access_token).cnf).toEqual({ jkt: key.jkt })
  })

  it('issues bearer tokens as before to a client that sends no proof', async () => {
    const t = await createTestGatehouse()
    const client = await register(t)
    const res = await redeem(t, client, await getCode(t, client))
    const body = (await res.json()) as TokenBody
    expect(body.token_type).toBe('Bearer')
    expect(claimsOf(body.access_token).cnf).toBeUndefined()
  })

  it('refuses a replayed proof (same jti) and leaves the code redeemable', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const client = await register(t)
    const first = await getCode(t, client)
    const proof = await tokenProof(t, key)
    expect((await redeem(t, client, first, proof)).status).toBe(200)
    const second = await getCode(t, client)
    await expectTokenError(await redeem(t, client, second, proof), 'invalid_dpop_proof')
    expect(t.errors.at(-1)?.reason).toBe('dpop_replay')
    expect((await redeem(t, client, second, await tokenProof(t, key))).status).toBe(200)
  })

  it('spends a proof only for a client that authenticated: a refused client leaves it unspent', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const client = await register(t)
    const code = await getCode(t, client)
    const proof = await tokenProof(t, key)
    // An unknown client: 401, and the store keeps nothing of the request.
    const stranger = form({
      grant_type: 'authorization_code',
      code: code.code,
      code_verifier: code.verifier,
      redirect_uri: code.redirectUri,
      client_id: 'nobody',
      resource: RESOURCE,
    })
    ;(stranger.headers as Record<string, string>).dpop = proof
    await expectTokenError(await t.call('/token', stranger), 'invalid_client', 401)
    // So the same proof still works for the client it was made for, once.
    const ok = await redeem(t, client, code, proof)
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as TokenBody).token_type).toBe('DPoP')
  })

  it('refuses a replay held across instances sharing the store', async () => {
    const a = await createTestGatehouse()
    const b = await createTestGatehouse({ store: a.store })
    const key = await createProofKey()
    const client = await register(a)
    const proof = await tokenProof(a, key)
    expect((await redeem(a, client, await getCode(a, client), proof)).status).toBe(200)
    await expectTokenError(
      await redeem(b, client, await getCode(b, client), proof),
      'invalid_dpop_proof',
    )
  })

  it.each([
    ['another URL', { htu: `${ISSUER}/revoke` }, 'dpop_htu'],
    ['another host', { htu: 'https://evil.test/token' }, 'dpop_htu'],
    ['another method', { htm: 'GET' }, 'dpop_htm'],
    ['no jti', { omit: ['jti'] }, 'dpop_jti'],
    ['another typ', { header: { typ: 'JWT' } }, 'dpop_typ'],
  ] as const)('refuses a proof for %s and changes nothing', async (_name, extra, reason) => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const client = await register(t)
    const code = await getCode(t, client)
    await expectTokenError(
      await redeem(t, client, code, await tokenProof(t, key, extra as Partial<ProofOptions>)),
      'invalid_dpop_proof',
    )
    expect(t.errors.at(-1)?.reason).toBe(reason)
    expect((await redeem(t, client, code, await tokenProof(t, key))).status).toBe(200)
  })

  it('accepts htu with a query and the host in capitals (RFC 9449 §4.3: normalised)', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const client = await register(t)
    const proof = await tokenProof(t, key, { htu: 'HTTPS://AS.TEST:443/token?x=1#f' })
    expect((await redeem(t, client, await getCode(t, client), proof)).status).toBe(200)
  })

  it('refuses a stale proof and one from the future', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const client = await register(t)
    const code = await getCode(t, client)
    const stale = await tokenProof(t, key, { iat: nowSeconds(t) - 121 })
    await expectTokenError(await redeem(t, client, code, stale), 'invalid_dpop_proof')
    expect(t.errors.at(-1)?.reason).toBe('dpop_iat_stale')
    const future = await tokenProof(t, key, { iat: nowSeconds(t) + 120 })
    await expectTokenError(await redeem(t, client, code, future), 'invalid_dpop_proof')
    expect(t.errors.at(-1)?.reason).toBe('dpop_iat_future')
    expect((await redeem(t, client, code, await tokenProof(t, key))).status).toBe(200)
  })

  it.each(['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA', 'Ed25519'])(
    'accepts a %s proof',
    async (alg) => {
      const t = await createTestGatehouse()
      const key = await createProofKey(alg)
      const client = await register(t)
      const res = await redeem(t, client, await getCode(t, client), await tokenProof(t, key))
      expect(res.status).toBe(200)
      expect(claimsOf(((await res.json()) as TokenBody).access_token).cnf).toEqual({
        jkt: key.jkt,
      })
    },
  )

  it('refuses alg none, HS256 and an algorithm not on the allow-list', async () => {
    const t = await createTestGatehouse({ config: { dpop: { algorithms: ['ES256'] } } })
    const client = await register(t)
    const code = await getCode(t, client)
    const key = await createProofKey()
    const none = createUnsecuredProof(key, { htu: TOKEN_URL, iat: nowSeconds(t) })
    await expectTokenError(await redeem(t, client, code, none), 'invalid_dpop_proof')
    const hmac = await createHMACProof({ htu: TOKEN_URL, iat: nowSeconds(t) })
    await expectTokenError(await redeem(t, client, code, hmac), 'invalid_dpop_proof')
    const rsa = await createProofKey('PS256')
    await expectTokenError(
      await redeem(t, client, code, await tokenProof(t, rsa)),
      'invalid_dpop_proof',
    )
    expect(t.errors.at(-1)?.reason).toBe('dpop_alg')
    expect((await redeem(t, client, code, await tokenProof(t, key))).status).toBe(200)
  })

  it('refuses a proof whose jwk holds the private key', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const client = await register(t)
    const code = await getCode(t, client)
    const leaky = await tokenProof(t, key, { header: { jwk: key.privateJwk } })
    await expectTokenError(await redeem(t, client, code, leaky), 'invalid_dpop_proof')
    expect(t.errors.at(-1)?.reason).toBe('dpop_jwk_private')
  })

  it('refuses a proof signed by another key than its jwk, and two DPoP headers', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const other = await createProofKey()
    const client = await register(t)
    const code = await getCode(t, client)
    const forged = await tokenProof(t, key, { header: { jwk: other.publicJwk } })
    await expectTokenError(await redeem(t, client, code, forged), 'invalid_dpop_proof')
    const init = form({
      grant_type: 'authorization_code',
      code: code.code,
      code_verifier: code.verifier,
      redirect_uri: code.redirectUri,
      client_id: client.client_id,
    })
    const headers = new Headers(init.headers)
    headers.append('dpop', await tokenProof(t, key))
    headers.append('dpop', await tokenProof(t, key))
    await expectTokenError(await t.call('/token', { ...init, headers }), 'invalid_dpop_proof')
    expect(t.errors.at(-1)?.reason).toBe('dpop_not_one_header')
  })

  it('binds the code to dpop_jkt: another key or no proof is invalid_grant', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const other = await createProofKey()
    const client = await register(t)
    const code = await getCode(t, client, { dpop_jkt: key.jkt })
    await expectTokenError(
      await redeem(t, client, code, await tokenProof(t, other)),
      'invalid_grant',
    )
    await expectTokenError(await redeem(t, client, code), 'invalid_grant')
    const res = await redeem(t, client, code, await tokenProof(t, key))
    expect(res.status).toBe(200)
    expect(claimsOf(((await res.json()) as TokenBody).access_token).cnf).toEqual({ jkt: key.jkt })
  })

  it('refuses a malformed dpop_jkt at /authorize', async () => {
    const t = await createTestGatehouse()
    const client = await register(t)
    await expect(getCode(t, client, { dpop_jkt: 'not-a-thumbprint' })).rejects.toThrow(
      /no code in .*error=invalid_request/,
    )
  })

  it('binds a public client refresh token: another key or none is invalid_grant', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const other = await createProofKey()
    const { client, tokens } = await boundTokens(t, key)
    const rt = tokens.refresh_token as string
    await expectTokenError(
      await refresh(t, client, rt, await tokenProof(t, other)),
      'invalid_grant',
    )
    expect(t.errors.at(-1)?.reason).toBe('refresh_dpop_key_mismatch')
    await expectTokenError(await refresh(t, client, rt), 'invalid_grant')
    // Nothing changed: the token was not rotated (no reuse detection fired).
    const res = await refresh(t, client, rt, await tokenProof(t, key))
    expect(res.status).toBe(200)
    const body = (await res.json()) as TokenBody
    expect(body.token_type).toBe('DPoP')
    expect(claimsOf(body.access_token).cnf).toEqual({ jkt: key.jkt })
  })

  it('does not bind a confidential client refresh token to the key', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const other = await createProofKey()
    const client = await register(t, { token_endpoint_auth_method: 'client_secret_post' })
    const code = await getCode(t, client)
    const secret = client.client_secret as string
    const post = async (params: Record<string, string>, proof: string) => {
      const init = form({ ...params, client_id: client.client_id, client_secret: secret })
      ;(init.headers as Record<string, string>).dpop = proof
      return t.call('/token', init)
    }
    const first = await post(
      {
        grant_type: 'authorization_code',
        code: code.code,
        code_verifier: code.verifier,
        redirect_uri: code.redirectUri,
      },
      await tokenProof(t, key),
    )
    const rt = ((await first.json()) as TokenBody).refresh_token as string
    const res = await post(
      { grant_type: 'refresh_token', refresh_token: rt },
      await tokenProof(t, other),
    )
    expect(res.status).toBe(200)
    expect(claimsOf(((await res.json()) as TokenBody).access_token).cnf).toEqual({
      jkt: other.jkt,
    })
  })

  it('binds client credentials tokens too', async () => {
    const t = await createTestGatehouse({
      config: {
        clientCredentials: { enabled: true },
        clients: [
          {
            clientId: 'machine',
            clientSecret: 'm'.repeat(40),
            tokenEndpointAuthMethod: 'client_secret_post',
            grantTypes: ['client_credentials'],
            clientCredentialsScopes: ['mcp:read'],
          },
        ],
      },
    })
    const key = await createProofKey()
    const init = form({
      grant_type: 'client_credentials',
      client_id: 'machine',
      client_secret: 'm'.repeat(40),
    })
    ;(init.headers as Record<string, string>).dpop = await tokenProof(t, key)
    const res = await t.call('/token', init)
    expect(res.status).toBe(200)
    const body = (await res.json()) as TokenBody
    expect(body.token_type).toBe('DPoP')
    expect(claimsOf(body.access_token).cnf).toEqual({ jkt: key.jkt })
    const ok = await callMCP(t, body.access_token, await resourceProof(t, key, body.access_token))
    expect(ok.status).toBe(200)
  })

  it('binds tokens from an identity assertion (jwt-bearer) too', async () => {
    const idp = await startEnterpriseIdP({ audience: ISSUER, resource: RESOURCE, clientId: 'CC' })
    try {
      const secret = 'cc-secret-that-is-long-enough-for-the-schema'
      const jwtBearer = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
      const t = await createTestGatehouse({
        config: {
          clients: [{ clientId: 'CC', clientSecret: secret, grantTypes: [jwtBearer] }],
          identityAssertion: { trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri }] },
        },
      })
      const key = await createProofKey()
      const res = await t.call('/token', {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: jwtBearer,
          assertion: await idp.mintIdJag(),
        }).toString(),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('CC', secret),
          dpop: await tokenProof(t, key),
        },
      })
      expect(res.status).toBe(200)
      const body = (await res.json()) as TokenBody
      expect(body.token_type).toBe('DPoP')
      expect(claimsOf(body.access_token).cnf).toEqual({ jkt: key.jkt })
    } finally {
      await idp.close()
    }
  })

  it('refuses a token request without a proof from a client registered with dpop_bound_access_tokens', async () => {
    const t = await createTestGatehouse()
    const client = await register(t, { dpop_bound_access_tokens: true })
    expect(client.dpop_bound_access_tokens).toBe(true)
    const code = await getCode(t, client)
    await expectTokenError(await redeem(t, client, code), 'invalid_dpop_proof')
    const key = await createProofKey()
    const res = await redeem(t, client, code, await tokenProof(t, key))
    expect(res.status).toBe(200)
    expect(((await res.json()) as TokenBody).token_type).toBe('DPoP')
  })

  it('refuses dpop_bound_access_tokens that is not a boolean, or while DPoP is off', async () => {
    const t = await createTestGatehouse()
    await expect(register(t, { dpop_bound_access_tokens: 'yes' })).rejects.toThrow(
      /400 .*invalid_client_metadata/,
    )
    const off = await createTestGatehouse({ config: { dpop: { enabled: false } } })
    await expect(register(off, { dpop_bound_access_tokens: true })).rejects.toThrow(
      /400 .*invalid_client_metadata/,
    )
  })

  it('says token_type DPoP and cnf.jkt in introspection (RFC 9449 §6.2)', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const client = await register(t, { token_endpoint_auth_method: 'client_secret_basic' })
    const code = await getCode(t, client)
    const secret = client.client_secret as string
    const init = form({
      grant_type: 'authorization_code',
      code: code.code,
      code_verifier: code.verifier,
      redirect_uri: code.redirectUri,
    })
    const headers = {
      ...(init.headers as Record<string, string>),
      authorization: basic(client.client_id, secret),
    }
    const res = await t.call('/token', {
      ...init,
      headers: { ...headers, dpop: await tokenProof(t, key) },
    })
    const token = ((await res.json()) as TokenBody).access_token
    const introspected = await t.call('/introspect', {
      ...form({ token }),
      headers: { ...headers },
    })
    const body = (await introspected.json()) as Record<string, unknown>
    expect(body.active).toBe(true)
    expect(body.token_type).toBe('DPoP')
    expect(body.cnf).toEqual({ jkt: key.jkt })
  })

  describe('with server nonces', () => {
    const config = { dpop: { nonce: { enabled: true, rotationSeconds: 60 } } }

    it('answers use_dpop_nonce with a DPoP-Nonce header, then accepts the nonce', async () => {
      const t = await createTestGatehouse({ config })
      const key = await createProofKey()
      const client = await register(t)
      const code = await getCode(t, client)
      const res = await redeem(t, client, code, await tokenProof(t, key))
      await expectTokenError(res, 'use_dpop_nonce')
      const nonce = res.headers.get('dpop-nonce')
      expect(nonce).toBeTruthy()
      expect(res.headers.get('access-control-expose-headers')).toContain('DPoP-Nonce')
      const ok = await redeem(t, client, code, await tokenProof(t, key, { nonce: nonce ?? '' }))
      expect(ok.status).toBe(200)
      expect(ok.headers.get('dpop-nonce')).toBeTruthy()
    })

    it('refuses a nonce past its two windows and a forged one', async () => {
      const t = await createTestGatehouse({ config })
      const key = await createProofKey()
      const client = await register(t)
      const code = await getCode(t, client)
      const first = await redeem(t, client, code, await tokenProof(t, key))
      const nonce = first.headers.get('dpop-nonce') ?? ''
      t.clock.advance(121)
      const code2 = await getCode(t, client)
      const stale = await redeem(t, client, code2, await tokenProof(t, key, { nonce }))
      await expectTokenError(stale, 'use_dpop_nonce')
      const forged = `${nonce.split('.')[0] ?? ''}.${'A'.repeat(43)}`
      await expectTokenError(
        await redeem(t, client, code2, await tokenProof(t, key, { nonce: forged })),
        'use_dpop_nonce',
      )
      const fresh = stale.headers.get('dpop-nonce') ?? ''
      expect(fresh).not.toBe(nonce)
      const ok = await redeem(t, client, code2, await tokenProof(t, key, { nonce: fresh }))
      expect(ok.status).toBe(200)
    })

    it('spends no client assertion on a use_dpop_nonce answer: the retry with the nonce and the same assertion gets its token', async () => {
      const { generateKeyPair, exportJWK, SignJWT } = await import('jose')
      const pair = await generateKeyPair('ES256')
      const t = await createTestGatehouse({
        config: {
          ...config,
          clientCredentials: { enabled: true },
          clients: [
            {
              clientId: 'signer',
              tokenEndpointAuthMethod: 'private_key_jwt',
              jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), alg: 'ES256' }] },
              grantTypes: ['client_credentials'],
              clientCredentialsScopes: ['mcp:read'],
            },
          ],
        },
      })
      const now = nowSeconds(t)
      const assertion = await new SignJWT({
        iss: 'signer',
        sub: 'signer',
        aud: ISSUER,
        iat: now,
        exp: now + 120,
        jti: 'one-assertion',
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
        .sign(pair.privateKey)
      const key = await createProofKey()
      const request = async (proof: string) => {
        const init = form({
          grant_type: 'client_credentials',
          client_id: 'signer',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
        })
        ;(init.headers as Record<string, string>).dpop = proof
        return t.call('/token', init)
      }
      const first = await request(await tokenProof(t, key))
      const nonce = first.headers.get('dpop-nonce') ?? ''
      await expectTokenError(first, 'use_dpop_nonce')
      const retry = await request(await tokenProof(t, key, { nonce }))
      expect(retry.status).toBe(200)
      expect(((await retry.json()) as TokenBody).token_type).toBe('DPoP')
      // The assertion is spent now: once more is a replay.
      const again = await request(await tokenProof(t, key, { nonce }))
      await expectTokenError(again, 'invalid_client', 401)
    })

    it('accepts a nonce minted by another instance with the same secret', async () => {
      const a = await createTestGatehouse({ config })
      const b = await createTestGatehouse({ config, store: a.store })
      const key = await createProofKey()
      const client = await register(a)
      const res = await redeem(a, client, await getCode(a, client), await tokenProof(a, key))
      const nonce = res.headers.get('dpop-nonce') ?? ''
      const ok = await redeem(
        b,
        client,
        await getCode(b, client),
        await tokenProof(b, key, { nonce }),
      )
      expect(ok.status).toBe(200)
    })
  })
})

describe('DPoP at the resource guard', () => {
  it('accepts a bound token with a proof for the request, every time with a fresh proof', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const { tokens } = await boundTokens(t, key)
    const token = tokens.access_token
    for (let i = 0; i < 2; i++) {
      const res = await callMCP(t, token, await resourceProof(t, key, token))
      expect(res.status).toBe(200)
      expect(((await res.json()) as { sub: string }).sub).toBe('user-1')
    }
  })

  it('refuses a bound token sent as Bearer (RFC 9449 §7.2)', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const { tokens } = await boundTokens(t, key)
    const res = await callMCP(t, tokens.access_token, undefined, 'Bearer')
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token')
    const challenge = res.headers.get('www-authenticate') ?? ''
    expect(challenge).toMatch(/^Bearer resource_metadata="[^"]+"/)
    expect(challenge).toMatch(
      /DPoP error="invalid_token", error_description="[^"]+", scope="[^"]+", algs="[^"]*ES256/,
    )
  })

  it('refuses a request without a proof, a replayed proof and a proof for another request', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const { tokens } = await boundTokens(t, key)
    const token = tokens.access_token
    const expectProofError = async (res: Response, reason: string) => {
      expect(res.status).toBe(401)
      expect(((await res.json()) as { error: string }).error).toBe('invalid_dpop_proof')
      expect(res.headers.get('www-authenticate')).toContain('DPoP error="invalid_dpop_proof"')
      expect(t.errors.at(-1)?.reason).toBe(reason)
    }
    await expectProofError(await callMCP(t, token, undefined), 'dpop_missing')
    const proof = await resourceProof(t, key, token)
    expect((await callMCP(t, token, proof)).status).toBe(200)
    await expectProofError(await callMCP(t, token, proof), 'dpop_replay')
    await expectProofError(
      await callMCP(t, token, await resourceProof(t, key, token, { htu: `${ISSUER}/other` })),
      'dpop_htu',
    )
    await expectProofError(
      await callMCP(t, token, await resourceProof(t, key, token, { htm: 'GET' })),
      'dpop_htm',
    )
    await expectProofError(
      await callMCP(t, token, await resourceProof(t, key, token, { iat: nowSeconds(t) - 300 })),
      'dpop_iat_stale',
    )
  })

  it('refuses a proof whose ath is for another token, or missing', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const { tokens } = await boundTokens(t, key)
    const token = tokens.access_token
    const wrong = await resourceProof(t, key, token, { accessToken: `${token}x` })
    const res = await callMCP(t, token, wrong)
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_dpop_proof')
    expect(t.errors.at(-1)?.reason).toBe('dpop_ath')
    const none = await createProof(key, { htu: RESOURCE, iat: nowSeconds(t) })
    expect((await callMCP(t, token, none)).status).toBe(401)
    expect(t.errors.at(-1)?.reason).toBe('dpop_ath')
  })

  it('refuses a proof by another key than cnf.jkt (Invalid DPoP key binding)', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const thief = await createProofKey()
    const { tokens } = await boundTokens(t, key)
    const res = await callMCP(
      t,
      tokens.access_token,
      await resourceProof(t, thief, tokens.access_token),
    )
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token')
    expect(res.headers.get('www-authenticate')).toContain(
      'DPoP error="invalid_token", error_description="Invalid DPoP key binding"',
    )
  })

  it('refuses a bearer token presented with the DPoP scheme', async () => {
    const t = await createTestGatehouse()
    const key = await createProofKey()
    const client = await register(t)
    const res = await redeem(t, client, await getCode(t, client))
    const token = ((await res.json()) as TokenBody).access_token
    const answer = await callMCP(t, token, await resourceProof(t, key, token))
    expect(answer.status).toBe(401)
    expect(t.errors.at(-1)?.reason).toBe('dpop_unbound_token')
  })

  it('still serves a bearer client at a resource where DPoP is optional', async () => {
    const t = await createTestGatehouse()
    const client = await register(t)
    const res = await redeem(t, client, await getCode(t, client))
    const token = ((await res.json()) as TokenBody).access_token
    expect((await callMCP(t, token, undefined, 'Bearer')).status).toBe(200)
    const anonymous = await t.mcp()
    expect(anonymous.headers.get('www-authenticate')).toMatch(
      /^Bearer resource_metadata="[^"]+", scope="[^"]+", DPoP algs="[^"]+"$/,
    )
  })

  describe('at a resource that requires DPoP', () => {
    const config = {
      resources: [
        {
          url: RESOURCE,
          scopes: ['mcp:read', 'mcp:write'],
          defaultScopes: ['mcp:read'],
          dpop: { required: true },
        },
      ],
    }

    it('says so in its metadata and challenges with DPoP only', async () => {
      const t = await createTestGatehouse({ config })
      const prm = (await (
        await t.call('/.well-known/oauth-protected-resource/mcp')
      ).json()) as Record<string, unknown>
      expect(prm.dpop_bound_access_tokens_required).toBe(true)
      expect(prm.dpop_signing_alg_values_supported).toContain('ES256')
      const res = await t.mcp()
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toMatch(
        /^DPoP resource_metadata="[^"]+", scope="[^"]+", algs="[^"]+"$/,
      )
    })

    it('refuses a bearer token and accepts a bound one', async () => {
      const t = await createTestGatehouse({ config })
      const client = await register(t)
      const res = await redeem(t, client, await getCode(t, client))
      const bearerToken = ((await res.json()) as TokenBody).access_token
      const refused = await callMCP(t, bearerToken, undefined, 'Bearer')
      expect(refused.status).toBe(401)
      expect(refused.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/)
      expect(t.errors.at(-1)?.reason).toBe('dpop_required')
      const key = await createProofKey()
      const { tokens } = await boundTokens(t, key)
      const ok = await callMCP(
        t,
        tokens.access_token,
        await resourceProof(t, key, tokens.access_token),
      )
      expect(ok.status).toBe(200)
    })

    it('is refused in configuration when DPoP is off', async () => {
      await expect(
        createTestGatehouse({ config: { ...config, dpop: { enabled: false } } }),
      ).rejects.toThrow(/resources\.0\.dpop: needs dpop\.enabled/)
    })
  })

  it('asks for a nonce where the resource requires one, and accepts it', async () => {
    const t = await createTestGatehouse({
      config: {
        resources: [{ url: RESOURCE, scopes: ['mcp:read'], dpop: { nonce: true } }],
      },
    })
    const key = await createProofKey()
    const { tokens } = await boundTokens(t, key)
    const token = tokens.access_token
    const first = await callMCP(t, token, await resourceProof(t, key, token))
    expect(first.status).toBe(401)
    expect(first.headers.get('www-authenticate')).toContain('DPoP error="use_dpop_nonce"')
    const nonce = first.headers.get('dpop-nonce')
    expect(nonce).toBeTruthy()
    const ok = await callMCP(t, token, await resourceProof(t, key, token, { nonce: nonce ?? '' }))
    expect(ok.status).toBe(200)
  })
})
