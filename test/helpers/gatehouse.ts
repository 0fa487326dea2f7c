/**
 * Builders for tests that drive Gatehouse through its HTTP interface with Web `Request`s.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createAdmin, type Admin } from '../../src/admin/admin.js'
import { createGatehouse, type Gatehouse, type GatehouseOptions } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import type { Store } from '../../src/storage/store.js'

export const ISSUER = 'https://as.test'
export const RESOURCE = 'https://as.test/mcp'
export const PRM_URL = 'https://as.test/.well-known/oauth-protected-resource/mcp'
export const SECRET = 'test-secret-that-is-at-least-32-bytes-long!'

export interface TestClock {
  now: () => number
  advance(seconds: number): void
}

export function createClock(start = Date.now()): TestClock {
  let t = start
  return { now: () => t, advance: (s) => (t += s * 1000) }
}

/**
 * A memory store whose lifetimes pass with a test clock, and the administration API over it (it
 * shares the store but not its closing, which the Gatehouse does). Give the Gatehouse the same
 * clock (`options: { now: clock.now }`).
 */
export async function storeOnClock(): Promise<{ clock: TestClock; store: Store; admin: Admin }> {
  const clock = createClock()
  const store = createMemoryStore({ now: clock.now })
  const admin = await createAdmin({
    config: {
      issuer: ISSUER,
      secret: SECRET,
      resources: [{ url: RESOURCE, scopes: ['mcp:read'] }],
    },
    store: { ...store, close: () => Promise.resolve() },
    now: clock.now,
  })
  return { clock, store, admin }
}

export interface TestGatehouse {
  gh: Gatehouse
  clock: TestClock
  store: Store
  errors: { code: string; reason: string | undefined; message: string }[]
  /** What `onWarning` reported at start-up. */
  warnings: string[]
  /** Calls the AS endpoints. */
  call(path: string, init?: RequestInit): Promise<Response>
  /** Calls the protected MCP endpoint (echoes the principal). */
  mcp(init?: RequestInit, path?: string): Promise<Response>
}

export async function createTestGatehouse(
  overrides: {
    config?: Record<string, unknown>
    store?: Store
    options?: Partial<GatehouseOptions>
  } = {},
): Promise<TestGatehouse> {
  const clock = createClock()
  const store = overrides.store ?? createMemoryStore()
  const errors: TestGatehouse['errors'] = []
  const warnings: string[] = []
  const gh = await createGatehouse({
    config: {
      issuer: ISSUER,
      secret: SECRET,
      resources: [
        { url: RESOURCE, scopes: ['mcp:read', 'mcp:write'], defaultScopes: ['mcp:read'] },
      ],
      ...overrides.config,
    },
    store,
    now: clock.now,
    authenticate: () => Promise.resolve({ subject: 'user-1' }),
    // Most tests are about the protocol after sign-in; test/security/consent.test.ts covers the
    // consent page this skips. (A proxy always shows its page, and refuses the opt-out.)
    ...(overrides.config?.upstream === undefined ? { dangerouslySkipConsent: true } : {}),
    onWarning: (m) => warnings.push(m),
    onError: (e) => errors.push({ code: e.code, reason: e.reason, message: e.message }),
    ...overrides.options,
  })
  const mcpHandler = gh.protect((_req, token) =>
    Response.json({ sub: token.subject, client: token.clientId, scopes: token.scopes }),
  )
  return {
    gh,
    clock,
    store,
    errors,
    warnings,
    call: (path, init) => gh.fetch(new Request(new URL(path, ISSUER), init)),
    mcp: (init, path = '/mcp') =>
      mcpHandler(new Request(new URL(path, ISSUER), { method: 'POST', ...init })),
  }
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
}

export function form(params: Record<string, string>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  }
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`
}

export interface RegisteredClient {
  client_id: string
  client_secret?: string
  redirect_uris: string[]
  [k: string]: unknown
}

export async function register(
  t: TestGatehouse,
  metadata: Record<string, unknown> = {},
): Promise<RegisteredClient> {
  const res = await t.call('/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: ['http://127.0.0.1/callback', 'https://app.test/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'Test client',
      ...metadata,
    }),
  })
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`)
  return (await res.json()) as RegisteredClient
}

export function authorizeURL(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v)
  return `/authorize?${q.toString()}`
}

export interface CodeResult {
  code: string
  verifier: string
  redirectUri: string
  location: URL
}

/** Runs /authorize for a client and returns the code from the redirect. */
export async function getCode(
  t: TestGatehouse,
  client: RegisteredClient,
  extra: Record<string, string | undefined> = {},
): Promise<CodeResult> {
  const { verifier, challenge } = pkcePair()
  const redirectUri = extra.redirect_uri ?? 'https://app.test/cb'
  const res = await t.call(
    authorizeURL({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: redirectUri,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'xyz',
      resource: RESOURCE,
      ...extra,
    }),
  )
  if (res.status !== 302) throw new Error(`authorize failed: ${res.status} ${await res.text()}`)
  const location = new URL(res.headers.get('location') ?? '')
  const code = location.searchParams.get('code')
  if (!code) throw new Error(`no code in ${location.href}`)
  return { code, verifier, redirectUri, location }
}

export interface Tokens {
  access_token: string
  refresh_token?: string
  scope?: string
  expires_in: number
  token_type: string
}

/** Full flow for a public client: register, authorize, redeem. */
export async function getTokens(
  t: TestGatehouse,
  client?: RegisteredClient,
  extra: Record<string, string | undefined> = {},
): Promise<{ client: RegisteredClient; tokens: Tokens; code: CodeResult }> {
  const c = client ?? (await register(t))
  const code = await getCode(t, c, extra)
  const res = await t.call(
    '/token',
    form({
      grant_type: 'authorization_code',
      code: code.code,
      code_verifier: code.verifier,
      redirect_uri: code.redirectUri,
      client_id: c.client_id,
      resource: extra.resource ?? RESOURCE,
    }),
  )
  if (res.status !== 200) throw new Error(`token failed: ${res.status} ${await res.text()}`)
  return { client: c, tokens: (await res.json()) as Tokens, code }
}

export function bearer(token: string): RequestInit {
  return { headers: { authorization: `Bearer ${token}` } }
}

/** A form POST authenticated with `client_secret_basic`. */
export function postBasic(
  t: TestGatehouse,
  path: string,
  params: Record<string, string>,
  clientId: string,
  secret: string,
): Promise<Response> {
  return t.call(path, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(clientId, secret),
    },
    body: new URLSearchParams(params).toString(),
  })
}

/** Redeems `code` at /token as the confidential `client` (client_secret_basic). */
export function redeemBasic(
  t: TestGatehouse,
  client: RegisteredClient,
  code: { code: string; verifier: string; redirectUri: string },
): Promise<Response> {
  const params = {
    grant_type: 'authorization_code',
    code: code.code,
    code_verifier: code.verifier,
    redirect_uri: code.redirectUri,
  }
  return postBasic(t, '/token', params, client.client_id, client.client_secret ?? '')
}
