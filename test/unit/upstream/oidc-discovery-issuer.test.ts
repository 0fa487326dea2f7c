/**
 * Strict OpenID Connect discovery checks the document's issuer against the one the discovery URL
 * implies, also when the URL carries a query (Entra's `?appid=…`) or a `/` after the well-known
 * path, and refuses a URL that implies no issuer instead of checking nothing.
 */
import { describe, expect, it } from 'vitest'
import { parseDiscovery } from '../../../src/upstream/oidc-discovery.js'

const ISSUER = 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0'
const FOREIGN = 'https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000ff/v2.0'

function documentOf(issuer: string): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/keys`,
    response_types_supported: ['code'],
    id_token_signing_alg_values_supported: ['RS256'],
  }
}

const withQuery = `${ISSUER}/.well-known/openid-configuration?appid=11111111-2222-3333-4444-555555555555`
const withSlash = `${ISSUER}/.well-known/openid-configuration/`

describe('strict discovery: the issuer the URL implies', () => {
  it.each([
    ['a query', withQuery],
    ['a trailing slash', withSlash],
  ])('refuses a foreign issuer when the discovery URL has %s', (_, url) => {
    expect(() => parseDiscovery(url, documentOf(FOREIGN), true)).toThrow(/does not match/)
  })

  it.each([
    ['a query', withQuery],
    ['a trailing slash', withSlash],
  ])('accepts the matching issuer when the discovery URL has %s', (_, url) => {
    expect(parseDiscovery(url, documentOf(ISSUER), true).issuer).toBe(ISSUER)
  })

  it('refuses a URL that implies no issuer, naming upstream.configUrl', () => {
    expect(() =>
      parseDiscovery('https://idp.example/oidc/config.json', documentOf(ISSUER), true),
    ).toThrow(/upstream\.configUrl/)
  })

  it('checks a URL that implies no issuer against an issuer the caller names', () => {
    const url = 'https://idp.example/oidc/config.json'
    expect(parseDiscovery(url, documentOf(ISSUER), true, ISSUER).issuer).toBe(ISSUER)
    expect(() => parseDiscovery(url, documentOf(FOREIGN), true, ISSUER)).toThrow(/not https/)
  })

  it('leaves the issuer unchecked when not strict', () => {
    expect(parseDiscovery(withQuery, documentOf(FOREIGN), false).issuer).toBe(FOREIGN)
  })
})
