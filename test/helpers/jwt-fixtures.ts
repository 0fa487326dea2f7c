/**
 * Fixtures for the JWT tests: key pairs, token builders (jose's SignJWT for good tokens, raw
 * crafting for malformed ones), and small real HTTP servers on 127.0.0.1:0 that count requests.
 */

import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT, exportJWK, generateKeyPair } from 'jose'
import { expect } from 'vitest'
import { OAuthError } from '../../src/errors.js'
import type { JWK } from '../../src/jwt/jwk.js'

export const ISSUER = 'https://idp.test'
export const AUDIENCE = 'https://mcp.test/mcp'

/** A signing key of the test IdP, with its public JWK (kid, alg, use set). */
export interface TestKey {
  kid: string
  alg: string
  privateKey: CryptoKey
  publicKey: CryptoKey
  publicJwk: JWK
}

let kids = 0

/** Generates a key pair for `alg` (RS*, PS*, ES*, EdDSA). */
export async function createTestKey(alg = 'RS256', kid?: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  kids++
  const id = kid ?? `key-${kids}`
  const publicJwk = { ...(await exportJWK(publicKey)), kid: id, alg, use: 'sig' } as JWK
  return { kid: id, alg, privateKey, publicKey, publicJwk }
}

/** Seconds since the epoch. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

/** Baseline access-token claims; a claim set to `undefined` in `overrides` is removed. */
export function baseClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSeconds()
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    client_id: 'client-1',
    scope: 'mcp:read mcp:write',
    iat: now,
    exp: now + 3600,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    ...overrides,
  }
  return Object.fromEntries(Object.entries(claims).filter(([, value]) => value !== undefined))
}

/** Signs a well-formed token with jose's SignJWT. */
export async function signToken(
  key: TestKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(baseClaims(claims))
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .sign(key.privateKey)
}

/** base64url of bytes or of a string's UTF-8. */
export function b64url(input: string | Uint8Array): string {
  return Buffer.from(input).toString('base64url')
}

/**
 * Builds `header.payload` from objects or raw JSON text (for duplicate members and other things
 * JSON.stringify cannot write) and signs it with `key` via Web Crypto, whatever the header says.
 */
export async function craftToken(
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string,
  key: TestKey | { secret: Uint8Array<ArrayBuffer>; alg: string },
): Promise<string> {
  const input = `${b64url(typeof header === 'string' ? header : JSON.stringify(header))}.${b64url(
    typeof payload === 'string' ? payload : JSON.stringify(payload),
  )}`
  const signature = await signBytes(key, new TextEncoder().encode(input))
  return `${input}.${b64url(signature)}`
}

/** Joins already-encoded segments with a signature given as bytes. */
export function joinToken(
  header: object | string,
  payload: object | string,
  signature: Uint8Array,
) {
  const h = typeof header === 'string' ? header : JSON.stringify(header)
  const p = typeof payload === 'string' ? payload : JSON.stringify(payload)
  return `${b64url(h)}.${b64url(p)}.${b64url(signature)}`
}

async function signBytes(
  key: TestKey | { secret: Uint8Array<ArrayBuffer>; alg: string },
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array> {
  const hash = `SHA-${key.alg.slice(2) === 'DSA' ? '256' : key.alg.slice(2)}`
  if ('secret' in key) {
    const hmac = await crypto.subtle.importKey('raw', key.secret, { name: 'HMAC', hash }, false, [
      'sign',
    ])
    return new Uint8Array(await crypto.subtle.sign('HMAC', hmac, data))
  }
  const family = key.alg.slice(0, 2)
  const params =
    family === 'RS'
      ? { name: 'RSASSA-PKCS1-v1_5' }
      : family === 'PS'
        ? { name: 'RSA-PSS', saltLength: Number(key.alg.slice(2)) / 8 }
        : family === 'ES'
          ? { name: 'ECDSA', hash }
          : { name: 'Ed25519' }
  return new Uint8Array(await crypto.subtle.sign(params, key.privateKey, data))
}

/** A running local HTTP server. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  url: string
  /** Requests received since start or the last `resetCount()`. */
  readonly requests: number
  /** Paths of the requests received, in order. */
  readonly paths: string[]
  resetCount(): void
  close(): Promise<void>
}

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void

/** Starts an HTTP server on 127.0.0.1, port 0, that counts requests and hands them to `handler`. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const paths: string[] = []
  let requests = 0
  const server = createServer((request, response) => {
    requests++
    paths.push(request.url ?? '')
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      handler(request, response, Buffer.concat(chunks).toString())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests
    },
    paths,
    resetCount() {
      requests = 0
      paths.length = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}

/** A local JWKS (and discovery) server whose keys can rotate and which can fail or stop. */
export interface JWKSServer extends TestServer {
  jwksUri: string
  /** The discovery document's URL (`/.well-known/openid-configuration`). */
  discoveryUrl: string
  setKeys(keys: JWK[]): void
  /** Answer every request with this status (and a secret-looking body); `false` restores. */
  fail(status: number | false): void
  /** The `issuer` the discovery document names. */
  setIssuer(issuer: string): void
}

/** Starts a JWKS server serving `keys` at `/jwks` and discovery at the well-known path. */
export async function startJWKSServer(keys: JWK[] = [], issuer = ISSUER): Promise<JWKSServer> {
  let current = keys
  let failing: number | false = false
  let published = issuer
  const server = await startServer((request, response) => {
    if (failing !== false) {
      response.writeHead(failing, { 'content-type': 'text/plain' })
      response.end('secret-upstream-body')
      return
    }
    if (request.url === '/jwks') {
      response.writeHead(200, { 'content-type': 'application/jwk-set+json' })
      response.end(JSON.stringify({ keys: current }))
      return
    }
    if (request.url === '/.well-known/openid-configuration') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ issuer: published, jwks_uri: `${server.url}/jwks` }))
      return
    }
    response.writeHead(404).end()
  })
  return Object.assign(server, {
    jwksUri: `${server.url}/jwks`,
    discoveryUrl: `${server.url}/.well-known/openid-configuration`,
    setKeys(next: JWK[]) {
      current = next
    },
    fail(status: number | false) {
      failing = status
    },
    setIssuer(next: string) {
      published = next
    },
  })
}

/** A clock for `now` options: starts at the real time, moves only when told. */
export function createClock(): { now: () => number; advance(ms: number): void } {
  let time = Date.now()
  return {
    now: () => time,
    advance(ms: number) {
      time += ms
    },
  }
}

/**
 * Asserts both faces of a refusal: `verifyToken` resolves to `undefined`, and `verify` rejects
 * with `OAuthError` `invalid_token` carrying `reason` and a description without the token.
 */
export async function expectRejected(
  verifier: {
    verifyToken(token: string): Promise<unknown>
    verify(token: string): Promise<unknown>
  },
  token: string,
  reason: string,
): Promise<void> {
  expect(await verifier.verifyToken(token)).toBeUndefined()
  const error: unknown = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(OAuthError)
  const oauth = error as OAuthError
  expect({ code: oauth.code, reason: oauth.reason }).toEqual({
    code: reason === 'insufficient_scope' ? 'insufficient_scope' : 'invalid_token',
    reason,
  })
  expect(oauth.message).not.toContain(token)
  if (token.length > 20) expect(oauth.message).not.toContain(token.slice(0, 20))
}
