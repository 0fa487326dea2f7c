/**
 * From Gatehouse's `AccessToken` to the MCP SDK's `AuthInfo` and back: `toAuthInfo` builds what
 * `transport.handleRequest(request, { authInfo })` passes to every handler as `extra.authInfo`;
 * `authOf`, `principalFromExtra` and `accessTokenOf` read it back in a tool handler, typed.
 */
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import {
  principalOf,
  type AccessToken,
  type Principal,
  type UpstreamIdentity,
} from '../jwt/access-token.js'
import { bindContext, contextOf } from './context.js'
import { MCPAuthError } from './errors.js'

/** `AuthInfo.extra` as Gatehouse fills it; `extras` given to `toAuthInfo` sit beside these. */
export interface GatehouseAuthExtra {
  [key: string]: unknown
  /** `sub` of the token. */
  subject?: string
  /** `iss` of the token. */
  issuer?: string
  /** App roles (`roles` claim); empty when the issuer sends none. */
  roles: string[]
  /** Every verified claim of the token. */
  claims: Readonly<Record<string, unknown>>
  /** (clientId, issuer, subject): who is calling, for ownership checks (`samePrincipal`). */
  principal: Principal
  /** The grant the token belongs to (Gatehouse's own tokens). */
  grantId?: string
  /**
   * Who the user is at the identity provider, as it knows them: `issuer`, `subject`, and for Entra
   * `tenantId` (`tid`) and `objectId` (`oid`). Set after a sign-in through Gatehouse's proxy
   * (Azure, OIDC, OAuth providers) and with `AzureJWTVerifier` in a resource server; absent for
   * tokens from the `authenticate` hook, identity assertions and other verifiers. In a
   * multi-tenant Entra app, compare `tenantId` with your tenants before trusting `roles`.
   */
  upstream?: UpstreamIdentity
}

/** The SDK's `AuthInfo` with Gatehouse's `extra`. */
export interface GatehouseAuthInfo extends AuthInfo {
  extra: GatehouseAuthExtra
}

/**
 * Anything that carries the SDK's `authInfo`: SDK 1.x's tool handler `extra`
 * (`RequestHandlerExtra`, `extra.authInfo`) or SDK 2.x's handler context (`ctx.http.authInfo`).
 */
export interface ExtraWithAuth {
  readonly authInfo?: AuthInfo | undefined
  readonly http?: { readonly authInfo?: AuthInfo | undefined } | undefined
}

const RESERVED = new Set([
  'subject',
  'issuer',
  'roles',
  'claims',
  'principal',
  'grantId',
  'upstream',
])

/**
 * The SDK's `AuthInfo` for a verified token: `token`, `clientId`, `scopes`, `expiresAt`,
 * `resource` (as a `URL`, omitted when the audience is not a URL) and `extra` with `subject`,
 * `issuer`, `roles`, `claims`, `principal`, `grantId` and `upstream`. `extras` adds application data to `extra`;
 * it can never replace the fields Gatehouse sets (those keys are dropped from it).
 */
export function toAuthInfo(
  token: AccessToken,
  extras: Readonly<Record<string, unknown>> = {},
): GatehouseAuthInfo {
  const extra: GatehouseAuthExtra = {
    roles: [...(token.roles ?? [])],
    claims: token.claims,
    principal: principalOf(token),
  }
  for (const [key, value] of Object.entries(extras)) if (!RESERVED.has(key)) extra[key] = value
  if (token.subject !== undefined) extra.subject = token.subject
  if (token.issuer !== undefined) extra.issuer = token.issuer
  if (token.grantId !== undefined) extra.grantId = token.grantId
  if (token.upstream !== undefined) extra.upstream = token.upstream
  const info: GatehouseAuthInfo = {
    token: token.token,
    clientId: token.clientId,
    scopes: [...token.scopes],
    extra,
  }
  if (token.expiresAt !== undefined) info.expiresAt = token.expiresAt
  if (token.resource !== undefined && URL.canParse(token.resource)) {
    info.resource = new URL(token.resource)
  }
  bindContext(extra, { token, upstream: undefined })
  return info
}

/**
 * The request's `AuthInfo` as `toAuthInfo` built it, from SDK 1.x's `extra` or SDK 2.x's `ctx`. Throws `MCPAuthError('ERR_MCP_NO_AUTH')` when
 * the request carries none (the server is not mounted behind `createMCPHandler` or `toAuthInfo`).
 */
export function authOf(extra: ExtraWithAuth): GatehouseAuthInfo {
  const info = extra.authInfo ?? extra.http?.authInfo
  if (info === undefined || !isGatehouseExtra(info.extra)) {
    throw new MCPAuthError(
      'ERR_MCP_NO_AUTH',
      'this request carries no Gatehouse authInfo: serve the MCP server with createMCPHandler',
    )
  }
  return info as GatehouseAuthInfo
}

/** Who is calling: the (clientId, issuer, subject) of the request's token. Throws like `authOf`. */
export function principalFromExtra(extra: ExtraWithAuth): Principal {
  return authOf(extra).extra.principal
}

/**
 * The request's verified `AccessToken` (the very object the guard produced when the `AuthInfo`
 * came from `toAuthInfo`, else rebuilt from it), for `requireScopes` and friends. Throws like
 * `authOf`.
 */
export function accessTokenOf(extra: ExtraWithAuth): AccessToken {
  const info = authOf(extra)
  const bound = contextOf(info.extra)
  if (bound) return bound.token
  const e = info.extra
  return {
    token: info.token,
    clientId: info.clientId,
    scopes: info.scopes,
    claims: e.claims,
    roles: e.roles,
    ...(info.expiresAt !== undefined ? { expiresAt: info.expiresAt } : {}),
    ...(info.resource !== undefined ? { resource: info.resource.href } : {}),
    ...(e.subject !== undefined ? { subject: e.subject } : {}),
    ...(e.issuer !== undefined ? { issuer: e.issuer } : {}),
    ...(e.grantId !== undefined ? { grantId: e.grantId } : {}),
    ...(e.upstream !== undefined ? { upstream: e.upstream } : {}),
  }
}

function isGatehouseExtra(extra: Record<string, unknown> | undefined): boolean {
  if (extra === undefined || !Array.isArray(extra.roles)) return false
  const p = extra.principal
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof (p as { clientId?: unknown }).clientId === 'string' &&
    typeof extra.claims === 'object' &&
    extra.claims !== null
  )
}
