/**
 * A stdio MCP server's credentials in its environment (`credentialEnv`), through `gatehouse serve`
 * to `@modelcontextprotocol/server-everything`, whose `get-env` tool answers with its own
 * environment: a secret from a file in every process, and in `user` mode each sign-in's own IdP
 * token and a token Gatehouse signs for the server's audience, verified against Gatehouse's JWKS.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServe, type RunningServe } from '../../src/cli/serve.js'
import { clientCredentialsToken, connectAs, post, serverEntry } from '../helpers/gateway.js'

const ADA = { username: 'ada', password: 'lovelace' }
const BOB = { username: 'bob', password: 'builder' }
const SECRET = 'api-key-from-a-file-0123456789'
const AUDIENCE = 'https://files.internal.example/mcp'
const REPORTER_SECRET = 'reporter-secret-that-is-long-enough!!'

let serve: RunningServe

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gh-credenv-'))
  const keyFile = join(dir, 'api-key')
  await writeFile(keyFile, `${SECRET}\n`, { mode: 0o600 })
  const everything = {
    kind: 'stdio',
    command: process.execPath,
    args: [serverEntry('@modelcontextprotocol/server-everything'), 'stdio'],
  }
  serve = await startServe({
    port: 0,
    store: 'memory',
    devIdp: {
      users: [
        { user: ADA.username, password: ADA.password },
        { user: BOB.username, password: BOB.password },
      ],
    },
    config: {
      rateLimits: { registrationsPerMinute: 100 },
      clientCredentials: { enabled: true },
      clients: [
        { clientId: 'reporter', clientSecret: REPORTER_SECRET, grantTypes: ['client_credentials'] },
      ],
      gateway: {
        routes: [
          {
            path: '/shared',
            upstream: {
              ...everything,
              credentialEnv: { API_KEY: { kind: 'secret', valueFile: keyFile } },
            },
          },
          {
            path: '/mine',
            upstream: {
              ...everything,
              mode: 'user',
              credentialEnv: {
                API_KEY: { kind: 'secret', valueFile: keyFile },
                IDP_TOKEN: { kind: 'idp-token' },
                SERVER_TOKEN: { kind: 'gatehouse-token', audience: AUDIENCE, ttlSeconds: 600 },
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
})

type Env = Record<string, string | undefined>

async function envOf(client: {
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>
}): Promise<Env> {
  const result = (await client.callTool({ name: 'get-env', arguments: {} })) as {
    content: { text: string }[]
  }
  return JSON.parse(result.content[0]!.text) as Env
}

describe('credentialEnv: credentials in a stdio process environment', () => {
  it('gives a shared process the secret from its file, and nothing of the caller', async () => {
    const ada = await connectAs(serve.routes['/shared']!, ADA, 'ada shared')
    try {
      const env = await envOf(ada.client)
      expect(env.API_KEY).toBe(SECRET)
      expect(Object.keys(env)).not.toContain('IDP_TOKEN')
      expect(JSON.stringify(env)).not.toContain(ada.provider.saved!.access_token)
    } finally {
      await ada.client.close()
    }
  }, 60_000)

  it("runs each sign-in's process with its own IdP token and a token signed for the server's audience", async () => {
    const url = serve.routes['/mine']!
    const ada = await connectAs(url, ADA, 'ada mine')
    const bob = await connectAs(url, BOB, 'bob mine')
    try {
      const [adaEnv, bobEnv] = await Promise.all([envOf(ada.client), envOf(bob.client)])
      expect(adaEnv.API_KEY).toBe(SECRET)
      expect(bobEnv.API_KEY).toBe(SECRET)
      // Each user's process holds that user's IdP token, never the client's Gatehouse token.
      expect(adaEnv.IDP_TOKEN).toBeTruthy()
      expect(bobEnv.IDP_TOKEN).toBeTruthy()
      expect(adaEnv.IDP_TOKEN).not.toBe(bobEnv.IDP_TOKEN)
      expect(adaEnv.IDP_TOKEN).not.toBe(ada.provider.saved!.access_token)
      // The signed token: Gatehouse's issuer and keys, the server's audience, the user's subject.
      const keys = createRemoteJWKSet(new URL(`${serve.issuer}/.well-known/jwks.json`))
      const adaClaims = decodeJwt(ada.provider.saved!.access_token)
      const verified = await jwtVerify(adaEnv.SERVER_TOKEN!, keys, {
        issuer: serve.issuer,
        audience: AUDIENCE,
        typ: 'at+jwt',
      })
      expect(verified.payload.sub).toBe(adaClaims.sub)
      expect(verified.payload.client_id).toBe(adaClaims.client_id)
      expect(verified.payload.exp! - verified.payload.iat!).toBeLessThanOrEqual(600)
      expect(decodeJwt(bobEnv.SERVER_TOKEN!).sub).not.toBe(adaClaims.sub)
      // That token is for the server, not for Gatehouse: the route itself refuses it.
      const replayed = await post(url, adaEnv.SERVER_TOKEN!, {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
      })
      expect(replayed.status).toBe(401)
    } finally {
      await Promise.all([ada.client.close(), bob.client.close()])
    }
  }, 60_000)

  it('refuses a machine client on a route whose process needs a user sign-in', async () => {
    const url = serve.routes['/mine']!
    const { token } = await clientCredentialsToken(
      serve.issuer,
      { id: 'reporter', secret: REPORTER_SECRET },
      url,
    )
    const res = await post(url, token, {
      jsonrpc: '2.0',
      id: 7,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'reporter', version: '1' },
      },
    })
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ id: 7, error: { code: -32003 } })
  }, 60_000)
})
