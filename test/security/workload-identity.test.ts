/**
 * Workload identity federation: platform tokens (a Kubernetes service-account token, a GitHub
 * Actions OIDC token, a SPIFFE JWT-SVID), minted by issuers running on 127.0.0.1, authenticate
 * clients with no secret (RFC 7523 client assertions under trust policies), for client
 * credentials and token exchange. Bad input of each kind is `invalid_client` and issues nothing;
 * a token's `jti` is single use across instances sharing one store.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { base64url, exportJWK, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createMemoryStore } from '../../src/storage/memory.js'
import { createRedisStore } from '../../src/storage/redis.js'
import type { Store } from '../../src/storage/store.js'
import {
  createTestGatehouse,
  form,
  getTokens,
  ISSUER,
  register,
  RESOURCE,
  type TestGatehouse,
} from '../helpers/gatehouse.js'
import {
  githubActionsClaims,
  kubernetesClaims,
  spiffeClaims,
  startPlatformIssuer,
  type PlatformIssuer,
} from '../helpers/platform-issuer.js'

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token'
const REDIS_URL = process.env.REDIS_URL

let k8s: PlatformIssuer
let github: PlatformIssuer
let spire: PlatformIssuer
let stranger: PlatformIssuer

beforeAll(async () => {
  ;[k8s, github, spire, stranger] = await Promise.all([
    startPlatformIssuer(),
    startPlatformIssuer(),
    startPlatformIssuer(),
    startPlatformIssuer(),
  ])
})
afterAll(async () => {
  await Promise.all([k8s.close(), github.close(), spire.close(), stranger.close()])
})

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(jwt.split('.')[1] ?? ''))) as Record<
    string,
    unknown
  >
}

function config(): Record<string, unknown> {
  return {
    clientCredentials: { enabled: true },
    clients: [
      {
        clientId: 'reporter',
        tokenEndpointAuthMethod: 'private_key_jwt',
        grantTypes: ['client_credentials'],
        clientCredentialsScopes: ['mcp:read', 'mcp:write'],
      },
      {
        clientId: 'deployer',
        tokenEndpointAuthMethod: 'private_key_jwt',
        grantTypes: ['client_credentials'],
        clientCredentialsScopes: ['mcp:read', 'mcp:write'],
      },
      {
        clientId: 'agent-gateway',
        tokenEndpointAuthMethod: 'private_key_jwt',
        grantTypes: [EXCHANGE],
      },
    ],
    tokenExchange: { enabled: true, clients: [{ clientId: 'agent-gateway' }] },
    workloadIdentity: {
      policies: [
        {
          issuer: k8s.issuer,
          jwksUri: k8s.jwksUri,
          subject: 'system:serviceaccount:reports:reporter',
          clientId: 'reporter',
          scopes: ['mcp:read'],
        },
        {
          issuer: github.issuer,
          discoveryUrl: github.discoveryUrl,
          subject: 'repo:acme/api:ref:refs/heads/*',
          audience: 'https://as.test/ci',
          claims: { repository_owner: 'acme', runner_environment: 'github-hosted' },
          clientId: 'deployer',
        },
        {
          issuer: spire.issuer,
          jwksUri: spire.jwksUri,
          subject: 'spiffe://example.org/ns/agents/**',
          clientId: 'agent-gateway',
        },
      ],
    },
  }
}

describe('workload identity federation', () => {
  let t: TestGatehouse

  beforeEach(async () => {
    t = await createTestGatehouse({ config: config() })
  })

  const token = (clientId: string, assertion: string, params: Record<string, string> = {}) =>
    t.call(
      '/token',
      form({
        grant_type: 'client_credentials',
        client_id: clientId,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: assertion,
        ...params,
      }),
    )

  async function refusedClient(res: Response, assertion: string, reason?: string) {
    const text = await res.text()
    expect(res.status).toBe(401)
    expect((JSON.parse(text) as { error: string }).error).toBe('invalid_client')
    expect(text).not.toContain('access_token')
    expect(text).not.toContain(assertion.slice(-20))
    if (reason !== undefined) expect(t.errors.at(-1)?.reason).toBe(reason)
  }

  const k8sToken = (sa = 'reporter', ns = 'reports', extra: Record<string, unknown> = {}) =>
    k8s.mint({ ...kubernetesClaims(ns, sa, ISSUER), ...extra })
  const ghToken = (repo = 'acme/api', ref = 'refs/heads/main', extra = {}) =>
    github.mint({ ...githubActionsClaims(repo, ref, 'https://as.test/ci'), ...extra })

  it('WI-01 a Kubernetes service-account token gets the client a token, narrowed to the policy', async () => {
    const res = await token('reporter', await k8sToken())
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string; scope: string }
    expect(body.scope).toBe('mcp:read')
    expect(claimsOf(body.access_token)).toMatchObject({
      sub: 'reporter',
      client_id: 'reporter',
      aud: RESOURCE,
      gty: 'client_credentials',
    })
    // The policy allows mcp:read only, though the client's list has mcp:write.
    const wider = await token('reporter', await k8sToken(), { scope: 'mcp:write' })
    expect(wider.status).toBe(400)
    expect(((await wider.json()) as { error: string }).error).toBe('invalid_scope')
  })

  it('WI-02 a GitHub Actions token: branch glob and claims; other repos, tags and owners are refused', async () => {
    const ok = await token('deployer', await ghToken(), { scope: 'mcp:read mcp:write' })
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { scope: string }).scope).toBe('mcp:read mcp:write')
    const other = await ghToken('evil/api')
    await refusedClient(await token('deployer', other), other, 'workload_subject')
    const tag = await ghToken('acme/api', 'refs/tags/v1')
    await refusedClient(await token('deployer', tag), tag, 'workload_subject')
    // `*` stays within a segment: a branch named with a slash does not match.
    const nested = await ghToken('acme/api', 'refs/heads/feature/x')
    await refusedClient(await token('deployer', nested), nested, 'workload_subject')
    const selfHosted = await ghToken('acme/api', 'refs/heads/main', {
      runner_environment: 'self-hosted',
    })
    await refusedClient(await token('deployer', selfHosted), selfHosted, 'workload_claims')
  })

  it('WI-03 wrong issuer, wrong audience, expired, too long-lived, foreign key, other client', async () => {
    const now = Math.floor(Date.now() / 1000)
    const cases: [string, string, string | undefined][] = [
      [
        'reporter',
        await stranger.mint(kubernetesClaims('reports', 'reporter', ISSUER)),
        'workload_untrusted_issuer',
      ],
      [
        'reporter',
        await k8s.mint(kubernetesClaims('reports', 'reporter', 'https://api.k8s')),
        undefined,
      ],
      [
        'reporter',
        await k8sToken('reporter', 'reports', {
          iat: now - 7200,
          nbf: now - 7200,
          exp: now - 3600,
        }),
        undefined,
      ],
      [
        'reporter',
        await k8sToken('reporter', 'reports', { exp: now + 86_000 }),
        'workload_lifetime',
      ],
      [
        'reporter',
        await k8s.mintWithForeignKey(kubernetesClaims('reports', 'reporter', ISSUER)),
        undefined,
      ],
      ['reporter', await k8sToken('other-sa'), 'workload_subject'],
      // A token the reporter's policy accepts does not authenticate another client.
      ['deployer', await k8sToken(), 'workload_untrusted_issuer'],
    ]
    for (const [client, assertion, reason] of cases) {
      await refusedClient(await token(client, assertion), assertion, reason)
    }
    // An issuer no policy trusts causes no key fetch.
    expect(stranger.hits.size).toBe(0)
  })

  /** One platform token presented to two instances built on `storeFor()`: the second is refused. */
  async function replayAcrossInstances(storeFor: () => Store) {
    const shared = storeFor()
    const a = await createTestGatehouse({ config: config(), store: shared })
    const b = await createTestGatehouse({ config: config(), store: storeFor() })
    const assertion = await k8sToken()
    const call = (g: TestGatehouse) =>
      g.call(
        '/token',
        form({
          grant_type: 'client_credentials',
          client_id: 'reporter',
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: assertion,
        }),
      )
    expect((await call(a)).status).toBe(200)
    const replay = await call(b)
    expect(replay.status).toBe(401)
    expect(b.errors.at(-1)?.reason).toBe('workload_replay')
  }

  it('WI-04 a platform token with a jti is single use, across instances sharing the store', async () => {
    const store = createMemoryStore()
    await replayAcrossInstances(() => store)
  })

  // Needs a Redis server (CI sets REDIS_URL); the memory variant above covers the logic without one.
  describe.skipIf(REDIS_URL === undefined || REDIS_URL === '')('on Redis (REDIS_URL)', () => {
    const prefix = `gh-wi-test:${randomBytes(6).toString('hex')}:`
    const stores: Store[] = []
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()))
      const admin = new Redis(REDIS_URL ?? '', { maxRetriesPerRequest: 1 })
      const keys = await admin.keys(`${prefix}*`)
      if (keys.length > 0) await admin.del(...keys)
      await admin.quit()
    })
    it('WI-04r two instances on two connections to one Redis: the replay is refused', async () => {
      await replayAcrossInstances(() => {
        const store = createRedisStore({ url: REDIS_URL ?? '', keyPrefix: prefix })
        stores.push(store)
        return store
      })
    })
  })

  it('WI-05 a SPIFFE JWT-SVID (no jti) authenticates a gateway that exchanges a user token', async () => {
    const user = await getTokens(t, await register(t), { scope: 'mcp:read' })
    const svid = await spire.mint(spiffeClaims('spiffe://example.org/ns/agents/sa/gateway', ISSUER))
    const res = await t.call(
      '/token',
      form({
        grant_type: EXCHANGE,
        client_id: 'agent-gateway',
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: svid,
        subject_token: user.tokens.access_token,
        subject_token_type: ACCESS,
      }),
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string }
    expect(claimsOf(body.access_token)).toMatchObject({ sub: 'user-1', client_id: 'agent-gateway' })
    const outside = await spire.mint(spiffeClaims('spiffe://example.org/ns/billing/sa/x', ISSUER))
    await refusedClient(
      await t.call(
        '/token',
        form({
          grant_type: EXCHANGE,
          client_id: 'agent-gateway',
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: outside,
          subject_token: user.tokens.access_token,
          subject_token_type: ACCESS,
        }),
      ),
      outside,
      'workload_subject',
    )
  })

  it("WI-06 a federated client's own-key assertion (iss = client id) is refused: it has no keys", async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256')
    void exportJWK(publicKey)
    const now = Math.floor(Date.now() / 1000)
    const own = await new SignJWT({
      iss: 'reporter',
      sub: 'reporter',
      aud: ISSUER,
      iat: now,
      exp: now + 60,
      jti: 'j1',
    })
      .setProtectedHeader({ alg: 'ES256' })
      .sign(privateKey)
    await refusedClient(await token('reporter', own), own, 'assertion_no_keys')
  })

  it('WI-07 metadata advertises private_key_jwt; configuration refuses a policy client with keys', async () => {
    const meta = (await (await t.call('/.well-known/oauth-authorization-server')).json()) as {
      token_endpoint_auth_methods_supported: string[]
    }
    expect(meta.token_endpoint_auth_methods_supported).toContain('private_key_jwt')
    const { publicKey } = await generateKeyPair('ES256')
    const withKeys = config()
    const clients = withKeys.clients as Record<string, unknown>[]
    clients[0] = { ...clients[0], jwks: { keys: [await exportJWK(publicKey)] } }
    await expect(createTestGatehouse({ config: withKeys })).rejects.toThrow(
      /workloadIdentity policy uses private_key_jwt with no jwks/,
    )
  })

  it('WI-09 a policy that grants no scope (scopes: []) gets the client invalid_scope, never a scopeless token', async () => {
    const c = config()
    const policies = (c.workloadIdentity as { policies: Record<string, unknown>[] }).policies
    policies[0] = { ...policies[0], scopes: [] }
    t = await createTestGatehouse({ config: c })
    const res = await token('reporter', await k8sToken())
    expect(res.status).toBe(400)
    const text = await res.text()
    expect((JSON.parse(text) as { error: string }).error).toBe('invalid_scope')
    expect(text).not.toContain('access_token')
  })

  it('WI-10 configuration refuses two policies of one issuer with different keys (they share its key cache)', async () => {
    const c = config()
    const policies = (c.workloadIdentity as { policies: Record<string, unknown>[] }).policies
    // A second policy for the Kubernetes issuer, with keys of its own.
    policies.push({ ...policies[0], clientId: 'deployer', jwksUri: spire.jwksUri })
    await expect(createTestGatehouse({ config: c })).rejects.toThrow(
      /workloadIdentity\.policies\.3\.issuer: policies of one issuer must name the same keys .* as policies\.0/,
    )
    // The same keys: it loads.
    policies[3] = { ...policies[0], clientId: 'deployer' }
    t = await createTestGatehouse({ config: c })
    expect((await token('reporter', await k8sToken())).status).toBe(200)
  })

  it('WI-08 configuration refuses a subject of wildcards only (*, **, *:*) unless claims pin the workload', async () => {
    const withSubject = (subject: string, claims?: Record<string, string>) => {
      const c = config()
      const policies = (c.workloadIdentity as { policies: Record<string, unknown>[] }).policies
      policies[2] = { ...policies[2], subject, ...(claims ? { claims } : {}) }
      return c
    }
    for (const subject of ['*', '**', '*:*', '**/**']) {
      await expect(createTestGatehouse({ config: withSubject(subject) })).rejects.toThrow(
        /workloadIdentity\.policies\.2\.subject: ".*" matches every subject of the issuer: .*workloadIdentity\.policies\.2\.claims/,
      )
    }
    // Pinned by a claim, or naming a workload, it loads.
    const pinned = await createTestGatehouse({
      config: withSubject('**', { namespace: 'agents' }),
    })
    await pinned.gh.close()
    const named = await createTestGatehouse({ config: withSubject('spiffe://example.org/**') })
    await named.gh.close()
  })
})
