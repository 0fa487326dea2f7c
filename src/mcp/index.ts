/**
 * The MCP glue: Gatehouse in front of MCP TypeScript SDK servers, 1.x (`@modelcontextprotocol/sdk`)
 * or 2.x (`@modelcontextprotocol/server`). Both are optional peer dependencies, imported at run
 * time only by `createMcpHandler` (lazily).
 */
export { createMcpHandler } from './handler.js'
export type {
  McpAuthSource,
  McpHandler,
  McpHandlerCommonOptions,
  McpHandlerOptions,
  McpTransportOptions,
  StatefulMcpHandlerOptions,
  StatelessMcpHandlerOptions,
} from './handler.js'
export type { McpSdkVersion } from './transport.js'
export type { CreateMcpServer, McpServerContext, McpServerLike } from './server-like.js'
export { accessTokenOf, authOf, principalFromExtra, toAuthInfo } from './auth-info.js'
export type { ExtraWithAuth, GatehouseAuthExtra, GatehouseAuthInfo } from './auth-info.js'
export type { UpstreamIdentity } from '../jwt/access-token.js'
export { requireToolRoles, requireToolScopes } from './tool-access.js'
export type { ToolScopes } from './tool-scopes.js'
export { createSharedValidator } from './validator.js'
export { getUpstreamToken } from './upstream.js'
export { entraOboToken } from './entra.js'
export { EntraOboError } from '../obo-error.js'
export type { EntraOboErrorCode } from '../obo-error.js'
export { McpAuthError } from './errors.js'
export type { McpAuthErrorCode } from './errors.js'
