/**
 * MCP SDK client -> Gatehouse (`upstream.kind: 'oci'`) -> the OCI IAM identity domain stand-in:
 * discovery at the domain URL naming the shared issuer (compared exactly), Oracle's endpoint
 * paths, the ID token's two-member audience, groups as roles, refresh with `offline_access`, and
 * a domain whose keys are not public ("Configure client access" off) refused at start-up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startOCIStandIn, type OCIStandIn } from '../../src/dev/provider-stand-ins/oci.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { createClock } from '../helpers/gatehouse.js'
import { harnessConfig, listen, startHarness, whoami } from '../helpers/provider-e2e.js'

const CLIENT = '8f2c0a9b7d6e4f3a2b1c0d9e8f7a6b5c'
const SECRET = 'idcs-client-secret'
const users = [
  {
    username: 'ines@acme.com',
    password: 'ines-pw',
    sub: 'ines@acme.com',
    groups: ['reports-reader', 'Domain_Users'],
  },
  { username: 'karl@acme.com', password: 'karl-pw', sub: 'karl@acme.com' },
]

describe('MCP SDK client -> Gatehouse (OCI IAM) -> identity domain stand-in', () => {
  let oci: OCIStandIn
  const listening: Awaited<ReturnType<typeof listen>>[] = []

  beforeAll(async () => {
    for (let i = 0; i < 3; i++) listening.push(await listen())
    oci = await startOCIStandIn({
      users,
      clients: [
        {
          clientId: CLIENT,
          clientSecret: SECRET,
          redirectUris: listening.map((l) => `${l.base}/auth/callback`),
        },
      ],
    })
  })
  afterAll(() => oci.close())

  const upstream = (extra: Record<string, unknown> = {}) => ({
    kind: 'oci',
    domainUrl: oci.domainOrigin,
    issuer: oci.issuer,
    clientId: CLIENT,
    clientSecret: SECRET,
    ...extra,
  })

  it('signs in at the domain with the shared issuer; groups become roles', async () => {
    const h = await startHarness(listening[0]!, upstream())
    try {
      const ines = await h.connect({ username: 'ines@acme.com', password: 'ines-pw' })
      const me = await whoami(ines)
      expect(me.subject).toBe('ines@acme.com')
      expect(me.upstream).toEqual({ issuer: oci.issuer, subject: 'ines@acme.com' })
      expect(me.roles).toEqual(['reports-reader', 'Domain_Users'])
      expect((await ines.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await ines.close()
      const karl = await h.connect({ username: 'karl@acme.com', password: 'karl-pw' })
      expect((await karl.callTool({ name: 'reports', arguments: {} })).isError).toBe(true)
      await karl.close()
    } finally {
      await h.close()
    }
    // Everything went to the domain URL, under Oracle's paths; nothing to the issuer's host.
    expect(oci.calls.every((c) => c.reached.startsWith(oci.domainOrigin!))).toBe(true)
    const reached = new Set(oci.calls.map((c) => new URL(c.reached).pathname))
    for (const p of [
      '/.well-known/openid-configuration',
      '/admin/v1/SigningCert/jwk',
      '/oauth2/v1/authorize',
      '/oauth2/v1/token',
    ]) {
      expect(reached.has(p)).toBe(true)
    }
    const authorize = oci.callsTo('/auth').at(-1)!.params
    expect(authorize.scope).toBe('openid profile email offline_access')
    expect(authorize.scope).not.toContain('urn:opc:idm:__myscopes__')
    expect(oci.callsTo('/token').at(-1)!.clientAuth).toBe('basic')
  })

  it('refreshes with the refresh token offline_access gave', async () => {
    const clock = createClock()
    const h = await startHarness(listening[1]!, upstream(), { now: clock.now })
    try {
      const { client, token } = await h.signIn({ username: 'ines@acme.com', password: 'ines-pw' })
      const verified = (await h.gatehouse.verifier.verifyToken(token))!
      const proxy = h.gatehouse.base
      if (!(proxy instanceof OAuthProxy)) throw new Error('expected the proxy')
      const before = await proxy.getUpstreamToken(verified)
      const calls = oci.callsTo('/token').length
      clock.advance(3600)
      const after = await proxy.getUpstreamToken(verified)
      expect(after).not.toBe(before)
      const refresh = oci.callsTo('/token').slice(calls)
      expect(refresh.map((c) => c.params.grant_type)).toEqual(['refresh_token'])
      await client.close()
    } finally {
      await h.close()
    }
  })

  it('fails at start-up naming the issuer option when the domain names another issuer', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(
        listening[2]!.base,
        upstream({ issuer: 'https://identity.oraclecloud.com/' }),
      ),
      store: createMemoryStore(),
    })
    await expect(attempt).rejects.toThrow(
      new RegExp(
        `the issuer is ${oci.issuer}, not https://identity.oraclecloud.com/ .*upstream\\.issuer`,
      ),
    )
  })

  it('fails at start-up naming "Configure client access" when the keys are not public', async () => {
    const closed = await startOCIStandIn({
      users,
      clients: [
        {
          clientId: CLIENT,
          clientSecret: SECRET,
          redirectUris: [`${listening[2]!.base}/auth/callback`],
        },
      ],
      clientAccess: false,
    })
    try {
      const attempt = createGatehouse({
        config: harnessConfig(listening[2]!.base, {
          ...upstream(),
          domainUrl: closed.domainOrigin,
          issuer: closed.issuer,
        }),
        store: createMemoryStore(),
      })
      await expect(attempt).rejects.toThrow(/status 401.*Configure client access/)
    } finally {
      await closed.close()
    }
  })
})
