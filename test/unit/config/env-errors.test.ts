import { describe, expect, it } from 'vitest'
import { resolveConfigWithEnv } from '../../../src/config/env.js'
import { ConfigError } from '../../../src/errors.js'

const file = {
  issuer: 'https://gw.example',
  resources: [{ url: 'https://gw.example/mcp' }],
  secret: 's'.repeat(40),
}

function issuesOf(base: Record<string, unknown>, env: Record<string, string>): readonly string[] {
  try {
    resolveConfigWithEnv(base, env)
  } catch (error) {
    if (error instanceof ConfigError) return error.issues
    throw error
  }
  throw new Error('the configuration was accepted')
}

describe('GATEHOUSE_* variables in configuration errors', () => {
  it('a bad value names the variable that set it, never its value', () => {
    const issues = issuesOf(file, {
      GATEHOUSE_UPSTREAM__KIND: 'oidc',
      GATEHOUSE_UPSTREAM__CONFIG_URL: 'idp.example/.well-known/openid-configuration',
      GATEHOUSE_UPSTREAM__CLIENT_ID: '',
      GATEHOUSE_UPSTREAM__CLIENT_SECRET: 'top-secret-value',
      GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS: '5',
    })
    expect(issues).toContain(
      'GATEHOUSE_UPSTREAM__CONFIG_URL (upstream.configUrl): must be an absolute URL (https://…)',
    )
    expect(
      issues.some((i) => i.startsWith('GATEHOUSE_UPSTREAM__CLIENT_ID (upstream.clientId): ')),
    ).toBe(true)
    expect(
      issues.some((i) =>
        i.startsWith('GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS (accessTokenTtlSeconds): '),
      ),
    ).toBe(true)
    expect(issues.join('\n')).not.toContain('top-secret-value')
  })

  it('a problem inside a JSON value names the field and the variable', () => {
    const issues = issuesOf(file, {
      GATEHOUSE_RESOURCES: '[{"url":"https://gw.example/mcp"},{"url":"x"}]',
    })
    expect(issues).toEqual([
      'resources.1.url: must be an absolute URL (https://…) (in GATEHOUSE_RESOURCES)',
    ])
  })

  it('a variable that maps to no setting says so, with the __ nesting it probably meant', () => {
    const issues = issuesOf(file, { GATEHOUSE_UPSTREAM_CLIENT_ID: 'abc' })
    expect(issues).toEqual([
      'GATEHOUSE_UPSTREAM_CLIENT_ID: sets upstreamClientId, which is not a setting; did you mean GATEHOUSE_UPSTREAM__CLIENT_ID (levels are separated by a double underscore)?',
    ])
  })

  it('an unknown variable deeper down gets the nesting hint too', () => {
    const issues = issuesOf(
      { ...file, registration: {} },
      { GATEHOUSE_REGISTRATION__MAX_REDIRECT_URIZ: '3' },
    )
    expect(issues).toHaveLength(1)
    expect(issues[0]).toMatch(
      /^GATEHOUSE_REGISTRATION__MAX_REDIRECT_URIZ: sets registration\.maxRedirectUriz, which is not a setting; .*double underscore/,
    )
  })

  it('indexed variables set list elements, merging into the file', () => {
    const config = resolveConfigWithEnv(file, {
      GATEHOUSE_RESOURCES__0__SCOPES: '["mcp:read"]',
      GATEHOUSE_RESOURCES__1__URL: 'https://gw.example/other',
      GATEHOUSE_RESOURCES__1__NAME: 'Other',
    })
    expect(config.resources.map((r) => [r.url, r.scopes, r.name])).toEqual([
      ['https://gw.example/mcp', ['mcp:read'], undefined],
      ['https://gw.example/other', [], 'Other'],
    ])
  })

  it('indexed variables build a list from nothing, after a JSON value of the same list', () => {
    const config = resolveConfigWithEnv(
      { issuer: file.issuer, secret: file.secret },
      {
        GATEHOUSE_RESOURCES__0__NAME: 'Named',
        GATEHOUSE_RESOURCES: '[{"url":"https://gw.example/mcp"}]',
      },
    )
    expect(config.resources[0]).toMatchObject({ url: 'https://gw.example/mcp', name: 'Named' })
  })

  it('a gap in the indices names the variable and the missing element', () => {
    const issues = issuesOf(file, { GATEHOUSE_RESOURCES__2__URL: 'https://gw.example/x' })
    expect(issues).toEqual([
      'GATEHOUSE_RESOURCES__2__URL: resources has no element 1; indices start at 0 with no gaps',
    ])
  })

  it('an absurd index or a named field of a list is refused', () => {
    expect(issuesOf(file, { GATEHOUSE_RESOURCES__100000__URL: 'https://gw.example/x' })).toEqual([
      'GATEHOUSE_RESOURCES__100000__URL: index 100000 is too large (at most 999)',
    ])
    expect(issuesOf(file, { GATEHOUSE_RESOURCES__LENGTH: '5' })).toEqual([
      'GATEHOUSE_RESOURCES__LENGTH: resources is a list; give an index (GATEHOUSE_RESOURCES__0__…) or a JSON value',
    ])
  })

  it('a string setting whose value looks like a number stays a string', () => {
    const config = resolveConfigWithEnv(file, {
      GATEHOUSE_UPSTREAM__KIND: 'oidc',
      GATEHOUSE_UPSTREAM__CONFIG_URL: 'https://idp.example/.well-known/openid-configuration',
      GATEHOUSE_UPSTREAM__CLIENT_ID: '1234567890',
      GATEHOUSE_UPSTREAM__CLIENT_SECRET: '0042',
    })
    expect(config.upstream).toMatchObject({ clientId: '1234567890', clientSecret: '0042' })
  })

  it('a problem with what the file wrote is not put on a variable; an unknown key gets the near one', () => {
    const issues = issuesOf(
      { ...file, secret: undefined, gateways: {}, registration: { maxRedirectUri: 3 } },
      { GATEHOUSE_SECRET: 's'.repeat(40), GATEHOUSE_REGISTRATION__ENABLED: 'true' },
    )
    expect(issues).toEqual([
      'registration: Unrecognized key: "maxRedirectUri" (did you mean "maxRedirectUris"?)',
      '(root): Unrecognized key: "gateways" (did you mean "gateway"?)',
    ])
  })
})
