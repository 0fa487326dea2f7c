/**
 * The client credentials grant for Client ID Metadata Document clients: `private_key_jwt` with the
 * JWKS the document publishes (inline or at `jwks_uri` on the client host), only when the operator
 * allows it, and scopes capped by `clientCredentials.dynamicClientScopes`.
 */
import { randomUUID } from 'node:crypto'
import { base64url, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLIENT_ASSERTION_TYPE } from '../../src/config/protocol.js'
import { startClientHost, type ClientHost } from '../helpers/client-host.js'
import { createCIMDGatehouse, metadataDocument } from '../helpers/cimd.js'
import { form, ISSUER, RESOURCE, type TestGatehouse } from '../helpers/gatehouse.js'

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

function assertion(clientId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .setJti(randomUUID())
    .sign(privateKey)
}

/** A machine client's document: client_credentials only, no redirect URIs. */
function machineDocument(extra: Record<string, unknown> = {}, byUri = false): string {
  const p = `/machine-${++n}.json`
  const keys = { keys: [publicJwk] }
  if (byUri) host.json(`${p}.jwks`, keys)
  const document = metadataDocument(host, p, {
    token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'],
    ...(byUri ? { jwks_uri: `${host.origin()}${p}.jwks` } : { jwks: keys }),
    ...extra,
  })
  delete document.redirect_uris
  delete document.response_types
  host.json(p, document)
  return `${host.origin()}${p}`
}

async function token(t: TestGatehouse, clientId: string, extra: Record<string, string> = {}) {
  return t.call(
    '/token',
    form({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await assertion(clientId),
      ...extra,
    }),
  )
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(jwt.split('.')[1] ?? ''))) as Record<
    string,
    unknown
  >
}

describe('A.2.12 client credentials for metadata-document clients', () => {
  const enabled = {
    clientCredentials: {
      enabled: true,
      allowMetadataDocumentClients: true,
      dynamicClientScopes: ['mcp:read'],
    },
  }

  it('CC-16 a document client signing with its published keys (inline or jwks_uri) gets a token for itself, capped by dynamicClientScopes', async () => {
    const t = await createCIMDGatehouse(host, { config: enabled })
    for (const byUri of [false, true]) {
      const clientId = machineDocument({ scope: 'mcp:read mcp:write' }, byUri)
      const res = await token(t, clientId, { scope: 'mcp:read mcp:write' })
      expect(res.status).toBe(200)
      const body = (await res.json()) as Record<string, unknown>
      expect(body.refresh_token).toBeUndefined()
      expect(body.scope).toBe('mcp:read')
      expect(claimsOf(body.access_token as string)).toMatchObject({
        sub: clientId,
        client_id: clientId,
        aud: RESOURCE,
        gty: 'client_credentials',
      })
    }
  })

  it('CC-17 without allowMetadataDocumentClients such a document is refused (invalid_client), and no token is issued', async () => {
    const t = await createCIMDGatehouse(host, { config: { clientCredentials: { enabled: true } } })
    const res = await token(t, machineDocument())
    expect(res.status).toBe(401)
    const body = (await res.json()) as Record<string, unknown>
    expect(body.error).toBe('invalid_client')
    expect(body.access_token).toBeUndefined()
  })

  it('CC-18 a document client that does not list client_credentials is unauthorized_client', async () => {
    const t = await createCIMDGatehouse(host, { config: enabled })
    const p = `/interactive-${++n}.json`
    host.json(
      p,
      metadataDocument(host, p, {
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [publicJwk] },
      }),
    )
    const res = await token(t, `${host.origin()}${p}`)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized_client')
  })
})
