/**
 * `upstreams` (several identity providers) in the configuration: what start-up refuses, naming the
 * option, and the defaults each entry gets (callback path and subject prefix per IdP).
 */
import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/config/schema.js'

const base = {
  issuer: 'https://as.test',
  secret: 'x'.repeat(32),
  resources: [{ url: 'https://as.test/mcp' }],
}
const oidc = (extra: Record<string, unknown> = {}) => ({
  kind: 'oidc',
  configUrl: 'https://idp.test/.well-known/openid-configuration',
  clientId: 'gatehouse',
  clientSecret: 'upstream-secret',
  ...extra,
})
const entry = (id: string, extra: Record<string, unknown> = {}, up = {}) => ({
  id,
  ...extra,
  upstream: oidc(up),
})

function problems(config: Record<string, unknown>): string {
  try {
    resolveConfig({ ...base, ...config })
  } catch (error) {
    return (error as Error).message
  }
  return 'accepted'
}

describe('upstreams configuration', () => {
  it('gives each IdP its own callback path and subject prefix', () => {
    const c = resolveConfig({
      ...base,
      upstreams: [entry('google', { label: 'Google' }), entry('corp', { subjectPrefix: 'c:' })],
    })
    expect(
      c.upstreams?.map((u) => [u.id, u.label, u.subjectPrefix, u.upstream.redirectPath]),
    ).toEqual([
      ['google', 'Google', 'google|', '/auth/callback/google'],
      ['corp', 'corp', 'c:', '/auth/callback/corp'],
    ])
    expect(c.linkAccountsByEmail).toBe(false)
    expect(c.upstream).toBeUndefined()
  })

  it('refuses upstream and upstreams together, naming upstreams', () => {
    expect(problems({ upstream: oidc(), upstreams: [entry('a')] })).toMatch(
      /upstreams: give upstream \(one identity provider\) or upstreams \(several\), not both/,
    )
  })

  it('refuses a duplicate id, naming the entry', () => {
    expect(problems({ upstreams: [entry('a'), entry('a')] })).toMatch(
      /upstreams\.1\.id: duplicate id "a"/,
    )
  })

  it('refuses two IdPs on one callback path', () => {
    expect(
      problems({
        upstreams: [
          entry('a', {}, { redirectPath: '/cb' }),
          entry('b', {}, { redirectPath: '/cb' }),
        ],
      }),
    ).toMatch(/upstreams\.1\.upstream\.redirectPath: \/cb is another identity provider's callback/)
  })

  it('refuses subject prefixes of which one starts another (subjects could collide)', () => {
    expect(
      problems({
        upstreams: [entry('a', { subjectPrefix: 'x' }), entry('b', { subjectPrefix: 'xy' })],
      }),
    ).toMatch(/upstreams\.1\.subjectPrefix: "xy" overlaps upstreams\.0\.subjectPrefix/)
    expect(problems({ upstreams: [entry('email')], linkAccountsByEmail: true })).toMatch(
      /upstreams\.0\.subjectPrefix: "email\|" overlaps "email\|"/,
    )
  })

  it('refuses linking without upstreams, a bad id, and a missing client secret', () => {
    expect(problems({ linkAccountsByEmail: true })).toMatch(/linkAccountsByEmail: needs upstreams/)
    expect(problems({ upstreams: [entry('Bad Id')] })).toMatch(/upstreams\.0\.id:/)
    expect(
      problems({ upstreams: [entry('a'), entry('b', {}, { clientSecret: undefined })] }),
    ).toMatch(/upstreams\.1\.upstream\.clientSecret: is required for client_secret_basic/)
  })

  it('reports every problem when one entry is malformed', () => {
    expect(problems({ upstreams: [entry('a'), { id: 'b', upstream: 3 }] })).toMatch(
      /upstreams\.1\.upstream/,
    )
  })
  it("refuses roles, groups and tenants that do not name their IdP (one IdP could give its users another's)", () => {
    const two = [entry('corp'), entry('partner')]
    expect(problems({ upstreams: two, admin: { enabled: true, roles: ['ops'] } })).toContain(
      'admin.roles.0: with upstreams, name the identity provider this role comes from: "corp:ops"',
    )
    // An id that is not an upstream's names no IdP; nor does an empty name after it.
    expect(problems({ upstreams: two, admin: { enabled: true, roles: ['gamma:ops'] } })).toContain(
      'admin.roles.0',
    )
    expect(problems({ upstreams: two, admin: { enabled: true, roles: ['corp:'] } })).toContain(
      'admin.roles.0',
    )
    const route = (allow: Record<string, unknown>, tools: Record<string, unknown> = {}) => ({
      gateway: {
        routes: [
          { path: '/mcp', upstream: { kind: 'http', url: 'http://127.0.0.1:1/mcp' }, allow, tools },
        ],
      },
    })
    const refused = problems({
      upstreams: two,
      ...route(
        { groups: ['staff'] },
        { deploy: { roles: ['corp:ops', 'admin'], tenants: ['t1'] } },
      ),
    })
    expect(refused).toContain('gateway.routes.0.allow.groups.0')
    expect(refused).toContain('gateway.routes.0.tools.deploy.roles.1')
    expect(refused).toContain('gateway.routes.0.tools.deploy.tenants.0')
    expect(refused).not.toContain('roles.0')
    expect(
      problems({
        upstreams: two,
        admin: { enabled: true, roles: ['corp:ops'] },
        ...route({ groups: ['partner:staff'] }, { deploy: { tenants: ['corp:t1'] } }),
      }),
    ).toBe('accepted')
    // One IdP (`upstream`): names as the IdP sends them.
    expect(problems({ upstream: oidc(), admin: { enabled: true, roles: ['ops'] } })).toBe(
      'accepted',
    )
  })
})
