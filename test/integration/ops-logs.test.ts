/**
 * Logs, audit events and metrics of a whole proxy flow against the real dev IdP (oidc-provider):
 * every pino line is parsed, request lines and audit events are checked, and all the output is
 * searched for every secret the flow used. `/metrics` is scraped and parsed.
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { setClientAddress } from '../../src/http/rate-limit.js'
import type { AuditEvent } from '../../src/audit-event.js'
import { createPinoLogger } from '../../src/ops/pino.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { parsePrometheus, sampleValue } from '../helpers/prometheus.js'
import { hiddenInput, UserAgent } from '../helpers/user-agent.js'

const GH = 'http://127.0.0.1:7781'
const CLIENT_REDIRECT = 'http://127.0.0.1:5555/cb'
const CONFIG_SECRET = `cfg-${randomBytes(24).toString('hex')}`
const UPSTREAM_SECRET = `ups-${randomBytes(24).toString('hex')}`
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`

interface Flow {
  lines: Record<string, unknown>[]
  raw: string
  audit: AuditEvent[]
  secrets: Map<string, string>
  outboundTraceparents: (string | null)[]
  responses: Map<string, Response>
  metrics: string
  clientId: string
}

describe('operations: logs, audit and metrics of a full proxy flow', () => {
  let idp: DevIdP
  let gh: Gatehouse
  let flow: Flow

  beforeAll(async () => {
    idp = await startDevIdentityProvider({
      users: [{ username: 'alice', password: PASSWORD, sub: 'alice-sub', name: 'Alice' }],
      clients: [
        {
          clientId: 'gatehouse',
          clientSecret: UPSTREAM_SECRET,
          redirectUris: [`${GH}/auth/callback`],
        },
      ],
    })
    let raw = ''
    const audit: AuditEvent[] = []
    const outboundTraceparents: (string | null)[] = []
    gh = await createGatehouse({
      config: {
        issuer: GH,
        secret: CONFIG_SECRET,
        resources: [{ url: `${GH}/mcp`, scopes: ['mcp:read'] }],
        upstream: {
          kind: 'oidc',
          configUrl: `${idp.issuer}/.well-known/openid-configuration`,
          clientId: 'gatehouse',
          clientSecret: UPSTREAM_SECRET,
        },
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
      logger: createPinoLogger({
        level: 'debug',
        destination: {
          write: (line: string) => {
            raw += line
          },
        },
      }),
      audit: (event) => audit.push(event),
      metrics: true,
      fetch: (input, init) => {
        outboundTraceparents.push(new Headers(init?.headers).get('traceparent'))
        return fetch(input, init)
      },
    })
    flow = await runFlow(gh, idp, outboundTraceparents, audit, () => raw)
  })

  afterAll(async () => {
    await gh.close()
    await idp.close()
  })

  it('writes every line as JSON, with a time, a level and a message', () => {
    expect(flow.lines.length).toBeGreaterThan(10)
    for (const line of flow.lines) {
      expect(typeof line.time).toBe('string')
      expect(typeof line.level).toBe('number')
      expect(typeof line.msg).toBe('string')
    }
  })

  it('logs one request line per request, with the route template and never a query string', () => {
    const requests = flow.lines.filter((l) => l.msg === 'request')
    const routes = requests.map((l) => `${String(l.method)} ${String(l.route)} ${String(l.status)}`)
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /register 201',
        'GET /authorize 302',
        'GET /consent 200',
        'POST /consent 303',
        'GET /auth/callback 302',
        'POST /token 200',
        'POST /token 400',
        'POST /revoke 200',
        'POST /mcp 200',
        'POST /mcp 401',
      ]),
    )
    for (const line of requests) {
      expect(Object.keys(line).sort()).toEqual(
        expect.arrayContaining([
          'component',
          'durationMs',
          'method',
          'requestId',
          'route',
          'status',
        ]),
      )
      expect(line.durationMs).toBeTypeOf('number')
      expect(String(line.route)).not.toContain('?')
      const allowed = [
        'level',
        'time',
        'name',
        'msg',
        'component',
        'requestId',
        'traceId',
        'method',
        'route',
        'status',
        'durationMs',
        'clientId',
        'subject',
        'error',
        'reason',
      ]
      expect(Object.keys(line).filter((k) => !allowed.includes(k))).toEqual([])
    }
  })

  it('names the client and the subject where they are known', () => {
    const requests = flow.lines.filter((l) => l.msg === 'request')
    const authorize = requests.find((l) => l.route === '/authorize')!
    expect(authorize.clientId).toBe(flow.clientId)
    const token = requests.find((l) => l.route === '/token' && l.status === 200)!
    expect(token).toMatchObject({ clientId: flow.clientId, subject: 'alice-sub' })
    const mcp = requests.find((l) => l.route === '/mcp' && l.status === 200)!
    expect(mcp).toMatchObject({ component: 'guard', clientId: flow.clientId, subject: 'alice-sub' })
  })

  it('puts the reason of a refusal on its request line', () => {
    const requests = flow.lines.filter((l) => l.msg === 'request')
    const reuse = requests.find((l) => l.route === '/token' && l.status === 400)!
    expect(reuse).toMatchObject({ error: 'invalid_grant' })
    expect(['refresh_token_reuse', 'code_replay']).toContain(reuse.reason)
    const noToken = requests.find((l) => l.route === '/mcp' && l.status === 401)!
    expect(noToken).toMatchObject({ error: 'invalid_token', reason: 'no_credentials' })
  })

  it('takes a well-formed x-request-id, replaces a malformed one, and echoes it', () => {
    const given = flow.responses.get('given-id')!
    expect(given.headers.get('x-request-id')).toBe('req-12345')
    expect(flow.lines.some((l) => l.msg === 'request' && l.requestId === 'req-12345')).toBe(true)
    const replaced = flow.responses.get('bad-id')!.headers.get('x-request-id')!
    expect(replaced).toMatch(/^[0-9a-f]{32}$/)
    expect(flow.raw).not.toContain('evil')
  })

  it('puts the traceparent trace id on the request line and carries it to the identity provider', () => {
    const callback = flow.lines.find((l) => l.msg === 'request' && l.route === '/auth/callback')!
    expect(callback.traceId).toBe(TRACE_ID)
    const traced = flow.outboundTraceparents.filter((t) => t !== null)
    expect(traced.length).toBeGreaterThan(0)
    for (const t of traced) {
      expect(t).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`))
      expect(t).not.toBe(TRACEPARENT)
    }
  })

  it('emits the audit events in order, with request ids', () => {
    const seen = flow.audit.map((e) => `${e.event}:${e.outcome}`)
    expect(seen).toEqual([
      'client_registered:success',
      'consent_given:success',
      'sign_in:success',
      'tokens_issued:success',
      'tokens_issued:success',
      'refresh_token_reuse:failure',
      'code_replay:failure',
      'token_revoked:success',
    ])
    const [registered, , signIn, issued, refreshed, reuse, replay] = flow.audit
    expect(registered!.clientId).toBe(flow.clientId)
    expect(signIn).toMatchObject({ clientId: flow.clientId, subject: 'alice-sub' })
    expect(issued).toMatchObject({ grantType: 'authorization_code', subject: 'alice-sub' })
    expect(refreshed).toMatchObject({ grantType: 'refresh_token', grantId: issued!.grantId })
    expect(reuse).toMatchObject({ grantId: issued!.grantId, reason: 'grant_revoked' })
    expect(replay!.grantId).toBe(issued!.grantId)
    for (const e of flow.audit) {
      expect(e.requestId).toMatch(/^[\w.:-]+$/)
      expect(Date.parse(e.time)).not.toBeNaN()
    }
  })

  it('writes the same audit events to the log stream as lines marked audit: true', () => {
    const lines = flow.lines.filter((l) => l.audit === true)
    expect(lines.map((l) => l.event)).toEqual(flow.audit.map((e) => e.event))
    expect(lines[0]).toMatchObject({ msg: 'audit', event: 'client_registered' })
  })

  it('never logs a token, code, secret, cookie, state or code verifier', () => {
    expect(flow.secrets.size).toBeGreaterThanOrEqual(12)
    const everything = flow.raw + JSON.stringify(flow.audit)
    for (const [what, secret] of flow.secrets) {
      expect(secret.length, what).toBeGreaterThanOrEqual(8)
      expect(everything.includes(secret), `${what} appears in the logs`).toBe(false)
    }
  })

  it('counts requests, tokens, bearer outcomes, caches, key loads, the IdP and the store at /metrics', () => {
    const { samples, types } = parsePrometheus(flow.metrics)
    expect(types.get('gatehouse_http_request_duration_seconds')).toBe('histogram')
    const v = (name: string, labels: Record<string, string> = {}) =>
      sampleValue(samples, name, labels)
    expect(
      v('gatehouse_http_requests_total', { route: '/token', method: 'POST', status: '200' }),
    ).toBe(2)
    expect(v('gatehouse_http_request_duration_seconds_count', { route: '/authorize' })).toBe(1)
    expect(v('gatehouse_tokens_issued_total', { grant_type: 'authorization_code' })).toBe(1)
    expect(v('gatehouse_tokens_issued_total', { grant_type: 'refresh_token' })).toBe(1)
    expect(v('gatehouse_bearer_verifications_total', { outcome: 'ok' })).toBe(2)
    expect(v('gatehouse_bearer_verifications_total', { outcome: 'missing' })).toBe(1)
    expect(v('gatehouse_bearer_verifications_total', { outcome: 'insufficient_scope' })).toBe(1)
    expect(v('gatehouse_bearer_verifications_total', { outcome: 'revoked' })).toBe(1)
    expect(v('gatehouse_verified_token_cache_lookups_total', { result: 'hit' })).toBeGreaterThan(0)
    expect(v('gatehouse_verified_token_cache_lookups_total', { result: 'miss' })).toBeGreaterThan(0)
    expect(v('gatehouse_jwks_fetches_total', { outcome: 'ok' })).toBeGreaterThan(0)
    const idpHost = new URL(idp.issuer).host
    expect(
      v('gatehouse_upstream_request_duration_seconds_count', { host: idpHost, outcome: '2xx' }),
    ).toBeGreaterThan(0)
    expect(
      v('gatehouse_store_operation_duration_seconds_count', { operation: 'get', outcome: 'ok' }),
    ).toBeGreaterThan(0)
    expect(v('gatehouse_audit_events_total', { event: 'refresh_token_reuse' })).toBe(1)
    // Labels never carry client ids or subjects.
    expect(flow.metrics).not.toContain(flow.clientId)
    expect(flow.metrics).not.toContain('alice-sub')
  })
})

/** The whole flow, recording everything secret on the way. */
async function runFlow(
  gh: Gatehouse,
  idp: DevIdP,
  outboundTraceparents: (string | null)[],
  audit: AuditEvent[],
  raw: () => string,
): Promise<Flow> {
  const secrets = new Map<string, string>([
    ['config secret', CONFIG_SECRET],
    ['upstream client secret', UPSTREAM_SECRET],
    ['user password', PASSWORD],
  ])
  const responses = new Map<string, Response>()
  const cookies: string[] = []
  const ua = new UserAgent({
    [GH]: async (r) => {
      const res = await gh.fetch(r)
      for (const c of res.headers.getSetCookie()) {
        const value = c.split(';')[0]!.split('=').slice(1).join('=')
        if (value !== '') cookies.push(value)
      }
      return res
    },
  })
  const registered = await gh.fetch(
    new Request(`${GH}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-12345' },
      body: JSON.stringify({
        redirect_uris: [CLIENT_REDIRECT],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    }),
  )
  responses.set('given-id', registered)
  const clientId = ((await registered.json()) as { client_id: string }).client_id
  const verifier = randomBytes(32).toString('base64url')
  const state = `st-${randomBytes(16).toString('hex')}`
  secrets.set('code_verifier', verifier)
  secrets.set('client state', state)
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: CLIENT_REDIRECT,
    state,
    scope: 'mcp:read',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    resource: `${GH}/mcp`,
  })
  const consent = await ua.follow(`${GH}/authorize?${q}`)
  const html = await consent.response!.text()
  const txn = hiddenInput(html, 'txn')
  const csrf = hiddenInput(html, 'csrf')
  secrets.set('transaction id (upstream state)', txn)
  secrets.set('csrf token', csrf)
  const approved = await ua.request(`${GH}/consent`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
    },
    body: new URLSearchParams({ txn, csrf, action: 'approve' }).toString(),
  })
  const login = await ua.follow(approved.headers.get('location')!)
  const posted = await ua.request(`${login.url.replace(/\/$/, '')}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: idp.issuer },
    body: new URLSearchParams({ username: 'alice', password: PASSWORD }).toString(),
  })
  const atCallback = await ua.follow(
    new URL(posted.headers.get('location')!, login.url).href,
    (u) => u.startsWith(`${GH}/auth/callback`),
  )
  secrets.set('upstream code', new URL(atCallback.url).searchParams.get('code')!)
  outboundTraceparents.length = 0
  const back = await ua.request(atCallback.url, {
    headers: { traceparent: TRACEPARENT, 'x-request-id': 'evil id\twith tab' },
  })
  responses.set('bad-id', back)
  const code = new URL(back.headers.get('location')!).searchParams.get('code')!
  secrets.set('authorization code', code)

  const token = (body: Record<string, string>) =>
    gh.fetch(
      new Request(`${GH}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: clientId, ...body }),
      }),
    )
  const first = (await (
    await token({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: CLIENT_REDIRECT,
    })
  ).json()) as Record<string, string>
  secrets.set('access token', first.access_token!)
  secrets.set('refresh token', first.refresh_token!)

  const mcp = gh.protect((_r, t) => Response.json({ sub: t.subject }))
  const call = (accessToken?: string) =>
    mcp(
      new Request(`${GH}/mcp`, {
        method: 'POST',
        headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
      }),
    )
  expect((await call(first.access_token)).status).toBe(200)
  expect((await call(first.access_token)).status).toBe(200)
  expect((await call()).status).toBe(401)
  const narrow = gh.protect(() => new Response('no'), { scopes: ['mcp:admin'] })
  const denied = await narrow(
    new Request(`${GH}/mcp`, { headers: { authorization: `Bearer ${first.access_token}` } }),
  )
  expect(denied.status).toBe(403)

  const second = (await (
    await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token! })
  ).json()) as Record<string, string>
  secrets.set('second access token', second.access_token!)
  secrets.set('second refresh token', second.refresh_token!)
  // The first refresh token again: reuse, the grant is revoked.
  expect(
    (await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token! })).status,
  ).toBe(400)
  // The code again: replay.
  expect(
    (
      await token({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: CLIENT_REDIRECT,
      })
    ).status,
  ).toBe(400)
  // A token of the revoked grant at the guard (past the liveness cache: another token string).
  expect((await call(second.access_token)).status).toBe(401)
  const revoked = await gh.fetch(
    new Request(`${GH}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: clientId, token: second.refresh_token! }),
    }),
  )
  expect(revoked.status).toBe(200)

  for (const [i, c] of cookies.entries()) secrets.set(`gatehouse cookie ${i}`, c)
  for (const [name, value] of ua.jars.get(idp.issuer) ?? []) {
    if (value.length >= 8) secrets.set(`idp cookie ${name}`, value)
  }
  // As the Node adapter records a scraper on this machine (the default: loopback peers only).
  const scrape = new Request(`${GH}/metrics`)
  setClientAddress(scrape, '127.0.0.1')
  const metrics = await (await gh.fetch(scrape)).text()
  const text = raw()
  return {
    lines: text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
    raw: text,
    audit,
    secrets,
    outboundTraceparents,
    responses,
    metrics,
    clientId,
  }
}
