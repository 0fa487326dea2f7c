/**
 * Upstream credential modes of `gatehouse serve`: identity headers, a Gatehouse-signed token for
 * the upstream's audience, and the user's own IdP access token. The MCP SDK client signs in at
 * the embedded dev IdP through the gateway; recording upstreams show what crossed.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { ConfigError } from '../../src/errors.js'
import { JWTVerifier } from '../../src/jwt/verifier.js'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { clientCredentialsToken, connectAs, post, startRecorder } from '../helpers/gateway.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'

const ADA = { username: 'ada', password: 'lovelace' }
const REPORTER_SECRET = 'reporter-secret-that-is-long-enough!!'

type Recorder = Awaited<ReturnType<typeof startRecorder>>
let ident: Recorder
let signed: Recorder
let idp: Recorder
let exchanged: Recorder
let serve: RunningServe
let sts: Server
let stsUrl = ''
/** What the security token service received: the form and the Authorization header. */
const stsSeen: { form: URLSearchParams; authorization: string | undefined }[] = []
/** Makes the token service refuse every subject token (as when the IdP ended the sign-in). */
let stsRefuses = false

/**
 * An RFC 8693 token service for the test: checks the subject token at the dev IdP's userinfo
 * endpoint and issues a token naming the user; refuses an unknown subject with invalid_grant.
 */
async function startSTS(): Promise<void> {
  sts = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      void (async () => {
        const form = new URLSearchParams(body)
        stsSeen.push({ form, authorization: req.headers.authorization })
        const discovery = (await (
          await fetch(`${serve.idpIssuer!}/.well-known/openid-configuration`)
        ).json()) as { userinfo_endpoint: string }
        const me = await fetch(discovery.userinfo_endpoint, {
          headers: { authorization: `Bearer ${form.get('subject_token') ?? ''}` },
        })
        res.setHeader('content-type', 'application/json')
        if (me.status !== 200 || stsRefuses) {
          res.statusCode = 400
          res.end(JSON.stringify({ error: 'invalid_grant' }))
          return
        }
        const { sub } = (await me.json()) as { sub: string }
        res.end(
          JSON.stringify({
            access_token: `sts-${sub}-${String(stsSeen.length)}`,
            issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            token_type: 'Bearer',
            expires_in: 300,
          }),
        )
      })()
    })
  })
  await new Promise<void>((done) => sts.listen(0, '127.0.0.1', done))
  stsUrl = `http://127.0.0.1:${String((sts.address() as AddressInfo).port)}/token`
}

beforeAll(async () => {
  ;[ident, signed, idp, exchanged] = await Promise.all([
    startRecorder(),
    startRecorder(),
    startRecorder(),
    startRecorder(),
  ])
  await startSTS()
  serve = await startServe({
    env: { STS_SECRET: 'sts secret:1' },
    port: 0,
    store: 'memory',
    devIdp: {
      users: [
        { user: ADA.username, password: ADA.password, claims: { roles: ['reader', 'ops,team'] } },
      ],
    },
    config: {
      // A machine client: its tokens come with no sign-in at the IdP behind them.
      clientCredentials: { enabled: true },
      clients: [
        { clientId: 'reporter', clientSecret: REPORTER_SECRET, grantTypes: ['client_credentials'] },
      ],
      gateway: {
        routes: [
          {
            path: '/ident',
            scopes: ['mcp:read'],
            upstream: {
              kind: 'http',
              url: ident.url,
              identityHeaders: { subject: 'X-User' },
            },
          },
          {
            path: '/signed',
            upstream: {
              kind: 'http',
              url: signed.url,
              credential: { kind: 'gatehouse-token', ttlSeconds: 120 },
            },
          },
          {
            path: '/idp',
            upstream: {
              kind: 'http',
              url: idp.url,
              credential: { kind: 'idp-token', name: 'X-Idp-Token', prefix: '' },
            },
          },
          {
            path: '/exchanged',
            upstream: {
              kind: 'http',
              url: exchanged.url,
              credential: {
                kind: 'token-exchange',
                tokenEndpoint: stsUrl,
                clientId: 'gateway',
                clientSecretFromEnv: 'STS_SECRET',
                audience: 'https://api.example',
                scopes: ['api.read'],
              },
            },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  await (serve as RunningServe | undefined)?.close()
  sts.closeAllConnections()
  await new Promise((done) => sts.close(done))
  await Promise.all(
    [ident, signed, idp, exchanged].map(
      (r) => (r as Recorder | undefined)?.stop() ?? Promise.resolve(),
    ),
  )
})

const CALL = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'noop', arguments: {} },
}

describe('gatehouse serve: upstream credentials', () => {
  it('identity headers: the caller as Gatehouse knows them; a client cannot forge them', async () => {
    const { client, provider } = await connectAs(serve.routes['/ident']!, ADA)
    try {
      await client.callTool({ name: 'noop', arguments: {} })
      const token = provider.saved!.access_token
      const sessionId = ident.seen.at(-1)!['mcp-session-id'] as string
      const res = await post(serve.routes['/ident']!, token, CALL, {
        'mcp-session-id': sessionId,
        'x-user': 'bob',
        'x-gatehouse-client-id': 'forged',
        'x-gatehouse-roles': 'admin',
      })
      expect(res.status).toBe(200)
      expect(ident.seen.length).toBeGreaterThanOrEqual(3)
      for (const headers of ident.seen) {
        expect(headers['x-user']).toBe('ada')
        expect(headers['x-gatehouse-subject']).toBeUndefined()
        expect(headers['x-gatehouse-client-id']).toBe(provider.clientInformation()!.client_id)
        expect(headers['x-gatehouse-issuer']).toBe(serve.idpIssuer)
        expect(headers['x-gatehouse-scopes']).toBe('mcp:read')
        // A comma inside a role is encoded, so the list splits unambiguously.
        expect(headers['x-gatehouse-roles']).toBe('reader,ops%2Cteam')
        expect(headers.authorization).toBeUndefined()
        expect(JSON.stringify(headers)).not.toContain(token)
      }
    } finally {
      await client.close()
    }
  }, 60_000)

  it('gatehouse-token: a short-lived JWT for the upstream audience, verifiable at the JWKS', async () => {
    const { client, provider } = await connectAs(serve.routes['/signed']!, ADA)
    try {
      await client.callTool({ name: 'noop', arguments: {} })
      const token = provider.saved!.access_token
      const verifier = new JWTVerifier({
        issuer: serve.issuer,
        audience: signed.url,
        jwksUri: `${serve.issuer}/.well-known/jwks.json`,
        allowHttpLoopback: true,
        typ: 'at+jwt',
      })
      const sent = signed.seen.map((h) => h.authorization ?? '')
      expect(sent.length).toBeGreaterThanOrEqual(3)
      const upstreamToken = sent[0]!.replace(/^Bearer /, '')
      expect(upstreamToken).not.toBe(token)
      // One token per client token while it is fresh (no signature per request).
      expect(new Set(sent).size).toBe(1)
      const verified = await verifier.verifyToken(upstreamToken)
      expect(verified).toMatchObject({ subject: 'ada', resource: signed.url })
      expect(verified!.roles).toEqual(['reader', 'ops,team'])
      const now = Math.floor(Date.now() / 1000)
      expect(verified!.expiresAt!).toBeLessThanOrEqual(now + 121)

      // The upstream's token is not a token for Gatehouse's own routes.
      const replay = await post(serve.routes['/signed']!, upstreamToken, CALL)
      expect(replay.status).toBe(401)
    } finally {
      await client.close()
    }
  }, 60_000)

  it("idp-token: the user's own access token at the IdP, which the IdP accepts", async () => {
    const { client, provider } = await connectAs(serve.routes['/idp']!, ADA)
    try {
      await client.callTool({ name: 'noop', arguments: {} })
      const sent = idp.seen.map((h) => h['x-idp-token'] as string)
      expect(sent.length).toBeGreaterThanOrEqual(3)
      expect(sent[0]).not.toBe(provider.saved!.access_token)
      for (const h of idp.seen) expect(h.authorization).toBeUndefined()
      const discovery = (await (
        await fetch(`${serve.idpIssuer!}/.well-known/openid-configuration`)
      ).json()) as { userinfo_endpoint: string }
      const me = await fetch(discovery.userinfo_endpoint, {
        headers: { authorization: `Bearer ${sent[0]!}` },
      })
      expect(me.status).toBe(200)
      expect(((await me.json()) as { sub: string }).sub).toBe('ada')
    } finally {
      await client.close()
    }
  }, 60_000)
})

describe('gatehouse serve: RFC 8693 token exchange', () => {
  it("trades the user's IdP token at the STS once and sends the upstream what it issued", async () => {
    const { client, provider } = await connectAs(serve.routes['/exchanged']!, ADA)
    try {
      await client.callTool({ name: 'noop', arguments: {} })
      const sent = exchanged.seen.map((h) => h.authorization)
      expect(sent.length).toBeGreaterThanOrEqual(3)
      // One exchange, reused while the issued token is fresh.
      expect(new Set(sent)).toEqual(new Set(['Bearer sts-ada-1']))
      expect(stsSeen).toHaveLength(1)
      const { form, authorization } = stsSeen[0]!
      expect(Object.fromEntries(form)).toMatchObject({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'https://api.example',
        scope: 'api.read',
      })
      expect(form.get('subject_token')).not.toBe(provider.saved!.access_token)
      expect(form.has('client_id')).toBe(false)
      // RFC 6749 §2.3.1: id and secret form-encoded, then Basic.
      expect(authorization).toBe(
        `Basic ${Buffer.from('gateway:sts+secret%3A1').toString('base64')}`,
      )
    } finally {
      await client.close()
    }
  }, 60_000)

  it('answers 401 invalid_token when the STS refuses the subject token, so the client signs in again', async () => {
    // A new sign-in (a new IdP token, not in the exchange cache) that has not called the route.
    const provider = new BrowserlessClientProvider({
      redirectUrl: 'http://127.0.0.1:3999/callback',
      clientName: 'refused',
      user: ADA,
    })
    const url = new URL(serve.routes['/exchanged']!)
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider })
    await new Client({ name: 'refused', version: '1' }).connect(first).catch((e: unknown) => {
      if (!(e instanceof UnauthorizedError)) throw e
    })
    await first.finishAuth(provider.code!)
    stsRefuses = true
    try {
      const seen = stsSeen.length
      const res = await post(serve.routes['/exchanged']!, provider.saved!.access_token, {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'refused', version: '1' },
        },
      })
      expect(stsSeen.length).toBe(seen + 1)
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/)
      expect(await res.text()).not.toContain('sts-')
    } finally {
      stsRefuses = false
    }
  }, 60_000)
})

describe('gatehouse serve: a machine client on a route that sends the user’s IdP token', () => {
  it('answers 403 -32003, not 401: a new token of that client would have no IdP sign-in either', async () => {
    const machineToken = async (resource: string) =>
      (
        await clientCredentialsToken(
          serve.issuer,
          { id: 'reporter', secret: REPORTER_SECRET },
          resource,
        )
      ).token
    for (const [path, recorder] of [
      ['/idp', idp],
      ['/exchanged', exchanged],
    ] as const) {
      const url = serve.routes[path]!
      const seen = recorder.seen.length
      const exchangesBefore = stsSeen.length
      const res = await post(url, await machineToken(url), CALL)
      expect(res.status).toBe(403)
      expect(res.headers.get('www-authenticate')).toBeNull()
      const body = (await res.json()) as { id: unknown; error: { code: number; message: string } }
      expect(body.error.code).toBe(-32003)
      expect(body.error.message).toContain('signed in at the identity provider')
      expect(body.id).toBe(7)
      expect(recorder.seen.length).toBe(seen)
      expect(stsSeen.length).toBe(exchangesBefore)
    }
  })
})

describe('gatehouse serve: credential configuration', () => {
  it('refuses identity header names the client passes through, and a signed audience of its own', async () => {
    const base = {
      port: 0,
      store: 'memory' as const,
      devIdp: { users: [{ user: 'x', password: 'x' }] },
    }
    const clash = startServe({
      ...base,
      config: {
        gateway: {
          routes: [
            {
              path: '/x',
              upstream: {
                kind: 'http',
                url: 'http://127.0.0.1:9/mcp',
                identityHeaders: { subject: 'Mcp-Session-Id' },
              },
            },
          ],
        },
      },
    })
    await expect(clash).rejects.toThrow(ConfigError)
    await expect(clash).rejects.toThrow(/identityHeaders\.subject/)
    const own = startServe({
      ...base,
      config: {
        issuer: 'http://127.0.0.1:1',
        gateway: {
          routes: [
            {
              path: '/x',
              upstream: {
                kind: 'http',
                url: 'http://127.0.0.1:9/mcp',
                credential: { kind: 'gatehouse-token', audience: 'http://127.0.0.1:1/x' },
              },
            },
          ],
        },
      },
    })
    await expect(own).rejects.toThrow(/credential\.audience/)
  }, 60_000)
})
