/**
 * A token carrying any confirmation (`cnf`) is bound to a key the bearer scheme cannot prove: it is
 * refused when presented as a plain bearer token, whatever the confirmation method (RFC 9449 §7.2
 * for `jkt`; RFC 8705 `x5t#S256` and malformed `cnf` fail closed the same way).
 */
import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../../src/config/schema.js'
import { OAuthError } from '../../../src/errors.js'
import type { AccessToken } from '../../../src/jwt/access-token.js'
import { assertBearerAllowed } from '../../../src/resource/dpop.js'

const config = resolveConfig({
  issuer: 'https://as.example',
  secret: 's'.repeat(32),
  resources: [{ url: 'https://as.example/mcp' }],
})
const resource = config.resources[0]!

function token(claims: Record<string, unknown>): AccessToken {
  return { token: 't', clientId: 'c', scopes: [], subject: 'u', claims }
}

describe('bearer presentation of sender-constrained tokens', () => {
  it('accepts a token without cnf', () => {
    expect(() => {
      assertBearerAllowed(token({}), resource)
    }).not.toThrow()
  })

  it.each([
    ['a DPoP jkt', { jkt: 'A'.repeat(43) }],
    ['an mTLS certificate thumbprint', { 'x5t#S256': 'B'.repeat(43) }],
    ['a malformed jkt', { jkt: 42 }],
    ['a non-object cnf', 'bound'],
  ])('refuses a token whose cnf holds %s', (_, cnf) => {
    let thrown: unknown
    try {
      assertBearerAllowed(token({ cnf }), resource)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(OAuthError)
    expect((thrown as OAuthError).code).toBe('invalid_token')
  })
})
