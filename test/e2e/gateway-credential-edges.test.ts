/**
 * What an upstream gets at the edges of a route's credential, through `gatehouse serve` to a
 * recording upstream: a client token just past its `exp` (inside the guard's clock tolerance), a
 * security token service that refuses the user's IdP token, fields the client's `Connection`
 * header names, and a token endpoint in clear over a network.
 */
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import {
  clientCredentialsToken,
  connectAs,
  post,
  serveRoutes,
  startRecorder,
} from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const SECRET = 'reporter-secret-that-is-long-enough!!'
const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'x', version: '1' },
  },
}

let serve: RunningServe
let recorder: Awaited<ReturnType<typeof startRecorder>>
let sts: Server
let stsRefuses = false
const subjectTokens: string[] = []

beforeAll(async () => {
  // Only `Date` is faked (and advances with real time), before start-up: the guard and the
  // credential read the clock the test moves.
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true })
  recorder = await startRecorder()
  sts = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      subjectTokens.push(new URLSearchParams(body).get('subject_token') ?? '')
      res.setHeader('content-type', 'application/json')
      if (stsRefuses) {
        res.statusCode = 400
        res.end(JSON.stringify({ error: 'invalid_grant' }))
        return
      }
      // 20 s: below the 30 s margin, so nothing is cached and every call asks the STS.
      res.end(
        JSON.stringify({
          access_token: `sts-${String(subjectTokens.length)}`,
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          token_type: 'Bearer',
          expires_in: 20,
        }),
      )
    })
  })
  await new Promise<void>((done) => sts.listen(0, '127.0.0.1', done))
  const stsURL = `http://127.0.0.1:${String((sts.address() as AddressInfo).port)}/token`
  const signed = { audience: 'https://up.internal.example/mcp' }
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: {
      users: [
        { user: ADA.username, password: ADA.password, claims: { groups: ['auditors', 'ops'] } },
      ],
    },
    config: {
      clientCredentials: { enabled: true },
      clients: [{ clientId: 'reporter', clientSecret: SECRET, grantTypes: ['client_credentials'] }],
      gateway: {
        routes: [
          { path: '/plain', upstream: { kind: 'http', url: recorder.url } },
          {
            path: '/signed',
            upstream: {
              kind: 'http',
              url: recorder.url,
              credential: { kind: 'gatehouse-token', ...signed },
            },
          },
          {
            path: '/ident',
            upstream: { kind: 'http', url: recorder.url, identityHeaders: { signed } },
          },
          {
            path: '/exchange',
            upstream: {
              kind: 'http',
              url: recorder.url,
              credential: { kind: 'token-exchange', tokenEndpoint: stsURL, clientId: 'gw' },
            },
          },
          {
            path: '/signed-user',
            upstream: {
              kind: 'http',
              url: recorder.url,
              credential: { kind: 'gatehouse-token', ...signed },
              identityHeaders: { signed },
            },
          },
        ],
      },
    },
  })
}, 60_000)

afterAll(async () => {
  vi.useRealTimers()
  await (serve as RunningServe | undefined)?.close()
  await recorder.stop()
  await new Promise((done) => sts.close(done))
})

const machineToken = async (path: string) =>
  (
    await clientCredentialsToken(
      serve.issuer,
      { id: 'reporter', secret: SECRET },
      serve.routes[path]!,
    )
  ).token

describe('route credentials at their edges', () => {
  it('answers 401 (refresh), not 502, for a token past exp that the guard still accepts', async () => {
    const tokens = {
      plain: await machineToken('/plain'),
      signed: await machineToken('/signed'),
      ident: await machineToken('/ident'),
    }
    const { exp } = JSON.parse(
      Buffer.from(tokens.plain.split('.')[1]!, 'base64url').toString(),
    ) as { exp: number }
    const now = Date.now()
    vi.setSystemTime((exp + 10) * 1000) // 10 s past exp: inside the guard's 30 s tolerance
    try {
      expect((await post(serve.routes['/plain']!, tokens.plain, INIT)).status).toBe(200)
      for (const path of ['/signed', '/ident'] as const) {
        const res = await post(
          serve.routes[path]!,
          tokens[path === '/signed' ? 'signed' : 'ident'],
          INIT,
        )
        expect(res.status).toBe(401)
        expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"')
      }
    } finally {
      vi.setSystemTime(now)
    }
  }, 60_000)

  it('ends the sign-in when the STS refuses the user’s IdP token, so a refresh cannot loop', async () => {
    const url = serve.routes['/exchange']!
    const { provider } = await connectAs(url, ADA)
    stsRefuses = true
    try {
      const refused = await post(url, provider.saved!.access_token, {
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/list',
      })
      expect(refused.status).toBe(401)
      // The client refreshes, as MCP clients do on a 401: the grant is gone, so it must sign in.
      const refreshed = await fetch(`${serve.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: provider.saved!.refresh_token!,
          client_id: provider.clientInformation()!.client_id,
          resource: url,
        }),
      })
      expect(refreshed.status).toBe(400)
      expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' })
    } finally {
      stsRefuses = false
    }
  }, 60_000)

  it("carries the user's groups from the grant in the tokens it signs for the upstream", async () => {
    const url = serve.routes['/signed-user']!
    const ada = await connectAs(url, ADA)
    try {
      // Gatehouse's own access token carries no groups; the grant keeps what the IdP sent.
      expect(decodeJwt(ada.provider.saved!.access_token).groups).toBeUndefined()
      await ada.client.listTools()
      const seen = recorder.seen.at(-1)!
      const keys = createRemoteJWKSet(new URL(`${serve.issuer}/.well-known/jwks.json`))
      const upstreamToken = String(seen.authorization).replace(/^Bearer /, '')
      const identity = String(seen['x-gatehouse-identity'])
      for (const [jwt, typ] of [
        [upstreamToken, 'at+jwt'],
        [identity, 'gatehouse-identity+jwt'],
      ] as const) {
        const { payload } = await jwtVerify(jwt, keys, {
          issuer: serve.issuer,
          audience: 'https://up.internal.example/mcp',
          typ,
        })
        expect(payload.groups).toEqual(['auditors', 'ops'])
      }
    } finally {
      await ada.client.close()
    }
  }, 60_000)

  it('does not pass on a field the client’s Connection header names (RFC 9110 §7.6.1)', async () => {
    const url = new URL(serve.routes['/plain']!)
    const token = await machineToken('/plain')
    const body = JSON.stringify(INIT)
    const status = await new Promise<number>((done, fail) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'user-agent': 'hop-only-agent',
            connection: 'keep-alive, User-Agent',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume()
          res.on('end', () => {
            done(res.statusCode ?? 0)
          })
        },
      )
      req.on('error', fail)
      req.end(body)
    })
    expect(status).toBe(200)
    const seen = recorder.seen.at(-1)!
    expect(seen['user-agent']).not.toBe('hop-only-agent')
    expect(seen.accept).toBe('application/json, text/event-stream')
  }, 60_000)

  it('refuses a token endpoint in clear on a network host at start-up', async () => {
    const started = serveRoutes(
      [
        {
          path: '/x',
          upstream: {
            kind: 'http',
            url: 'http://127.0.0.1:9/mcp',
            credential: {
              kind: 'token-exchange',
              tokenEndpoint: 'http://sts.example.com/token',
              clientId: 'gw',
            },
          },
        },
      ],
      [ADA],
    )
    await expect(started).rejects.toThrow(
      'gateway.routes.0.upstream.credential.tokenEndpoint: must use https unless it is a loopback address',
    )
  }, 60_000)
})
