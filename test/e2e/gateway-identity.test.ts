/**
 * Signed identity headers (`identityHeaders.signed`): the MCP server behind `gatehouse serve`
 * receives one header holding a short-lived JWT that says who the caller is, verifies it with
 * Gatehouse's `JWTVerifier` against Gatehouse's JWKS, and gets none of the plain, unsigned
 * headers. The JWT is typed `gatehouse-identity+jwt`, so it is no access token, here or anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { JWTVerifier } from '../../src/jwt/verifier.js'
import { connectAs, post, startRecorder } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const AUDIENCE = 'https://crm.internal/mcp'
const KEY = 'gateway-key-0123456789'

let recorder: Awaited<ReturnType<typeof startRecorder>>
let serve: RunningServe

beforeAll(async () => {
  recorder = await startRecorder()
  serve = await startServe({
    port: 0,
    store: 'memory',
    env: { CRM_KEY: KEY },
    devIdp: {
      users: [
        {
          user: ADA.username,
          password: ADA.password,
          claims: { roles: ['reader'] },
        },
      ],
    },
    config: {
      gateway: {
        routes: [
          {
            path: '/crm',
            scopes: ['crm:read'],
            requiredScopes: ['crm:read'],
            upstream: {
              kind: 'http',
              url: recorder.url,
              credential: { kind: 'header', name: 'X-Gateway-Key', valueFromEnv: 'CRM_KEY' },
              identityHeaders: { signed: { audience: AUDIENCE, ttlSeconds: 60 } },
            },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  await (recorder as typeof recorder | undefined)?.stop()
})

describe('signed identity headers', () => {
  it('sends one JWT the server verifies at the JWKS, beside the route credential, and no plain headers', async () => {
    const { client, provider } = await connectAs(serve.routes['/crm']!, ADA)
    try {
      await client.callTool({ name: 'noop', arguments: {} })
      const token = provider.saved!.access_token
      // A client cannot smuggle its own identity header through.
      const sessionId = recorder.seen.at(-1)!['mcp-session-id'] as string
      const res = await post(
        serve.routes['/crm']!,
        token,
        { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'noop', arguments: {} } },
        {
          'mcp-session-id': sessionId,
          'x-gatehouse-identity': 'forged',
          'x-gatehouse-subject': 'root',
        },
      )
      expect(res.status).toBe(200)
      const seen = recorder.seen
      expect(seen.length).toBeGreaterThanOrEqual(3)
      const sent = new Set(seen.map((h) => h['x-gatehouse-identity'] as string))
      // One JWT per client token while it is fresh: no signature per request.
      expect(sent.size).toBe(1)
      const jwt = [...sent][0]!
      expect(jwt.split('.')).toHaveLength(3)
      for (const h of seen) {
        expect(h['x-gateway-key']).toBe(KEY)
        expect(h['x-gatehouse-subject']).toBeUndefined()
        expect(h['x-gatehouse-client-id']).toBeUndefined()
        expect(h.authorization).toBeUndefined()
        expect(JSON.stringify(h)).not.toContain(token)
      }

      const verifier = new JWTVerifier({
        issuer: serve.issuer,
        audience: AUDIENCE,
        jwksUri: `${serve.issuer}/.well-known/jwks.json`,
        allowHttpLoopback: true,
        typ: 'gatehouse-identity+jwt',
      })
      const who = await verifier.verifyToken(jwt)
      expect(who).toMatchObject({
        subject: 'ada',
        clientId: provider.clientInformation()!.client_id,
        scopes: ['crm:read'],
        roles: ['reader'],
      })
      expect(who!.claims.idp).toBe(serve.idpIssuer)
      const now = Math.floor(Date.now() / 1000)
      expect(who!.expiresAt!).toBeLessThanOrEqual(now + 61)

      // Another audience, or a verifier that wants an access token, refuses it.
      const elsewhere = new JWTVerifier({
        issuer: serve.issuer,
        audience: 'https://other.internal/mcp',
        jwksUri: `${serve.issuer}/.well-known/jwks.json`,
        allowHttpLoopback: true,
        typ: 'gatehouse-identity+jwt',
      })
      expect(await elsewhere.verifyToken(jwt)).toBeUndefined()
      const asAccessToken = new JWTVerifier({
        issuer: serve.issuer,
        audience: AUDIENCE,
        jwksUri: `${serve.issuer}/.well-known/jwks.json`,
        allowHttpLoopback: true,
        typ: 'at+jwt',
      })
      expect(await asAccessToken.verifyToken(jwt)).toBeUndefined()
      // Nor does the gateway take it as a bearer token.
      const replay = await post(serve.routes['/crm']!, jwt, {
        jsonrpc: '2.0',
        id: 1,
        method: 'ping',
      })
      expect(replay.status).toBe(401)
    } finally {
      await client.close()
    }
  }, 60_000)
})
