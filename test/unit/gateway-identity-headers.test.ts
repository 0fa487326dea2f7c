/**
 * Plain identity headers (src/gateway/credentials.ts) through the headers the gateway sends
 * upstream (src/gateway/headers.ts): `decodeURIComponent` on each value restores it exactly, edge
 * spaces included, which HTTP itself would strip (`alice ` is not `alice`).
 */
import { describe, expect, it } from 'vitest'
import { IdentityHeadersSchema } from '../../src/config/gateway-schema.js'
import { loadCredential } from '../../src/gateway/credentials.js'
import { upstreamRequestHeaders } from '../../src/gateway/headers.js'
import type { AccessToken } from '../../src/jwt/access-token.js'

async function sent(token: AccessToken): Promise<Headers> {
  const headersFor = loadCredential(
    { kind: 'none' },
    IdentityHeadersSchema.parse({}),
    'http://127.0.0.1:1/mcp',
    'routes.0.upstream',
  )
  return upstreamRequestHeaders(new Headers(), await headersFor(token))
}

describe('plain identity headers', () => {
  const base: AccessToken = {
    token: 't',
    clientId: 'client',
    scopes: ['mcp:read', 'mcp:write'],
    subject: 'alice',
    grantId: 'g',
    claims: {},
  }

  it('restores subject and roles exactly, edge spaces included', async () => {
    const headers = await sent({ ...base, subject: ' alice  ', roles: [' admin', 'ops ', 'a b'] })
    expect(decodeURIComponent(headers.get('x-gatehouse-subject')!)).toBe(' alice  ')
    expect(headers.get('x-gatehouse-roles')!.split(',').map(decodeURIComponent)).toEqual([
      ' admin',
      'ops ',
      'a b',
    ])
  })

  it('keeps inner spaces, as the space-separated scopes have them', async () => {
    const headers = await sent(base)
    expect(headers.get('x-gatehouse-scopes')).toBe('mcp:read mcp:write')
    expect(headers.get('x-gatehouse-subject')).toBe('alice')
  })
})
