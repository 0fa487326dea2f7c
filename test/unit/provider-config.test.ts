/**
 * Misconfigured GitHub and Google upstreams fail at start-up (`resolveConfig`, as `createGatehouse`,
 * `gatehouse serve` and `gatehouse check-config` call it) with a message that names the option and
 * the provider setting to check.
 */
import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/config/schema.js'
import { ConfigError } from '../../src/errors.js'

function issues(upstream: Record<string, unknown>): readonly string[] {
  try {
    resolveConfig({
      issuer: 'https://mcp.example.com',
      secret: 's'.repeat(32),
      resources: [{ url: 'https://mcp.example.com/mcp' }],
      upstream: { clientId: 'id', clientSecret: 'secret', ...upstream },
    })
  } catch (error) {
    if (error instanceof ConfigError) return error.issues
    throw error
  }
  return []
}

describe('GitHub upstream configuration', () => {
  it('accepts organization and team rules written as GitHub names them', () => {
    expect(
      issues({
        kind: 'github',
        allowedOrganizations: ['acme', 'Acme-Labs'],
        allowedTeams: ['acme/platform-admins'],
        teamRoles: { 'acme/platform-admins': ['admin'] },
      }),
    ).toEqual([])
  })

  it('a team rule naming no organization names the option and where GitHub shows it', () => {
    const found = issues({ kind: 'github', allowedTeams: ['admins', '/devs'] })
    expect(found).toHaveLength(2)
    expect(found[0]).toMatch(/^upstream\.allowedTeams\.0: "admins" names no organization/)
    expect(found[0]).toContain('github.com/orgs/{org}/teams/{team-slug}')
    expect(found[1]).toMatch(/^upstream\.allowedTeams\.1: .*names no organization/)
  })

  it('an organization rule naming no organization fails', () => {
    expect(issues({ kind: 'github', allowedOrganizations: [] })[0]).toMatch(
      /^upstream\.allowedOrganizations: names no organization.*github\.com\/\{org\}/,
    )
    expect(issues({ kind: 'github', allowedOrganizations: [' '] })[0]).toMatch(
      /^upstream\.allowedOrganizations\.0: names no organization/,
    )
    expect(
      issues({ kind: 'github', allowedOrganizations: ['https://github.com/acme'] })[0],
    ).toMatch(/is not an organization login/)
    expect(issues({ kind: 'github', teamRoles: { admins: ['admin'] } })[0]).toMatch(
      /^upstream\.teamRoles\.admins: "admins" names no organization/,
    )
  })

  it('scopes that hide membership, or scopes on a GitHub App, fail', () => {
    expect(
      issues({ kind: 'github', allowedOrganizations: ['acme'], scopes: ['read:user'] })[0],
    ).toMatch(/^upstream\.scopes: must include read:org/)
    expect(issues({ kind: 'github', appType: 'github-app', scopes: ['repo'] })[0]).toMatch(
      /^upstream\.scopes: a GitHub App takes no scopes.*Permissions/,
    )
  })

  it('needs the client secret and https endpoints', () => {
    expect(issues({ kind: 'github', clientSecret: undefined })[0]).toMatch(
      /^upstream\.clientSecret: is required/,
    )
    expect(issues({ kind: 'github', serverUrl: 'http://github.example.com' })[0]).toMatch(
      /^upstream\.serverUrl: must be https/,
    )
  })
})

describe('Google upstream configuration', () => {
  it('accepts Workspace domains, lower-cased', () => {
    const config = resolveConfig({
      issuer: 'https://mcp.example.com',
      secret: 's'.repeat(32),
      resources: [{ url: 'https://mcp.example.com/mcp' }],
      upstream: {
        kind: 'google',
        clientId: 'id',
        clientSecret: 'x',
        hostedDomains: ['Example.COM'],
      },
    })
    expect(config.upstream).toMatchObject({ hostedDomains: ['example.com'], offlineAccess: true })
  })

  it('an hd that is not a domain names the option and the Admin console setting', () => {
    for (const bad of ['https://example.com', 'example', '*', '@example.com']) {
      const found = issues({ kind: 'google', hostedDomains: [bad] })
      expect(found).toHaveLength(1)
      expect(found[0]).toMatch(/^upstream\.hostedDomains\.0: ".*" is not a domain/)
      expect(found[0]).toContain('Admin console → Account → Domains')
    }
    expect(issues({ kind: 'google', hostedDomains: [] })[0]).toMatch(
      /^upstream\.hostedDomains: names no domain/,
    )
  })

  it('offline_access, or scopes without openid or email, fail with the reason', () => {
    const found = issues({ kind: 'google', scopes: ['openid', 'email', 'offline_access'] })
    expect(found[0]).toMatch(/^upstream\.scopes: Google refuses offline_access.*offlineAccess/)
    expect(issues({ kind: 'google', scopes: ['email'] })[0]).toMatch(/must include openid/)
    expect(issues({ kind: 'google', scopes: ['openid'] })[0]).toMatch(/must include email/)
    expect(issues({ kind: 'google', scopes: ['openid'], requireVerifiedEmail: false })).toEqual([])
  })
})

describe('Auth0 upstream configuration', () => {
  it('a missing audience names the option and the API setting', () => {
    const found = issues({ kind: 'auth0', domain: 'acme.us.auth0.com' })
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(
      /^upstream\.audience: is required.*APIs → your API → Settings → Identifier/,
    )
  })

  it('a domain given as a URL names the option and where Auth0 shows the domain', () => {
    const found = issues({
      kind: 'auth0',
      domain: 'https://acme.us.auth0.com/',
      audience: 'https://api.example.com',
    })
    expect(found[0]).toMatch(/^upstream\.domain: ".*" is not a domain: give the domain only/)
    expect(found[0]).toContain('Settings → Domain')
  })
})

describe('Discord, Hugging Face and OCI upstream configuration', () => {
  it('accepts each as documented', () => {
    expect(
      issues({
        kind: 'discord',
        allowedGuilds: ['81384788765712384'],
        guildRoles: { '81384788765712384': ['reader'] },
      }),
    ).toEqual([])
    expect(
      issues({ kind: 'huggingface', organizationRoles: { 'acme-research': ['reader'] } }),
    ).toEqual([])
    expect(
      issues({ kind: 'oci', domainUrl: 'https://idcs-0123456789abcdef.identity.oraclecloud.com' }),
    ).toEqual([])
  })

  it('Discord: guild names instead of ids, and an empty list, name the option and where to copy the id', () => {
    const found = issues({ kind: 'discord', allowedGuilds: [], guildRoles: { Gaming: ['x'] } })
    expect(found[0]).toMatch(/^upstream\.allowedGuilds: names no guild.*Copy Server ID/)
    expect(found[1]).toMatch(/^upstream\.guildRoles\.Gaming: the key is not a guild/)
  })

  it('Hugging Face: an organization that is not a name, and http off loopback, fail', () => {
    const found = issues({
      kind: 'huggingface',
      url: 'http://hf.example.com',
      allowedOrganizations: ['huggingface.co/acme'],
    })
    expect(found).toContain('upstream.url: must be https (http is allowed on loopback only)')
    expect(
      found.some((f) => f.startsWith('upstream.allowedOrganizations.0: is not an organization')),
    ).toBe(true)
  })

  it('OCI: a domain URL with a path (the console or discovery URL pasted) names the option', () => {
    const found = issues({
      kind: 'oci',
      domainUrl: 'https://idcs-0123.identity.oraclecloud.com/.well-known/openid-configuration',
    })
    expect(found[0]).toMatch(/^upstream\.domainUrl: is the domain URL only.*Domain URL/)
  })
})
