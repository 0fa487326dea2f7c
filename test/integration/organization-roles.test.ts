/**
 * Roles an identity provider scopes to an organization (PropelAuth) or tenant (Descope) never
 * become plain Gatehouse roles unless the operator pinned that organization: anyone can create an
 * organization of their own and be its Owner or Admin there. Unpinned, each is `<org id>:<role>`;
 * pinned (`orgId`, `tenant`), that one organization's roles are plain and no other's count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import {
  startDescopeStandIn,
  type DescopeStandIn,
} from '../../src/dev/provider-stand-ins/descope.js'
import {
  startPropelAuthStandIn,
  type PropelAuthStandIn,
} from '../../src/dev/provider-stand-ins/propelauth.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { signInThrough } from '../helpers/provider-sign-in.js'

const GH = 'http://127.0.0.1:7812'
const MALLORY = { username: 'mallory', password: 'm-pw' }

async function gatehouse(upstream: Record<string, unknown>): Promise<Gatehouse> {
  return createGatehouse({
    config: { issuer: GH, secret: 'g'.repeat(32), resources: [{ url: `${GH}/mcp` }], upstream },
    store: createMemoryStore(),
    signatureVerifier: nodeSignatureVerifier,
  })
}

async function rolesOf(upstream: Record<string, unknown>): Promise<string[]> {
  const gh = await gatehouse(upstream)
  try {
    const result = await signInThrough(gh, GH, MALLORY)
    if (result.token === undefined) throw new Error('the sign-in gave no token')
    return [...(result.token.roles ?? [])].sort()
  } finally {
    await gh.close()
  }
}

describe('PropelAuth organization roles', () => {
  let pa: PropelAuthStandIn
  let upstream: Record<string, unknown>
  beforeAll(async () => {
    pa = await startPropelAuthStandIn({
      introspectionClient: { clientId: 'i', clientSecret: 'i' },
      clients: [
        { clientId: 'pa-client', clientSecret: 'pa-secret', redirectUris: [`${GH}/auth/callback`] },
      ],
      users: [
        {
          username: 'mallory',
          password: 'm-pw',
          sub: 'u-mallory',
          email: 'mallory@example.com',
          orgs: {
            'org-acme': { name: 'Acme (the operator)', role: 'Member' },
            'org-mallory': { name: "Mallory's own org", role: 'Owner' },
          },
        },
      ],
    })
    upstream = {
      kind: 'propelauth',
      authUrl: pa.origin,
      clientId: 'pa-client',
      clientSecret: 'pa-secret',
    }
  })
  afterAll(() => pa.close())

  it('without orgId, gives the owner of their own organization no plain Owner or Admin', async () => {
    const roles = await rolesOf(upstream)
    expect(roles).not.toContain('Admin')
    expect(roles).not.toContain('Owner')
    expect(roles).toContain('org-mallory:Owner')
    expect(roles).toContain('org-acme:Member')
  })

  it('with orgId, gives that organization’s roles plain and no other’s', async () => {
    const roles = await rolesOf({ ...upstream, orgId: 'org-acme' })
    expect(roles).toEqual(['Member'])
  })
})

describe('Descope tenant roles', () => {
  let ds: DescopeStandIn
  let upstream: Record<string, unknown>
  beforeAll(async () => {
    ds = await startDescopeStandIn({
      projectId: 'P2Scratch0001',
      clients: [
        { clientId: 'ds-client', clientSecret: 'ds-secret', redirectUris: [`${GH}/auth/callback`] },
      ],
      users: [
        {
          username: 'mallory',
          password: 'm-pw',
          sub: 'U2mallory',
          roles: ['viewer'],
          tenants: { T2acme: ['member'], T2mallory: ['Tenant Admin', 'admin'] },
        },
      ],
    })
    upstream = {
      kind: 'descope',
      projectId: 'P2Scratch0001',
      baseUrl: ds.origin,
      clientId: 'ds-client',
      clientSecret: 'ds-secret',
    }
  })
  afterAll(() => ds.close())

  it('without tenant, a Tenant Admin’s own tenant roles are qualified; project roles stay plain', async () => {
    const roles = await rolesOf(upstream)
    expect(roles).not.toContain('admin')
    expect(roles).toEqual(['T2acme:member', 'T2mallory:Tenant Admin', 'T2mallory:admin', 'viewer'])
  })

  it('with tenant, that tenant’s roles are plain and no other’s count', async () => {
    const roles = await rolesOf({ ...upstream, tenant: 'T2acme' })
    expect(roles).toEqual(['member', 'viewer'])
  })
})
