/**
 * The public pure parts of the Azure provider: the scope rules (`AzureScopeRules`) and the
 * authorities of the Microsoft clouds (`AzureJWTVerifier.authority`).
 */
import { describe, expect, it } from 'vitest'
import { AzureJWTVerifier, AzureScopeRules } from '../../../src/index.js'

const rules = new AzureScopeRules({
  identifierUri: 'api://app/',
  requiredScopes: ['read', 'openid', 'read'],
  additionalAuthorizeScopes: ['User.Read'],
})

describe('AzureScopeRules', () => {
  it('normalises the identifier URI and de-duplicates the configured scopes', () => {
    expect(rules.identifierUri).toBe('api://app')
    expect(rules.requiredScopes).toEqual(['read', 'openid'])
    expect(rules.validationScopes).toEqual(['read'])
    expect(rules.validationOff).toBe(false)
  })

  it('maps each kind of scope to Entra’s form and back', () => {
    expect(rules.toEntra('read')).toBe('api://app/read')
    expect(rules.toEntra('my.scope')).toBe('api://app/my.scope')
    expect(rules.toEntra('offline_access')).toBe('offline_access')
    expect(rules.toEntra('https://graph.microsoft.com/User.Read')).toBe(
      'https://graph.microsoft.com/User.Read',
    )
    expect(rules.toEntra('api://other/x')).toBe('api://other/x')
    expect(rules.fromEntra('api://app/read')).toBe('read')
    expect(rules.fromEntra('api://app/')).toBe('api://app/')
    expect(rules.fromEntra('api://other/x')).toBe('api://other/x')
    expect(rules.translateEchoed('api://app/read  openid api://app/read')).toBe('read openid')
  })

  it('keeps other resources out of token requests', () => {
    expect(rules.tokenScopes(['read', 'https://graph.microsoft.com/Mail.Read'])).toEqual([
      'api://app/read',
      'openid',
      'offline_access',
    ])
  })
})

describe('Azure authorities', () => {
  const at = (cloud: 'public' | 'usgov' | 'china') =>
    new AzureJWTVerifier({ clientId: 'c', tenantId: 'organizations', cloud }).authority
  it('uses the sign-in host of each cloud', () => {
    expect(at('public').authorizationEndpoint).toBe(
      'https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize',
    )
    expect(at('usgov').tokenEndpoint).toBe(
      'https://login.microsoftonline.us/organizations/oauth2/v2.0/token',
    )
    expect(at('china').jwksUri).toBe(
      'https://login.chinacloudapi.cn/organizations/discovery/v2.0/keys',
    )
    expect(at('china').v1IssuerBase).toBe('https://sts.chinacloudapi.cn')
  })

  it('uses a B2C custom domain as the authority', () => {
    const b2c = new AzureJWTVerifier({
      clientId: 'c',
      b2c: {
        tenantName: 'contoso',
        policyName: 'B2C_1_signin',
        customDomain: 'https://login.contoso.com/',
      },
    }).authority
    expect(b2c.authorizationEndpoint).toBe(
      'https://login.contoso.com/contoso.onmicrosoft.com/B2C_1_signin/oauth2/v2.0/authorize',
    )
    expect(b2c.b2cTokenIssuer).toBeUndefined()
  })

  it('refuses a tenant it cannot check the issuer of', () => {
    expect(() => new AzureJWTVerifier({ clientId: 'c', tenantId: 'contoso.com' })).toThrow(
      TypeError,
    )
  })
})
