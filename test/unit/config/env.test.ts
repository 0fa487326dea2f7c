import { describe, expect, it } from 'vitest'
import { configFromEnv, mergeConfig } from '../../../src/config/env.js'
import { resolveConfig } from '../../../src/config/schema.js'

describe('GATEHOUSE_* environment variables', () => {
  it('map onto nested camelCase fields with JSON values', () => {
    const env = {
      GATEHOUSE_ISSUER: 'https://gw.example',
      GATEHOUSE_SECRET: 's'.repeat(40),
      GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS: '900',
      GATEHOUSE_RESOURCES: '[{"url":"https://gw.example/mcp","scopes":["mcp:read"]}]',
      GATEHOUSE_UPSTREAM__KIND: 'oidc',
      GATEHOUSE_UPSTREAM__CONFIG_URL: 'https://idp.example/.well-known/openid-configuration',
      GATEHOUSE_UPSTREAM__CLIENT_ID: 'abc',
      GATEHOUSE_UPSTREAM__CLIENT_SECRET: 'xyz',
      GATEHOUSE_UPSTREAM__STRICT: 'false',
      GATEHOUSE_DEV_USER: 'not-config',
      OTHER: 'ignored',
    }
    const config = resolveConfig(configFromEnv(env))
    expect(config.issuer).toBe('https://gw.example')
    expect(config.accessTokenTtlSeconds).toBe(900)
    expect(config.resources[0]?.scopes).toEqual(['mcp:read'])
    expect(config.upstream).toMatchObject({
      kind: 'oidc',
      clientId: 'abc',
      clientSecret: 'xyz',
      strict: false,
    })
  })

  it('override the file, field by field', () => {
    const file = {
      issuer: 'https://file.example',
      upstream: { kind: 'oidc', clientId: 'file-id', clientSecret: 'file' },
    }
    const merged = mergeConfig(
      file,
      configFromEnv({ GATEHOUSE_UPSTREAM__CLIENT_SECRET: 'from-env' }),
    )
    expect(merged).toEqual({
      issuer: 'https://file.example',
      upstream: { kind: 'oidc', clientId: 'file-id', clientSecret: 'from-env' },
    })
  })

  it('ignore prototype-polluting paths', () => {
    const config = configFromEnv({
      GATEHOUSE___PROTO____X: '1',
      GATEHOUSE_CONSTRUCTOR__PROTOTYPE: '1',
    })
    expect(({} as Record<string, unknown>).x).toBeUndefined()
    expect(Object.keys(config)).toEqual([])
  })

  it('a bad value fails at start-up naming the field, never echoing a secret', () => {
    expect(() =>
      resolveConfig(configFromEnv({ GATEHOUSE_ISSUER: 'nope', GATEHOUSE_SECRET: 'short-secret' })),
    ).toThrow(/issuer[\s\S]*secret: must be at least 32/)
    try {
      resolveConfig(configFromEnv({ GATEHOUSE_SECRET: 'short-secret' }))
    } catch (e) {
      expect(String(e)).not.toContain('short-secret')
    }
  })
})
