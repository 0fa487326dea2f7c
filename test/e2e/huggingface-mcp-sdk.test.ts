/**
 * MCP SDK client -> Gatehouse (`upstream.kind: 'huggingface'`) -> the Hugging Face stand-in:
 * strict discovery at the issuer without a trailing slash, `openid profile email` (no
 * `offline_access`), the user from the verified ID token, organizations from userinfo (whose `sub`
 * must be the ID token's) as roles and as a sign-in rule: mapped by `organizationRoles`, else each
 * organization as the role `org:<name>` (never a bare name that could be an operator's role).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  startHuggingFaceStandIn,
  type HuggingFaceStandIn,
} from '../../src/dev/provider-stand-ins/huggingface.js'
import { createGatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { harnessConfig, listen, startHarness, whoami } from '../helpers/provider-e2e.js'
import { signInThrough } from '../helpers/provider-sign-in.js'

const CLIENT = '5c3a9e0f-hf-gatehouse'
const SECRET = 'hf-client-secret'

describe('MCP SDK client -> Gatehouse (Hugging Face) -> Hugging Face stand-in', () => {
  let hf: HuggingFaceStandIn
  const listening: Awaited<ReturnType<typeof listen>>[] = []

  beforeAll(async () => {
    for (let i = 0; i < 4; i++) listening.push(await listen())
    hf = await startHuggingFaceStandIn({
      clients: [
        {
          clientId: CLIENT,
          clientSecret: SECRET,
          redirectUris: listening.map((l) => `${l.base}/auth/callback`),
        },
      ],
      users: [
        {
          username: 'julien',
          password: 'julien-pw',
          sub: '5f0b3a1c2d4e6f7a8b9c0d1e',
          email: 'julien@example.com',
          orgs: [{ name: 'acme-research', roleInOrg: 'read' }, { name: 'open-models' }],
        },
        { username: 'lone', password: 'lone-pw', sub: '5f0b3a1c2d4e6f7a8b9c0d1f' },
      ],
    })
  })
  afterAll(() => hf.close())

  const upstream = (extra: Record<string, unknown> = {}) => ({
    kind: 'huggingface',
    url: hf.origin,
    clientId: CLIENT,
    clientSecret: SECRET,
    organizationRoles: { 'acme-research': ['reports-reader'] },
    ...extra,
  })

  it('signs in with the ID token; organizations from userinfo become roles', async () => {
    const h = await startHarness(listening[0]!, upstream())
    try {
      const julien = await h.connect({ username: 'julien', password: 'julien-pw' })
      const me = await whoami(julien)
      expect(me.subject).toBe('5f0b3a1c2d4e6f7a8b9c0d1e')
      expect(me.upstream).toEqual({ issuer: hf.origin, subject: '5f0b3a1c2d4e6f7a8b9c0d1e' })
      expect(me.roles).toEqual(['reports-reader'])
      expect((await julien.callTool({ name: 'reports', arguments: {} })).isError).not.toBe(true)
      await julien.close()
    } finally {
      await h.close()
    }
    const authorize = hf.callsTo('/auth').at(-1)!.params
    expect(authorize.scope).toBe('openid profile email')
    expect(authorize.resource).toBeUndefined()
    expect(hf.callsTo('/token').at(-1)!.clientAuth).toBe('basic')
    // The organizations were read from userinfo, with the access token.
    expect(hf.callsTo('/me').length).toBeGreaterThan(0)
  })

  it('without organizationRoles each organization is the role org:<name>; allowedOrganizations refuses outsiders', async () => {
    const h = await startHarness(
      listening[1]!,
      upstream({ organizationRoles: undefined, allowedOrganizations: ['Open-Models'] }),
    )
    try {
      const julien = await h.connect({ username: 'julien', password: 'julien-pw' })
      expect((await whoami(julien)).roles).toEqual(['org:acme-research', 'org:open-models'])
      await julien.close()
      await expect(h.connect({ username: 'lone', password: 'lone-pw' })).rejects.toThrow(
        /access_denied/,
      )
    } finally {
      await h.close()
    }
  })

  it('refuses a userinfo answer about another user (OIDC Core 5.3.2)', async () => {
    const otherSub: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      const url = String(input instanceof Request ? input.url : input)
      if (!url.endsWith('/me')) return response
      const body = (await response.json()) as Record<string, unknown>
      return Response.json({ ...body, sub: 'someone-else' })
    }
    const reasons: (string | undefined)[] = []
    const attempt = await createGatehouse({
      config: harnessConfig(listening[2]!.base, upstream()),
      store: createMemoryStore(),
      fetch: otherSub,
      onError: (e) => reasons.push(e.reason),
    })
    listening[2]!.serve((r) => attempt.fetch(r))
    try {
      const result = await signInThrough(attempt, listening[2]!.base, {
        username: 'julien',
        password: 'julien-pw',
      })
      expect(result.back.searchParams.get('error')).toBe('access_denied')
      expect(reasons).toContain('upstream_userinfo_sub')
    } finally {
      await attempt.close()
    }
  })

  it('fails at start-up when the discovery issuer is not exactly the configured one', async () => {
    const attempt = createGatehouse({
      config: harnessConfig(listening[3]!.base, upstream({ url: `${hf.origin}/` })),
      store: createMemoryStore(),
      fetch: async (input, init) => {
        const response = await fetch(input, init)
        const doc = (await response.json()) as Record<string, unknown>
        return Response.json({ ...doc, issuer: `${hf.origin}/` })
      },
    })
    await expect(attempt).rejects.toThrow(/does not match the discovery URL/)
  })
})
