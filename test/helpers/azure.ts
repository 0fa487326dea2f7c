/**
 * Builders for Azure provider tests: a local Entra stand-in with two work directories, a B2C
 * directory and Graph; Gatehouse with `createAzureProxy`; a whole sign-in of an MCP client.
 */
import { createHash, randomBytes } from 'node:crypto'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { AzureProvider, createAzureProxy, type AzureProxyOptions } from '../../src/presets/azure.js'
import {
  startAzureStandIn,
  type AzureStandIn,
  type StandInUser,
} from '../../src/dev/azure-stand-in/index.js'
import type { Gatehouse } from '../../src/gatehouse.js'
import type { AccessToken } from '../../src/jwt/access-token.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createClock, type TestClock } from './gatehouse.js'
import { approveAndSignIn, UserAgent } from './user-agent.js'

export const TENANT_A = 'aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa'
export const TENANT_B = 'bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb'
export const TENANT_C = 'cccccccc-3333-4333-8333-cccccccccccc'
export const B2C_TENANT = 'dddddddd-4444-4444-8444-dddddddddddd'
export const APP_ID = '11111111-aaaa-4aaa-8aaa-111111111111'
export const APP_SECRET = 'entra-app-secret-value~42'
export const V1_APP_ID = '22222222-bbbb-4bbb-8bbb-222222222222'
export const GH = 'http://127.0.0.1:7791'
export const CB = 'http://127.0.0.1:5591/cb'

export const USERS = {
  alice: {
    username: 'alice@a.example',
    password: 'alice-pw',
    tenantId: TENANT_A,
    name: 'Alice',
    email: 'alice@a.example',
    roles: { [APP_ID]: ['Tools.Admin'] },
  },
  bob: { username: 'bob@b.example', password: 'bob-pw', tenantId: TENANT_B, name: 'Bob' },
  carol: { username: 'carol@c.example', password: 'carol-pw', tenantId: TENANT_C, name: 'Carol' },
  mfa: {
    username: 'mfa@a.example',
    password: 'mfa-pw',
    tenantId: TENANT_A,
    requireMfaForObo: true,
  },
  b2c: { username: 'bea@b2c.example', password: 'bea-pw', tenantId: B2C_TENANT },
} satisfies Record<string, StandInUser>

/** A stand-in with tenants A, B, C (A: `a.onmicrosoft.com`), a B2C tenant and the app. */
export function startStandIn(options: { tokenTtlSeconds?: number; now?: () => number } = {}) {
  return startAzureStandIn({
    tenants: [
      { id: TENANT_A, domain: 'a.onmicrosoft.com' },
      { id: TENANT_B },
      { id: TENANT_C },
      { id: B2C_TENANT, b2c: { name: 'contosob2c', policies: ['B2C_1_susi', 'B2C_1_weak'] } },
    ],
    apps: [
      {
        clientId: APP_ID,
        clientSecret: APP_SECRET,
        tenantId: TENANT_A,
        scopes: ['read', 'write', 'my.scope'],
        redirectUris: [`${GH}/auth/callback`],
      },
      {
        clientId: V1_APP_ID,
        clientSecret: APP_SECRET,
        tenantId: TENANT_A,
        scopes: ['read'],
        redirectUris: [`${GH}/auth/callback`],
        accessTokenVersion: 1,
      },
    ],
    users: Object.values(USERS),
    ...options,
  })
}

export interface AzureSetup {
  gh: Gatehouse
  provider: AzureProvider
  clock: TestClock
  warnings: string[]
  errors: { code: string; reason: string | undefined }[]
}

/** Gatehouse with the Azure provider against the stand-in. */
export async function createAzureGatehouse(
  entra: AzureStandIn,
  options: Partial<AzureProxyOptions> = {},
): Promise<AzureSetup> {
  // Gatehouse's clock only: the stand-in keeps real time, as oauth4webapi checks ID tokens with it.
  const clock = createClock()
  const warnings: string[] = []
  const errors: AzureSetup['errors'] = []
  const gh = await createAzureProxy({
    baseUrl: GH,
    clientId: APP_ID,
    clientSecret: APP_SECRET,
    tenantId: TENANT_A,
    authority: entra.url,
    requiredScopes: ['read'],
    secret: 's'.repeat(32),
    store: createMemoryStore(),
    now: clock.now,
    signatureVerifier: nodeSignatureVerifier,
    onWarning: (m) => warnings.push(m),
    onError: (e) => errors.push({ code: e.code, reason: e.reason }),
    ...options,
  })
  if (!(gh.base instanceof AzureProvider)) throw new Error('expected the Azure provider')
  return { gh, provider: gh.base, clock, warnings, errors }
}

export interface SignedIn {
  /** Where the browser came back to the MCP client (`code` or `error`). */
  back: URL
  tokens?: { access_token: string; refresh_token?: string; scope?: string }
  token?: AccessToken
  clientId: string
}

/** Registers an MCP client, signs `user` in through the stand-in and redeems the code. */
export async function signIn(
  setup: AzureSetup,
  user: { username: string; password: string },
  authorize: Record<string, string> = {},
): Promise<SignedIn> {
  const { gh } = setup
  const reg = await gh.fetch(
    new Request(`${GH}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [CB],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    }),
  )
  const { client_id: clientId } = (await reg.json()) as { client_id: string }
  const verifier = randomBytes(32).toString('base64url')
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: CB,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'client-state',
    ...authorize,
  })
  const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
  const back = await approveAndSignIn(ua, `${GH}/authorize?${q}`, user, CB)
  const code = back.searchParams.get('code')
  if (code === null) return { back, clientId }
  const res = await gh.fetch(
    new Request(`${GH}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: CB,
        client_id: clientId,
        ...(authorize.resource !== undefined ? { resource: authorize.resource } : {}),
      }).toString(),
    }),
  )
  const tokens = (await res.json()) as NonNullable<SignedIn['tokens']>
  const token = await gh.verifier.verifyToken(tokens.access_token)
  return { back, tokens, ...(token ? { token } : {}), clientId }
}

/** The scopes of the last request to an endpoint of the stand-in, as a list. */
export function lastScopes(entra: AzureStandIn, endpoint: 'authorize' | 'token'): string[] {
  const last = entra.requestsTo(endpoint).at(-1)
  return (last?.params.scope ?? '').split(' ').filter((s) => s !== '')
}
