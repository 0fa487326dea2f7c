/**
 * ID-JAG draft -04 (§4.4.1 processing rules): the `resource` claim may be one URI or an array of
 * URIs, and the resource authorization server grants the subset its policy allows. Gatehouse
 * issues single-audience tokens: the audience is one of the ID-JAG's resources that is one of
 * this server's resources, chosen by the client's `resource` parameter when several qualify.
 * And (§4.4): the client authenticates "with its credentials as registered", which includes
 * `private_key_jwt` (RFC 7523 client assertions) as well as secrets.
 */
import { randomBytes } from 'node:crypto'
import { base64url, exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  basic,
  createTestGatehouse,
  ISSUER,
  RESOURCE,
  type TestGatehouse,
} from '../helpers/gatehouse.js'
import { startEnterpriseIdP, type EnterpriseIdP } from '../helpers/enterprise-idp.js'

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const CC_SECRET = 'cc-secret-that-is-long-enough-for-the-schema'
const NOTES = 'https://as.test/notes'
const FOREIGN = 'https://other.test/mcp'

describe('ID-JAG draft -04: several resources in the resource claim', () => {
  let idp: EnterpriseIdP
  let t: TestGatehouse

  beforeAll(async () => {
    idp = await startEnterpriseIdP({ audience: ISSUER, resource: RESOURCE, clientId: 'CC' })
  })
  afterAll(() => idp.close())

  beforeEach(async () => {
    t = await createTestGatehouse({
      config: {
        resources: [
          { url: RESOURCE, scopes: ['mcp:read', 'mcp:write'] },
          { url: NOTES, scopes: ['notes:read'] },
        ],
        clients: [{ clientId: 'CC', clientSecret: CC_SECRET, grantTypes: [JWT_BEARER] }],
        identityAssertion: { trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri }] },
      },
    })
  })

  const exchange = (assertion: string, extra: Record<string, string> = {}) =>
    t.call('/token', {
      method: 'POST',
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion, ...extra }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('CC', CC_SECRET),
      },
    })

  const audOf = (jwt: string) =>
    (
      JSON.parse(new TextDecoder().decode(base64url.decode(jwt.split('.')[1] ?? ''))) as {
        aud: unknown
      }
    ).aud

  async function refused(res: Response, error: string) {
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe(error)
  }

  it('an array naming one of our resources and a foreign one grants our resource only (a subset)', async () => {
    const res = await exchange(
      await idp.mintIdJag({ resource: [FOREIGN, RESOURCE], scope: 'mcp:read' }),
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string; resource: string; scope: string }
    expect(body.resource).toBe(RESOURCE)
    expect(body.scope).toBe('mcp:read')
    expect(audOf(body.access_token)).toBe(RESOURCE)
  })

  it('with two of our resources the client chooses one with the resource parameter; the token is for that one only', async () => {
    const res = await exchange(
      await idp.mintIdJag({ resource: [RESOURCE, NOTES], scope: 'notes:read mcp:read' }),
      { resource: NOTES },
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string; resource: string; scope: string }
    expect(body.resource).toBe(NOTES)
    // Only the scopes the chosen resource knows.
    expect(body.scope).toBe('notes:read')
    expect(audOf(body.access_token)).toBe(NOTES)
  })

  it('with two of our resources and no resource parameter the request is invalid_target and leaves the ID-JAG unspent', async () => {
    const jag = await idp.mintIdJag({ resource: [RESOURCE, NOTES] })
    await refused(await exchange(jag), 'invalid_target')
    expect(t.errors.at(-1)?.reason).toBe('id_jag_resource_ambiguous')
    expect((await exchange(jag, { resource: RESOURCE })).status).toBe(200)
  })

  it('a resource parameter outside the ID-JAG resources is invalid_target', async () => {
    const jag = await idp.mintIdJag({ resource: [FOREIGN, RESOURCE] })
    await refused(await exchange(jag, { resource: NOTES }), 'invalid_target')
  })

  it('arrays with none of our resources, no value, a non-string or a dot segment are invalid_grant', async () => {
    for (const resource of [
      [FOREIGN],
      [],
      [RESOURCE, 42],
      [RESOURCE, 'https://as.test/mcp/../admin'],
    ]) {
      await refused(await exchange(await idp.mintIdJag({ resource })), 'invalid_grant')
    }
  })
})

describe('ID-JAG draft -04: a client authenticating with private_key_jwt', () => {
  let idp: EnterpriseIdP
  afterAll(() => idp.close())

  it('gets a token for its ID-JAG with an RFC 7523 client assertion, and none with a foreign key', async () => {
    idp = await startEnterpriseIdP({ audience: ISSUER, resource: RESOURCE, clientId: 'KEYED' })
    const pair = await generateKeyPair('ES256')
    const foreign = await generateKeyPair('ES256')
    const t = await createTestGatehouse({
      config: {
        clients: [
          {
            clientId: 'KEYED',
            tokenEndpointAuthMethod: 'private_key_jwt',
            jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), alg: 'ES256' }] },
            grantTypes: [JWT_BEARER],
          },
        ],
        identityAssertion: { trustedIssuers: [{ issuer: idp.issuer, jwksUri: idp.jwksUri }] },
      },
    })
    const clientAssertion = (key: CryptoKey) => {
      const now = Math.floor(Date.now() / 1000)
      return new SignJWT({
        iss: 'KEYED',
        sub: 'KEYED',
        aud: ISSUER,
        iat: now,
        exp: now + 60,
        jti: randomBytes(12).toString('base64url'),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
        .sign(key)
    }
    const exchange = async (key: CryptoKey) =>
      t.call('/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: JWT_BEARER,
          assertion: await idp.mintIdJag({ scope: 'mcp:read' }),
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await clientAssertion(key),
        }).toString(),
      })
    const refused = await exchange(foreign.privateKey)
    expect(refused.status).toBe(401)
    expect(((await refused.json()) as { error: string }).error).toBe('invalid_client')
    const res = await exchange(pair.privateKey)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { scope: string; resource: string; refresh_token?: string }
    expect(body).toMatchObject({ scope: 'mcp:read', resource: RESOURCE })
    expect(body.refresh_token).toBeUndefined()
  })
})
