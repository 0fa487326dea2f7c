/**
 * The `gatehouse-token` upstream credential (src/gateway/credentials.ts): the token Gatehouse
 * signs for an upstream in place of the caller's carries who the caller is, delegation included:
 * `act` (RFC 8693 §4.1, from a token exchange or an ID-JAG) and `idp` (the enterprise IdP behind a
 * SEP-990 token) travel with `sub`, roles and the grant. Checked by verifying the signed token
 * against Gatehouse's JWKS.
 */
import { createLocalJWKSet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { loadCredential } from '../../src/gateway/credentials.js'
import type { AccessToken } from '../../src/jwt/access-token.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { SigningKeys } from '../../src/tokens/keys.js'

const ISSUER = 'https://gw.test'
const UPSTREAM = 'https://upstream.test/mcp'

async function upstreamTokenFor(caller: AccessToken): Promise<Record<string, unknown>> {
  const keys = await SigningKeys.load({ store: createMemoryStore(), accessTokenTtlSeconds: 3600 })
  const headers = loadCredential(
    { kind: 'gatehouse-token', ttlSeconds: 120, name: 'authorization', prefix: 'Bearer ' },
    undefined,
    UPSTREAM,
    'routes./x.credential',
    { signer: { keys, issuer: ISSUER } },
  )
  const [[name, value] = ['', '']] = await headers(caller)
  expect(name).toBe('authorization')
  const { payload } = await jwtVerify(
    value.replace(/^Bearer /, ''),
    createLocalJWKSet(keys.jwks()),
    { issuer: ISSUER, audience: UPSTREAM, typ: 'at+jwt' },
  )
  return payload
}

describe('gatehouse-token upstream credential', () => {
  const now = Math.floor(Date.now() / 1000)
  const base: AccessToken = {
    token: 'caller-token',
    clientId: 'agent',
    scopes: ['notes:read'],
    expiresAt: now + 600,
    resource: 'https://gw.test/mcp',
    subject: 'employee-7',
    grantId: 'grant-1',
    claims: {},
  }

  it('copies act (the delegation chain) and idp (the asserting IdP) from the caller token', async () => {
    const act = { sub: 'agent-42', iss: 'https://idp.test', act: { sub: 'orchestrator' } }
    const claims = await upstreamTokenFor({
      ...base,
      issuer: 'https://idp.test',
      claims: { iss: ISSUER, idp: 'https://idp.test', act, roles: ['reader'] },
    })
    expect(claims).toMatchObject({
      sub: 'employee-7',
      client_id: 'agent',
      idp: 'https://idp.test',
      act,
      roles: ['reader'],
    })
  })

  it('adds neither when the caller token has none', async () => {
    const claims = await upstreamTokenFor({ ...base, token: 'other-caller-token' })
    expect(claims.act).toBeUndefined()
    expect(claims.idp).toBeUndefined()
    expect(claims.sub).toBe('employee-7')
  })
})
