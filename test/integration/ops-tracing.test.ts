/**
 * OpenTelemetry spans of a whole proxy flow against the real dev IdP (oidc-provider), recorded by
 * the real SDK (`@opentelemetry/sdk-trace-base`, in-memory exporter) registered as the global
 * tracer provider: the request spans continue the client's `traceparent`; the calls to the IdP are
 * client spans under them and the `traceparent` sent to the IdP names that client span; token
 * issuance and store operations are spans of the same trace; no span holds a secret. And with
 * `tracing: false`, Gatehouse records nothing while the SDK is registered.
 */
import { createHash, randomBytes } from 'node:crypto'
import { trace, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { approveAndSignIn, UserAgent } from '../helpers/user-agent.js'

const GH = 'http://127.0.0.1:7782'
const CLIENT_REDIRECT = 'http://127.0.0.1:5556/cb'
const UPSTREAM_SECRET = `ups-${randomBytes(24).toString('hex')}`
const CONFIG_SECRET = `cfg-${randomBytes(24).toString('hex')}`
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c'
const PARENT_ID = 'b7ad6b7169203331'

describe('OpenTelemetry spans with a registered SDK', () => {
  const exporter = new InMemorySpanExporter()
  let idp: DevIdP
  let gh: Gatehouse
  const sentToIdp: (string | null)[] = []
  const secrets: string[] = [UPSTREAM_SECRET, CONFIG_SECRET, PASSWORD]
  let spans: ReadableSpan[]
  let clientId = ''

  beforeAll(async () => {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    )
    idp = await startDevIdentityProvider({
      users: [{ username: 'alice', password: PASSWORD, sub: 'alice-sub' }],
      clients: [
        {
          clientId: 'gatehouse',
          clientSecret: UPSTREAM_SECRET,
          redirectUris: [`${GH}/auth/callback`],
        },
      ],
    })
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
      fetch: (input, init) => {
        sentToIdp.push(new Headers(init?.headers).get('traceparent'))
        return fetch(input, init)
      },
    })
    const registered = await gh.fetch(
      new Request(`${GH}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: [CLIENT_REDIRECT],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
        }),
      }),
    )
    clientId = ((await registered.json()) as { client_id: string }).client_id
    const verifier = randomBytes(32).toString('base64url')
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: CLIENT_REDIRECT,
      state: 'st',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      resource: `${GH}/mcp`,
    })
    const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
    const atCallback = await approveAndSignIn(
      ua,
      `${GH}/authorize?${query}`,
      { username: 'alice', password: PASSWORD },
      `${GH}/auth/callback`,
    )
    secrets.push(atCallback.searchParams.get('code')!, verifier)
    sentToIdp.length = 0
    exporter.reset()
    const back = await ua.request(atCallback.href, {
      headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` },
    })
    const code = new URL(back.headers.get('location')!).searchParams.get('code')!
    const token = await gh.fetch(
      new Request(`${GH}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          code_verifier: verifier,
          redirect_uri: CLIENT_REDIRECT,
          client_id: clientId,
        }).toString(),
      }),
    )
    expect(token.status).toBe(200)
    const tokens = (await token.json()) as { access_token: string; refresh_token: string }
    secrets.push(code, tokens.access_token, tokens.refresh_token)
    spans = exporter.getFinishedSpans()
  }, 60_000)

  afterAll(async () => {
    await gh.close()
    await idp.close()
    trace.disable()
  })

  const named = (name: string) => spans.filter((s) => s.name === name)

  it('the callback request is a server span continuing the incoming traceparent', () => {
    const [callback] = named('GET /auth/callback')
    expect(callback).toBeDefined()
    expect(callback!.kind).toBe(SpanKind.SERVER)
    expect(callback!.spanContext().traceId).toBe(TRACE_ID)
    expect(callback!.parentSpanContext?.spanId).toBe(PARENT_ID)
    expect(callback!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/auth/callback',
      'http.response.status_code': 302,
    })
  })

  it('calls to the IdP are client spans under it, and the traceparent sent names that span', () => {
    const [callback] = named('GET /auth/callback')
    const calls = spans.filter(
      (s) => s.kind === SpanKind.CLIENT && s.attributes['peer.service'] === 'idp',
    )
    expect(calls.length).toBeGreaterThan(0)
    for (const call of calls) {
      expect(call.spanContext().traceId).toBe(TRACE_ID)
      expect(call.parentSpanContext?.spanId).toBe(callback!.spanContext().spanId)
      expect(call.attributes['server.address']).toBe(new URL(idp.issuer).host)
    }
    const sent = sentToIdp.filter((t) => t !== null)
    expect(sent).toEqual(calls.map((c) => `00-${TRACE_ID}-${c.spanContext().spanId}-01`))
  })

  it('token issuance is a span under the /token request span, with the grant type and client', () => {
    const [request] = named('POST /token')
    const [issued] = named('gatehouse.token')
    expect(issued).toBeDefined()
    expect(issued!.parentSpanContext?.spanId).toBe(request!.spanContext().spanId)
    expect(issued!.attributes).toMatchObject({
      'gatehouse.oauth.grant_type': 'authorization_code',
      'gatehouse.oauth.client_id': clientId,
      'http.response.status_code': 200,
    })
    expect(issued!.status.code).not.toBe(SpanStatusCode.ERROR)
  })

  it('store operations are spans inside the request that made them', () => {
    const [issued] = named('gatehouse.token')
    const store = spans.filter((s) => s.name.startsWith('gatehouse.store '))
    const underToken = store.filter(
      (s) => s.parentSpanContext?.spanId === issued!.spanContext().spanId,
    )
    expect(underToken.map((s) => s.attributes['db.operation.name'])).toEqual(
      expect.arrayContaining(['get', 'commit']),
    )
    const [callback] = named('GET /auth/callback')
    expect(store.some((s) => s.parentSpanContext?.spanId === callback!.spanContext().spanId)).toBe(
      true,
    )
  })

  it('no span name or attribute holds a secret, code or token', () => {
    const text = JSON.stringify(spans.map((s) => [s.name, s.attributes]))
    for (const secret of secrets) expect(text).not.toContain(secret)
  })

  it('with tracing: false nothing is recorded, though the SDK is registered', async () => {
    const quiet = await createGatehouse({
      config: {
        issuer: 'https://quiet.test',
        secret: CONFIG_SECRET,
        resources: [{ url: 'https://quiet.test/mcp' }],
      },
      store: createMemoryStore(),
      tracing: false,
    })
    exporter.reset()
    const res = await quiet.fetch(new Request('https://quiet.test/.well-known/jwks.json'))
    expect(res.status).toBe(200)
    expect(exporter.getFinishedSpans()).toEqual([])
    await quiet.close()
  })
})
