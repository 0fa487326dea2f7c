// What bench/flow.bench.mjs and its server child (bench/flow-server.mjs) share: the Gatehouse under
// test per store, the MCP SDK's demo authorization server (the peer of issue 17), and one complete
// authorization-code flow (authorize → token with PKCE) against a `fetch`-like function.
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ISSUER = 'http://127.0.0.1:9'
export const RESOURCE = `${ISSUER}/mcp`
export const REDIRECT = 'http://127.0.0.1/cb'

/**
 * One build of Gatehouse under test: `dist/` of this tree by default, or another build's `dist/`
 * (BASELINE_DIST) so that a before/after comparison runs in the same rounds.
 */
export async function loadBuild(dist = new URL('../dist/', import.meta.url)) {
  const { createGatehouse } = await import(new URL('index.js', dist).href)
  const { createMemoryStore } = await import(new URL('storage/memory.js', dist).href)
  const nodeAdapter = await import(new URL('adapters/node.js', dist).href)
  // This build's node:crypto signer and SHA-256 (absent before issue 17's change).
  const nodeSigner = nodeAdapter.nodeSignatureSigner

  /** The store a Gatehouse runs on: memory, SQLite (temporary file) or Redis (`REDIS_URL`). */
  async function openStore(kind) {
    if (kind === 'memory') return { store: createMemoryStore(), cleanup: async () => undefined }
    if (kind === 'sqlite') {
      const { createSqliteStore } = await import(new URL('storage/sqlite.js', dist).href)
      const dir = await mkdtemp(join(tmpdir(), 'gatehouse-flow-'))
      return {
        store: createSqliteStore({ dataDir: dir }),
        cleanup: () => rm(dir, { recursive: true, force: true }),
      }
    }
    if (kind === 'redis') {
      const url = process.env.REDIS_URL
      if (!url) throw new Error('REDIS_URL is not set')
      const { createRedisStore } = await import(new URL('storage/redis.js', dist).href)
      const { Redis } = await import('ioredis')
      const prefix = `gatehouse-flow-bench:${randomUUID()}:`
      return {
        store: createRedisStore({ url, keyPrefix: prefix }),
        // Refresh tokens and grants live for days: remove every key this run wrote.
        cleanup: async () => {
          const client = new Redis(url)
          let cursor = '0'
          do {
            const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
            if (keys.length > 0) await client.unlink(...keys)
            cursor = next
          } while (cursor !== '0')
          await client.quit()
        },
      }
    }
    throw new Error(`unknown store ${kind}`)
  }

  /** A Gatehouse as `gatehouse serve` wires it on Node, signing in every user without a page. */
  function createFlowGatehouse(store, { signingAlgorithm, signer = true } = {}) {
    return createGatehouse({
      config: {
        issuer: ISSUER,
        secret: 'b'.repeat(32),
        resources: [{ url: RESOURCE, scopes: ['mcp:read'] }],
        ...(signingAlgorithm ? { signingAlgorithm } : {}),
      },
      store,
      authenticate: async () => ({ subject: 'bench-user' }),
      dangerouslySkipConsent: true,
      onWarning: () => undefined,
      signatureVerifier: nodeAdapter.nodeSignatureVerifier,
      ...(signer && nodeSigner ? { signatureSigner: nodeSigner } : {}),
      ...(signer && nodeAdapter.nodeSha256 ? { sha256: nodeAdapter.nodeSha256 } : {}),
      // The store's sealing too (`nodeCrypto` bundles all four, as `gatehouse serve` passes them).
      ...(signer && nodeAdapter.nodeValueCipher
        ? { valueCipher: nodeAdapter.nodeValueCipher }
        : {}),
    })
  }

  return { nodeSigner, openStore, createFlowGatehouse, toNodeHandler: nodeAdapter.toNodeHandler }
}

/**
 * The MCP SDK 1.x demo authorization server (`mcpAuthRouter` + `DemoInMemoryAuthProvider` from its
 * examples), rate limits off, extended to issue one RS256 JWT (jose, as an SDK user would) per
 * flow in place of its opaque token. It keeps nothing durable, issues no refresh token and
 * encrypts nothing.
 */
export async function createSdkDemo() {
  const express = (await import('express')).default
  const { mcpAuthRouter } = await import('@modelcontextprotocol/sdk/server/auth/router.js')
  const { DemoInMemoryAuthProvider } =
    await import('@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js')
  const { SignJWT, generateKeyPair } = await import('jose')
  const { privateKey } = await generateKeyPair('RS256')
  class JwtDemoProvider extends DemoInMemoryAuthProvider {
    async exchangeAuthorizationCode(client, code, verifier) {
      const issued = await super.exchangeAuthorizationCode(client, code, verifier)
      const access = await new SignJWT({ client_id: client.client_id, scope: issued.scope })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
        .setIssuer(ISSUER)
        .setSubject('demo_user')
        .setAudience(RESOURCE)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey)
      return { ...issued, access_token: access }
    }
  }
  const app = express()
  app.use(
    mcpAuthRouter({
      provider: new JwtDemoProvider(),
      issuerUrl: new URL(ISSUER),
      scopesSupported: ['mcp:read'],
      authorizationOptions: { rateLimit: false },
      tokenOptions: { rateLimit: false },
      clientRegistrationOptions: { rateLimit: false },
    }),
  )
  return app
}

/** PKCE pairs made ahead, so the client's hashing is not timed with the server's work. */
export function pkcePairs(count) {
  return Array.from({ length: count }, () => {
    const verifier = randomBytes(32).toString('base64url')
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') }
  })
}

export const registration = JSON.stringify({
  redirect_uris: [REDIRECT],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
})

export function authorizeQuery(clientId, pair) {
  return new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    code_challenge: pair.challenge,
    code_challenge_method: 'S256',
    state: 'bench',
  }).toString()
}

export function tokenForm(clientId, code, pair) {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    code_verifier: pair.verifier,
    redirect_uri: REDIRECT,
    client_id: clientId,
  }).toString()
}

/** The code out of an authorization response's `Location`; throws for anything but a code. */
export function codeFrom(location) {
  const code = location ? new URL(location).searchParams.get('code') : null
  if (!code) throw new Error(`authorize did not redirect with a code: ${location}`)
  return code
}

/**
 * Registers a client and runs complete flows through `gatehouse.fetch`, in process; each flow
 * answers the token response (an access and a refresh token).
 */
export async function inProcessClient(gh) {
  const reg = await gh.fetch(
    new Request(`${ISSUER}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: registration,
    }),
  )
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status}`)
  const clientId = (await reg.json()).client_id
  return async function flow(pair) {
    const auth = await gh.fetch(
      new Request(`${ISSUER}/authorize?${authorizeQuery(clientId, pair)}`),
    )
    const code = codeFrom(auth.headers.get('location'))
    const res = await gh.fetch(
      new Request(`${ISSUER}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: tokenForm(clientId, code, pair),
      }),
    )
    if (res.status !== 200) throw new Error(`token failed: ${res.status} ${await res.text()}`)
    const body = await res.json()
    if (!body.access_token || !body.refresh_token) throw new Error('token response incomplete')
    return body
  }
}
