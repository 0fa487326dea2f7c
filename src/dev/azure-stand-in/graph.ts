/**
 * A small Microsoft Graph: `GET /v1.0/me`. It accepts only tokens this stand-in issued by
 * On-Behalf-Of, for Graph's audience, live, with `User.Read`; anything else is Graph's 401/403.
 */
import { createLocalJWKSet, jwtVerify } from 'jose'
import { GRAPH_RESOURCE } from './directory.js'
import type { StandInState } from './state.js'

export async function handleGraphMe(state: StandInState, request: Request): Promise<Response> {
  const header = request.headers.get('authorization') ?? ''
  state.record({ endpoint: 'graph', tenant: '', params: {} })
  const token = header.startsWith('Bearer ') ? header.slice(7) : undefined
  if (token === undefined)
    return graphError(401, 'InvalidAuthenticationToken', 'Access token is empty.')
  let claims: Record<string, unknown>
  try {
    const result = await jwtVerify(token, createLocalJWKSet(state.keys.jwks()), {
      algorithms: ['RS256'],
      audience: GRAPH_RESOURCE,
      currentDate: new Date(state.now()),
    })
    claims = result.payload
  } catch {
    return graphError(
      401,
      'InvalidAuthenticationToken',
      'Access token validation failure. Invalid audience.',
    )
  }
  if (typeof claims.uti !== 'string' || !state.oboTokens.has(claims.uti)) {
    return graphError(
      401,
      'InvalidAuthenticationToken',
      'This stand-in accepts only On-Behalf-Of tokens.',
    )
  }
  const scp = typeof claims.scp === 'string' ? claims.scp.split(' ') : []
  if (!scp.includes('User.Read')) {
    return graphError(
      403,
      'Authorization_RequestDenied',
      'Insufficient privileges to complete the operation.',
    )
  }
  const user = state.directory.users.find((u) => state.oid(u) === claims.oid)
  return Response.json({
    '@odata.context': `${GRAPH_RESOURCE}/v1.0/$metadata#users/$entity`,
    id: claims.oid,
    displayName: user?.name ?? claims.name,
    userPrincipalName: user?.username,
    mail: user?.email ?? null,
  })
}

function graphError(status: number, code: string, message: string): Response {
  return Response.json(
    { error: { code, message, innerError: { date: new Date().toISOString() } } },
    {
      status,
      headers: status === 401 ? { 'www-authenticate': 'Bearer realm=""' } : {},
    },
  )
}
