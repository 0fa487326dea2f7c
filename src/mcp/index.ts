/**
 * The MCP glue: Gatehouse in front of MCP TypeScript SDK servers, 1.x (`@modelcontextprotocol/sdk`)
 * or 2.x (`@modelcontextprotocol/server`). Both are optional peer dependencies, imported at run
 * time only by `createMCPHandler` (lazily).
 */
export { createMCPHandler } from './handler.js'
export type {
  MCPAuthSource,
  MCPHandler,
  MCPHandlerCommonOptions,
  MCPHandlerOptions,
  MCPTransportOptions,
  StatefulMCPHandlerOptions,
  StatelessMCPHandlerOptions,
} from './handler.js'
export type { MCPSDKVersion } from './transport.js'
export type { CreateMCPServer, MCPServerContext, MCPServerLike } from './server-like.js'
export { accessTokenOf, authOf, principalFromExtra, toAuthInfo } from './auth-info.js'
export type { ExtraWithAuth, GatehouseAuthExtra, GatehouseAuthInfo } from './auth-info.js'
export type { UpstreamIdentity } from '../jwt/access-token.js'
export { requireToolRoles, requireToolScopes } from './tool-access.js'
export type { ToolScopes } from './tool-scopes.js'
export { createSharedValidator } from './validator.js'
export { getUpstreamToken } from './upstream.js'
export { azureOBOToken } from './azure.js'
export { AzureOBOError } from '../obo-error.js'
export type { AzureOBOErrorCode } from '../obo-error.js'
export { MCPAuthError } from './errors.js'
export type { MCPAuthErrorCode } from './errors.js'
// Deprecated names (issue 12), removed in the next minor version with deprecated-names.ts.
/* eslint-disable @typescript-eslint/no-deprecated -- re-exporting them is their purpose */
export { createMcpHandler, entraOboToken, EntraOboError, McpAuthError } from './deprecated-names.js'
export type {
  CreateMcpServer,
  EntraOboErrorCode,
  McpAuthErrorCode,
  McpAuthSource,
  McpHandler,
  McpHandlerCommonOptions,
  McpHandlerOptions,
  McpSdkVersion,
  McpServerContext,
  McpServerLike,
  McpTransportOptions,
  StatefulMcpHandlerOptions,
  StatelessMcpHandlerOptions,
} from './deprecated-names.js'
/* eslint-enable @typescript-eslint/no-deprecated */
