/**
 * The same HTTP scenarios through every way of mounting Gatehouse (node:http, Express, Hono), each
 * on a real server listening on 127.0.0.1.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatehouseMiddleware } from '../../src/adapters/express.js'
import { gatehouseHono } from '../../src/adapters/hono.js'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'

type Mount = (
  gh: Gatehouse,
  mcp: (r: Request) => Promise<Response>,
) => (req: IncomingMessage, res: ServerResponse) => void

const mounts: Record<string, Mount> = {
  node: (gh, mcp) =>
    toNodeHandler(async (request) => {
      const path = new URL(request.url).pathname
      return path === '/mcp' ? mcp(request) : gh.fetch(request)
    }),
  express: (gh, mcp) => {
    const app = express()
    app.use(gatehouseMiddleware(gh.fetch))
    app.all('/mcp', gatehouseMiddleware(mcp))
    app.get('/hello', (_req, res) => {
      res.json({ app: 'express' })
    })
    return app
  },
  hono: (gh, mcp) => {
    const app = new Hono()
    app.use(gatehouseHono(gh.fetch))
    app.all('/mcp', (c) => mcp(c.req.raw))
    app.get('/hello', (c) => c.json({ app: 'hono' }))
    return toNodeHandler(app.fetch)
  },
}

describe.each(Object.keys(mounts))('mounted with %s', (name) => {
  let server: Server
  let base: string
  let gh: Gatehouse

  beforeAll(async () => {
    let listener: ReturnType<Mount> = (_req, res) => {
      res.end()
    }
    server = createServer((req, res) => {
      listener(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    gh = await createGatehouse({
      config: {
        issuer: base,
        secret: 'x'.repeat(32),
        resources: [{ url: `${base}/mcp`, scopes: ['mcp:read'] }],
      },
      store: createMemoryStore(),
      authenticate: () => Promise.resolve({ subject: `user-of-${name}` }),
      // These tests are about mounting, not sign-in: the code comes straight from /authorize.
      dangerouslySkipConsent: true,
      onWarning: () => undefined,
      signatureVerifier: nodeSignatureVerifier,
    })
    const mcp = gh.protect((_r, token) =>
      Response.json({ sub: token.subject, scopes: token.scopes }),
    )
    listener = mounts[name]!(gh, mcp)
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await gh.close()
  })

  it('walks discovery, registration, authorization, token and a protected call', async () => {
    const challenge401 = await fetch(`${base}/mcp`, { method: 'POST' })
    expect(challenge401.status).toBe(401)
    const header = challenge401.headers.get('www-authenticate') ?? ''
    const prmUrl = /resource_metadata="([^"]+)"/.exec(header)?.[1]
    expect(prmUrl).toBe(`${base}/.well-known/oauth-protected-resource/mcp`)
    const prm = await (await fetch(prmUrl!)).json()
    const asMeta = await (
      await fetch(`${prm.authorization_servers[0]}/.well-known/oauth-authorization-server`)
    ).json()
    expect(asMeta.issuer).toBe(base)

    const reg = await fetch(asMeta.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['http://127.0.0.1/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    })
    expect(reg.status).toBe(201)
    const client = await reg.json()

    const verifier = randomBytes(32).toString('base64url')
    const auth = new URL(asMeta.authorization_endpoint)
    auth.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: 'http://127.0.0.1:4567/cb',
      state: 's1',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      resource: prm.resource,
    }).toString()
    const redirect = await fetch(auth, { redirect: 'manual' })
    expect(redirect.status).toBe(302)
    const location = new URL(redirect.headers.get('location')!)
    expect(location.searchParams.get('iss')).toBe(base)
    expect(location.searchParams.get('state')).toBe('s1')

    const tokenRes = await fetch(asMeta.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: location.searchParams.get('code')!,
        code_verifier: verifier,
        redirect_uri: 'http://127.0.0.1:4567/cb',
        client_id: client.client_id,
        resource: prm.resource,
      }),
    })
    expect(tokenRes.status).toBe(200)
    const tokens = await tokenRes.json()

    const call = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    expect(call.status).toBe(200)
    expect(await call.json()).toEqual({ sub: `user-of-${name}`, scopes: ['mcp:read'] })

    const refreshed = await fetch(asMeta.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        client_id: client.client_id,
      }),
    })
    expect(refreshed.status).toBe(200)

    const revoked = await fetch(asMeta.revocation_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: (await refreshed.json()).refresh_token,
        client_id: client.client_id,
      }),
    })
    expect(revoked.status).toBe(200)
    const after = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}` },
    })
    expect(after.status).toBe(401)
  })

  it('answers 405, 413 and bad tokens the same way', async () => {
    expect((await fetch(`${base}/token`)).status).toBe(405)
    const big = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a='.padEnd(200_000, 'x'),
    })
    expect(big.status).toBe(413)
    const bad = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { authorization: 'Bearer nope' },
    })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"')
  })

  it('never takes the issuer from a forged Host header', async () => {
    const res = await fetch(`${base}/.well-known/oauth-authorization-server`, {
      headers: { 'x-forwarded-host': 'evil.test' },
    })
    expect((await res.json()).issuer).toBe(base)
  })

  // Plain node:http has no framework routes to fall through to.
  if (name !== 'node')
    it('leaves other routes to the framework', async () => {
      expect(await (await fetch(`${base}/hello`)).json()).toEqual({ app: name })
    })
})
