/**
 * Client authentication of metadata-document clients at the token endpoint: CIMD-19 and TK-22,
 * and `private_key_jwt` with the document's keys (RFC 7523: iss/sub, aud, exp bound, single-use
 * jti), inline `jwks` or `jwks_uri` on the client host.
 */
import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLIENT_ASSERTION_TYPE } from '../../src/config/protocol.js'
import { startClientHost, type ClientHost } from '../helpers/client-host.js'
import {
  APP_REDIRECT,
  createCIMDGatehouse,
  LOCAL_REDIRECT,
  metadataDocument,
} from '../helpers/cimd.js'
import { basic, form, getCode, ISSUER, type TestGatehouse } from '../helpers/gatehouse.js'

let host: ClientHost
let privateKey: CryptoKey
let publicJwk: Record<string, unknown>
let n = 0

beforeAll(async () => {
  host = await startClientHost()
  const pair = await generateKeyPair('ES256')
  privateKey = pair.privateKey
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
})
afterAll(async () => {
  await host.close()
})

function assertion(
  clientId: string,
  overrides: {
    aud?: string | string[]
    exp?: number
    jti?: string
    iss?: string
    key?: CryptoKey
  } = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', ...header })
    .setIssuer(overrides.iss ?? clientId)
    .setSubject(clientId)
    .setAudience(overrides.aud ?? ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(overrides.exp ?? now + 60)
    .setJti(overrides.jti ?? randomUUID())
    .sign(overrides.key ?? privateKey)
}

/** A private_key_jwt client with its keys inline (or at `jwks_uri` on the client host). */
function keyClient(byUri = false): string {
  const p = `/key-client-${++n}.json`
  const keys = { keys: [publicJwk] }
  if (byUri) host.json(`${p}.jwks`, keys)
  host.json(
    p,
    metadataDocument(host, p, {
      token_endpoint_auth_method: 'private_key_jwt',
      ...(byUri ? { jwks_uri: `${host.origin()}${p}.jwks` } : { jwks: keys }),
    }),
  )
  return `${host.origin()}${p}`
}

async function codeFor(t: TestGatehouse, clientId: string) {
  return getCode(t, { client_id: clientId, redirect_uris: [LOCAL_REDIRECT, APP_REDIRECT] })
}

function redeem(
  t: TestGatehouse,
  code: { code: string; verifier: string },
  auth: Record<string, string>,
  init: RequestInit = {},
) {
  const request = form({
    grant_type: 'authorization_code',
    code: code.code,
    code_verifier: code.verifier,
    redirect_uri: APP_REDIRECT,
    ...auth,
  })
  const headers = new Headers(request.headers)
  new Headers(init.headers).forEach((value, name) => {
    headers.set(name, value)
  })
  return t.call('/token', { ...request, headers })
}

describe('metadata-document clients at the token endpoint', () => {
  it('CIMD-19: a private_key_jwt client without client_assertion gets 401 invalid_client', async () => {
    const t = await createCIMDGatehouse(host)
    const id = keyClient()
    const code = await codeFor(t, id)
    const res = await redeem(t, code, { client_id: id })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ error: 'invalid_client' })
    // Nothing was redeemed: the same code still works with proper authentication.
    const ok = await redeem(t, code, {
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await assertion(id),
    })
    expect(ok.status).toBe(200)
  })

  it('TK-22: a metadata-document client using client_secret_basic gets 401 invalid_client', async () => {
    const t = await createCIMDGatehouse(host)
    const p = `/public-${++n}.json`
    host.json(p, metadataDocument(host, p))
    const id = `${host.origin()}${p}`
    const code = await codeFor(t, id)
    const res = await redeem(t, code, {}, { headers: { authorization: basic(id, 'guess') } })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toContain('Basic')
    expect(await res.json()).toMatchObject({ error: 'invalid_client' })
    const post = await redeem(t, code, { client_id: id, client_secret: 'guess' })
    expect(post.status).toBe(401)
  })

  it('private_key_jwt: a valid assertion with inline jwks authenticates; its jti is single use', async () => {
    const t = await createCIMDGatehouse(host)
    const id = keyClient()
    const signed = await assertion(id, { aud: ISSUER })
    const first = await redeem(t, await codeFor(t, id), {
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: signed,
    })
    expect(first.status).toBe(200)
    const replay = await redeem(t, await codeFor(t, id), {
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: signed,
    })
    expect(replay.status).toBe(401)
    expect(t.errors.at(-1)?.reason).toBe('assertion_replay')
  })

  it('private_key_jwt: keys at jwks_uri are fetched through the guard with the document', async () => {
    const t = await createCIMDGatehouse(host)
    const id = keyClient(true)
    const res = await redeem(t, await codeFor(t, id), {
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await assertion(id),
    })
    expect(res.status).toBe(200)
    expect(host.count(`${new URL(id).pathname}.jwks`)).toBe(1)
  })

  it('private_key_jwt: wrong audience, wrong issuer, far expiry, another key, or a wrong type are refused', async () => {
    const t = await createCIMDGatehouse(host)
    const id = keyClient()
    const other = await generateKeyPair('ES256')
    const now = Math.floor(Date.now() / 1000)
    const bad = [
      await assertion(id, { aud: 'https://other.test/token' }),
      // Only the issuer itself: not the token endpoint URL, not a list naming another server.
      await assertion(id, { aud: `${ISSUER}/token` }),
      await assertion(id, { aud: ['https://evil-as.test', ISSUER] }),
      await assertion(id, { aud: [ISSUER, ISSUER] }),
      await assertion(id, { iss: 'https://client.test/else.json' }),
      await assertion(id, { exp: now + 3600 }),
      await assertion(id, { exp: now - 120 }),
      await assertion(id, { key: other.privateKey }),
    ]
    const code = await codeFor(t, id)
    for (const signed of bad) {
      const res = await redeem(t, code, {
        client_id: id,
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: signed,
      })
      expect(res.status).toBe(401)
    }
    const wrongType = await redeem(t, code, {
      client_assertion_type: 'urn:example:other',
      client_assertion: await assertion(id),
    })
    expect(wrongType.status).toBe(401)
    const ok = await redeem(t, code, {
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await assertion(id),
    })
    expect(ok.status).toBe(200)
  })
})
