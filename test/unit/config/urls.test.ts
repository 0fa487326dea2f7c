import { describe, expect, it } from 'vitest'
import { resolveConfig, resolveRemoteAuthConfig } from '../../../src/config/schema.js'
import { ConfigError } from '../../../src/errors.js'
import { createGatehouse } from '../../../src/gatehouse.js'
import { createMemoryStore } from '../../../src/storage/memory.js'

const secret = 's'.repeat(40)

/** The issues of a configuration that must fail, or the error itself when it is not a ConfigError. */
function issuesOf(input: unknown): readonly string[] {
  try {
    resolveConfig(input)
  } catch (error) {
    if (error instanceof ConfigError) return error.issues
    throw error
  }
  throw new Error('the configuration was accepted')
}

describe('URLs in configuration that do not parse', () => {
  it('an issuer that is not a URL is a ConfigError entry, with the other problems still listed', () => {
    const issues = issuesOf({
      issuer: 'not a url',
      resources: [{ url: 'https://a/mcp' }],
      secret: 'short',
    })
    expect(issues.find((i) => i.startsWith('issuer:'))).toMatch(/issuer: must be an absolute URL/)
    expect(issues.some((i) => i.startsWith('secret: must be at least 32'))).toBe(true)
  })

  it('a resource URL that is not a URL names resources.N.url, and the issuer rules still run', () => {
    const issues = issuesOf({
      issuer: 'http://gw.example',
      resources: [{ url: 'https://gw.example/mcp' }, { url: 'nope' }],
      secret,
    })
    expect(issues).toContain('resources.1.url: must be an absolute URL (https://…)')
    expect(issues).toContain('issuer: must be https (http is allowed on loopback only)')
  })

  it('every URL field reports its own path in one error', () => {
    const issues = issuesOf({
      issuer: '::',
      resources: [{ url: 'https//gw.example/mcp', allowedOrigins: ['origin'] }],
      secret,
      introspectionClients: [{ clientId: 'rs', resources: ['x'] }],
      clients: [{ clientId: 'c', tokenEndpointAuthMethod: 'none', redirectUris: ['cb'] }],
      upstream: {
        kind: 'azure',
        tenantId: 'common',
        authority: 'login',
        clientId: 'a',
        clientSecret: 'b',
      },
    })
    for (const path of [
      'issuer',
      'resources.0.url',
      'resources.0.allowedOrigins.0',
      'introspectionClients.0.resources.0',
      'clients.0.redirectUris.0',
      'upstream.authority',
    ]) {
      expect(
        issues.some((i) => i.startsWith(`${path}: `)),
        path,
      ).toBe(true)
    }
  })

  it('upstream URLs of the oidc and oauth kinds name their paths', () => {
    expect(
      issuesOf({
        issuer: 'https://gw.example',
        resources: [{ url: 'https://gw.example/mcp' }],
        secret,
        upstream: { kind: 'oidc', configUrl: 'idp.example', clientId: 'a', clientSecret: 'b' },
      }),
    ).toEqual(['upstream.configUrl: must be an absolute URL (https://…)'])
    const oauth = issuesOf({
      issuer: 'https://gw.example',
      resources: [{ url: 'https://gw.example/mcp' }],
      secret,
      upstream: {
        kind: 'oauth',
        issuer: 'i',
        authorizationEndpoint: 'a',
        tokenEndpoint: 't',
        jwksUri: 'j',
        clientId: 'a',
        clientSecret: 'b',
      },
    })
    expect(oauth.map((i) => i.split(':')[0])).toEqual([
      'upstream.issuer',
      'upstream.authorizationEndpoint',
      'upstream.tokenEndpoint',
      'upstream.jwksUri',
    ])
  })

  it('identity-assertion issuers and remote authorization servers name their paths', () => {
    expect(
      issuesOf({
        issuer: 'https://gw.example',
        resources: [{ url: 'https://gw.example/mcp' }],
        secret,
        identityAssertion: { trustedIssuers: [{ issuer: 'idp', jwksUri: 'keys' }] },
      }),
    ).toEqual([
      'identityAssertion.trustedIssuers.0.issuer: must be an absolute URL (https://…)',
      'identityAssertion.trustedIssuers.0.jwksUri: must be an absolute URL (https://…)',
    ])
    expect(() =>
      resolveRemoteAuthConfig({ resources: [{ url: 'x' }], authorizationServers: ['y'] }),
    ).toThrow(ConfigError)
  })

  it('createGatehouse rejects a bad issuer with a ConfigError, not a TypeError', async () => {
    await expect(
      createGatehouse({
        config: { issuer: 'gw.example', resources: [{ url: 'https://gw.example/mcp' }], secret },
        store: createMemoryStore(),
      }),
    ).rejects.toThrow(ConfigError)
  })
})
