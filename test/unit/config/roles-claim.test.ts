/**
 * `rolesClaim` of the Supabase and Clerk upstreams (and their remote-AS verifiers) never points at
 * metadata the user can write (Supabase `user_metadata`, Clerk `unsafe_metadata`): such roles
 * would be self-assigned. Refused at config load, naming where roles belong instead.
 */
import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../../src/config/schema.js'
import { clerkVerifier } from '../../../src/providers/clerk/profile.js'
import { supabaseVerifier } from '../../../src/providers/supabase/profile.js'

const base = {
  issuer: 'https://as.example',
  secret: 's'.repeat(40),
  resources: [{ url: 'https://as.example/mcp' }],
}
const supabase = {
  kind: 'supabase',
  projectUrl: 'https://abcdefgh.supabase.co',
  clientId: 'c',
  clientSecret: 'x',
}
const clerk = {
  kind: 'clerk',
  domain: 'acme-42.clerk.accounts.dev',
  clientId: 'c',
  clientSecret: 'x',
}

function problems(upstream: Record<string, unknown>): string[] {
  try {
    resolveConfig({ ...base, upstream })
    return []
  } catch (error) {
    return [...(error as { issues: string[] }).issues]
  }
}

describe('rolesClaim never reads user-writable metadata', () => {
  it('Supabase: refuses user_metadata, accepts app_metadata and a hook claim', () => {
    for (const claim of ['user_metadata', 'user_metadata.roles', 'user_metadata.a.b']) {
      const issues = problems({ ...supabase, rolesClaim: claim })
      expect(issues).toHaveLength(1)
      expect(issues[0]).toMatch(
        /^upstream\.rolesClaim: must not be in user_metadata: users can write/,
      )
      expect(issues[0]).toContain('app_metadata')
      expect(issues[0]).toContain('Custom Access Token Hook')
    }
    expect(problems({ ...supabase, rolesClaim: 'app_metadata.roles' })).toEqual([])
    expect(problems({ ...supabase, rolesClaim: 'user_role' })).toEqual([])
    expect(problems({ ...supabase, rolesClaim: 'user_metadata_x' })).toEqual([])
  })

  it('Clerk: refuses unsafe_metadata, accepts public_metadata', () => {
    for (const claim of ['unsafe_metadata', 'unsafe_metadata.role']) {
      const issues = problems({ ...clerk, rolesClaim: claim })
      expect(issues).toHaveLength(1)
      expect(issues[0]).toMatch(
        /^upstream\.rolesClaim: must not be in unsafe_metadata: users can write/,
      )
      expect(issues[0]).toContain('public_metadata')
    }
    expect(problems({ ...clerk, rolesClaim: 'public_metadata.role' })).toEqual([])
  })

  it('the remote-AS verifiers refuse the same paths at construction', () => {
    const resource = 'https://mcp.example.com/mcp'
    expect(() =>
      supabaseVerifier({
        projectUrl: supabase.projectUrl,
        resource,
        rolesClaim: 'user_metadata.roles',
      }),
    ).toThrow(/rolesClaim: must not be in user_metadata/)
    expect(() =>
      supabaseVerifier({ projectUrl: supabase.projectUrl, resource, allowedClientIds: [] }),
    ).toThrow(/allowedClientIds: name at least one client_id/)
    expect(() =>
      clerkVerifier({ domain: clerk.domain, resource, rolesClaim: 'unsafe_metadata.role' }),
    ).toThrow(/rolesClaim: must not be in unsafe_metadata/)
    expect(() =>
      supabaseVerifier({
        projectUrl: supabase.projectUrl,
        resource,
        rolesClaim: 'app_metadata.roles',
      }),
    ).not.toThrow()
  })
})
