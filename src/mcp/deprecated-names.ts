/**
 * Names of `mcp-gatehouse/mcp` before issue 12 (one casing for acronyms: `createMCPHandler`, not
 * `createMcpHandler`; one word for Microsoft's IdP in code: `Azure`, not `Entra`), kept for one
 * minor version and then removed with this file (and its re-export block in index.ts). See also
 * src/deprecated-names.ts.
 */
import { AzureOBOError, type AzureOBOErrorCode } from '../obo-error.js'
import { azureOBOToken } from './azure.js'
import { MCPAuthError, type MCPAuthErrorCode } from './errors.js'
import {
  createMCPHandler,
  type MCPAuthSource,
  type MCPHandler,
  type MCPHandlerCommonOptions,
  type MCPHandlerOptions,
  type MCPTransportOptions,
  type StatefulMCPHandlerOptions,
  type StatelessMCPHandlerOptions,
} from './handler.js'
import type { CreateMCPServer, MCPServerContext, MCPServerLike } from './server-like.js'
import type { MCPSDKVersion } from './transport.js'

/** @deprecated Use `createMCPHandler`; removed in the next minor version. */
export const createMcpHandler = createMCPHandler
/** @deprecated Use `MCPAuthSource`; removed in the next minor version. */
export type McpAuthSource = MCPAuthSource
/** @deprecated Use `MCPHandler`; removed in the next minor version. */
export type McpHandler = MCPHandler
/** @deprecated Use `MCPHandlerCommonOptions`; removed in the next minor version. */
export type McpHandlerCommonOptions = MCPHandlerCommonOptions
/** @deprecated Use `MCPHandlerOptions`; removed in the next minor version. */
export type McpHandlerOptions = MCPHandlerOptions
/** @deprecated Use `MCPTransportOptions`; removed in the next minor version. */
export type McpTransportOptions = MCPTransportOptions
/** @deprecated Use `StatefulMCPHandlerOptions`; removed in the next minor version. */
export type StatefulMcpHandlerOptions = StatefulMCPHandlerOptions
/** @deprecated Use `StatelessMCPHandlerOptions`; removed in the next minor version. */
export type StatelessMcpHandlerOptions = StatelessMCPHandlerOptions
/** @deprecated Use `MCPSDKVersion`; removed in the next minor version. */
export type McpSdkVersion = MCPSDKVersion
/** @deprecated Use `CreateMCPServer`; removed in the next minor version. */
export type CreateMcpServer = CreateMCPServer
/** @deprecated Use `MCPServerContext`; removed in the next minor version. */
export type McpServerContext = MCPServerContext
/** @deprecated Use `MCPServerLike`; removed in the next minor version. */
export type McpServerLike = MCPServerLike

/** @deprecated Use `MCPAuthError`; removed in the next minor version. */
export const McpAuthError = MCPAuthError
/** @deprecated Use `MCPAuthError`; removed in the next minor version. */
export type McpAuthError = MCPAuthError
/** @deprecated Use `MCPAuthErrorCode`; removed in the next minor version. */
export type McpAuthErrorCode = MCPAuthErrorCode

/** @deprecated Use `azureOBOToken`; removed in the next minor version. */
export const entraOboToken = azureOBOToken
/** @deprecated Use `AzureOBOError`; removed in the next minor version. */
export const EntraOboError = AzureOBOError
/** @deprecated Use `AzureOBOError`; removed in the next minor version. */
export type EntraOboError = AzureOBOError
/** @deprecated Use `AzureOBOErrorCode`; removed in the next minor version. */
export type EntraOboErrorCode = AzureOBOErrorCode
