import { describe, expect, it } from 'vitest'
import { matchesRedirectPattern } from '../../../src/oauth/redirect-uri.js'
import { authorizeURL, createTestGatehouse, pkcePair } from '../../helpers/gatehouse.js'

describe('allowedRedirectUris patterns', () => {
  it.each([
    ['https://app.example.com/cb', 'https://app.example.com/cb', true],
    ['https://a.example.com/cb', 'https://*.example.com/cb', true],
    ['https://example.com/cb', 'https://*.example.com/cb', false],
    ['https://evil.com/cb', 'https://*.example.com/cb', false],
    ['https://a.example.com.evil.com/cb', 'https://*.example.com/cb', false],
    ['http://127.0.0.1:51234/callback', 'http://127.0.0.1/callback', true],
    ['http://localhost:3000/anything', 'http://localhost:*', true],
    ['https://app.example.com:8443/cb', 'https://app.example.com/cb', false],
    ['https://app.example.com:443/cb', 'https://app.example.com/cb', true],
    ['https://app.example.com/cb/deep', 'https://app.example.com/cb/*', true],
    ['https://app.example.com/other', 'https://app.example.com/cb/*', false],
    ['https://app.example.com/x', 'https://app.example.com/', true],
    ['http://app.example.com/cb', 'https://app.example.com/cb', false],
    ['https://u@app.example.com/cb', 'https://app.example.com/cb', false],
    ['https://app.example.com/a/../cb', 'https://app.example.com/*', false],
    ['javascript:alert(1)', 'https://*.example.com', false],
  ])('%s against %s is %s', (uri, pattern, expected) => {
    expect(matchesRedirectPattern(uri, pattern)).toBe(expected)
  })

  it('unset allows any valid URI, [] allows none, patterns allow only matches (registration and authorization)', async () => {
    const body = (uri: string) => ({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [uri], token_endpoint_auth_method: 'none' }),
    })
    const open = await createTestGatehouse()
    expect((await open.call('/register', body('https://anything.test/cb'))).status).toBe(201)
    const closed = await createTestGatehouse({
      config: { registration: { allowedRedirectUris: [] } },
    })
    const refused = await closed.call('/register', body('https://anything.test/cb'))
    expect(refused.status).toBe(400)
    expect((await refused.json()).error).toBe('invalid_redirect_uri')
    const listed = await createTestGatehouse({
      config: {
        registration: { allowedRedirectUris: ['http://127.0.0.1:*', 'https://*.corp.test/cb'] },
      },
    })
    expect((await listed.call('/register', body('https://app.corp.test/cb'))).status).toBe(201)
    expect((await listed.call('/register', body('http://127.0.0.1:8080/cb'))).status).toBe(201)
    expect((await listed.call('/register', body('https://evil.test/cb'))).status).toBe(400)
  })
})

describe('the allow-list at authorization', () => {
  it('holds also when redirect_uri is omitted (the one registered URI is implied)', async () => {
    const t = await createTestGatehouse({
      config: {
        registration: { allowedRedirectUris: ['https://allowed.test/*'] },
        clients: [
          {
            clientId: 'static-app',
            tokenEndpointAuthMethod: 'none',
            redirectUris: ['https://other.test/cb'],
            grantTypes: ['authorization_code'],
          },
        ],
      },
    })
    const query = (extra: Record<string, string>) =>
      authorizeURL({
        response_type: 'code',
        client_id: 'static-app',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        ...extra,
      })
    for (const url of [query({}), query({ redirect_uri: 'https://other.test/cb' })]) {
      const res = await t.call(url)
      expect(res.status).toBe(400)
      expect(res.headers.get('location')).toBeNull()
    }
    expect(t.errors.map((e) => e.reason)).toEqual(['redirect_mismatch', 'redirect_mismatch'])
  })
})

describe('parser differentials', () => {
  it.each([
    ['https://evil.com\\.example.com/cb', 'https://*.example.com'],
    ['https://app.example.com/cb/\\..\\..\\other', 'https://app.example.com/cb/*'],
    ['https://app.example.com/cb/%2e%2e/other', 'https://app.example.com/cb/*'],
  ])('%s never matches %s: the URL parser reads another host or path', (uri, pattern) => {
    expect(new URL(uri).href).not.toBe(uri)
    expect(matchesRedirectPattern(uri, pattern)).toBe(false)
  })

  it('a redirect URI with a backslash cannot be registered', async () => {
    const t = await createTestGatehouse()
    const res = await t.call('/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: ['https://evil.com\\.example.com/cb'],
        token_endpoint_auth_method: 'none',
      }),
    })
    expect(res.status).toBe(400)
    expect((await res.json()).error).toBe('invalid_redirect_uri')
  })
})
