import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UpstreamError } from '../../../src/errors.js'
import { ChainTokenVerifier } from '../../../src/jwt/chain.js'
import { IntrospectionTokenVerifier } from '../../../src/jwt/introspection.js'
import { StaticTokenVerifier } from '../../../src/jwt/static.js'
import { JWTVerifier } from '../../../src/jwt/verifier.js'
import type { TokenVerifier } from '../../../src/jwt/access-token.js'
import {
  AUDIENCE,
  ISSUER,
  createTestKey,
  signToken,
  startServer,
} from '../../helpers/jwt-fixtures.js'
import type { TestKey, TestServer } from '../../helpers/jwt-fixtures.js'

const tokens = {
  'dev-token': { clientId: 'dev', scopes: ['mcp:read'], claims: {} },
  'old-token': { clientId: 'dev', scopes: [], claims: {}, expiresAt: 1 },
}

describe('StaticTokenVerifier', () => {
  it.each(['http://127.0.0.1:3000', 'http://localhost:8080', 'http://[::1]:9000'])(
    'accepts the loopback issuer %s',
    (issuer) => {
      expect(() => new StaticTokenVerifier({ tokens, issuer })).not.toThrow()
    },
  )

  it.each(['https://auth.example.com', 'http://10.0.0.1', 'not a url', 'file:///tmp/x'])(
    'refuses the issuer %s unless explicitly allowed',
    (issuer) => {
      expect(() => new StaticTokenVerifier({ tokens, issuer })).toThrow(TypeError)
    },
  )

  it('can be forced onto a non-loopback issuer', () => {
    const issuer = 'https://staging.example.com'
    expect(
      () => new StaticTokenVerifier({ tokens, issuer, dangerouslyAllowNonLoopback: true }),
    ).not.toThrow()
  })

  it('returns the configured grant for a known token and undefined otherwise', async () => {
    const v = new StaticTokenVerifier({ tokens, issuer: 'http://localhost:3000' })
    expect(await v.verifyToken('dev-token')).toEqual({
      token: 'dev-token',
      issuer: 'http://localhost:3000',
      clientId: 'dev',
      scopes: ['mcp:read'],
      claims: {},
    })
    expect(await v.verifyToken('dev-toke')).toBeUndefined()
    expect(await v.verifyToken('dev-token ')).toBeUndefined()
    expect(await v.verifyToken('old-token')).toBeUndefined()
  })
})

describe('ChainTokenVerifier', () => {
  let key: TestKey
  let introspection: TestServer
  let jwt: JWTVerifier
  let remote: IntrospectionTokenVerifier

  beforeAll(async () => {
    key = await createTestKey('ES256')
    introspection = await startServer((_request, response, body) => {
      const token = new URLSearchParams(body).get('token')
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(
        JSON.stringify(token === 'opaque' ? { active: true, client_id: 'o' } : { active: false }),
      )
    })
    jwt = new JWTVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [key.publicJwk] } })
    remote = new IntrospectionTokenVerifier({
      introspectionUrl: `${introspection.url}/introspect`,
      clientId: 'rs',
      clientSecret: 'secret',
      allowHttpLoopback: true,
    })
  })

  afterAll(() => introspection.close())

  it('returns the first verifier that accepts the token, in order', async () => {
    const chain = new ChainTokenVerifier([jwt, remote])
    expect((await chain.verifyToken(await signToken(key)))?.issuer).toBe(ISSUER)
    expect(introspection.requests).toBe(0)
    expect((await chain.verifyToken('opaque'))?.clientId).toBe('o')
    expect(await chain.verifyToken('garbage')).toBeUndefined()
  })

  it('tries the next verifier after a failing one and rethrows only if none accepts', async () => {
    const broken: TokenVerifier = {
      verifyToken: () => Promise.reject(new UpstreamError('ERR_UPSTREAM', 'down')),
    }
    const chain = new ChainTokenVerifier([broken, remote])
    expect((await chain.verifyToken('opaque'))?.clientId).toBe('o')
    await expect(chain.verifyToken('garbage')).rejects.toBeInstanceOf(UpstreamError)
  })

  it('refuses an empty list', () => {
    expect(() => new ChainTokenVerifier([])).toThrow(TypeError)
  })
})
