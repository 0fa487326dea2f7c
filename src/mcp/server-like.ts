/**
 * What the glue needs of an MCP server: `McpServer` and the low-level `Server` of
 * `@modelcontextprotocol/sdk` both fit.
 */
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js'
import type { Principal } from '../jwt/access-token.js'

/** An MCP server that can be connected to a transport and closed. */
export interface MCPServerLike {
  connect(transport: Transport): Promise<void>
  close(): Promise<void>
}

/**
 * What `createServer` receives. Pass `jsonSchemaValidator` on to the server so that every server
 * shares one validator instead of building its own (the SDK builds a new Ajv instance per server by
 * default, which costs about a fifth of the CPU of a stateless request):
 *
 * ```ts
 * createServer: ({ jsonSchemaValidator }) =>
 *   new McpServer({ name: 'demo', version: '1.0.0' }, { jsonSchemaValidator })
 * ```
 */
export interface MCPServerContext {
  /** One validator shared by every server this handler creates. */
  readonly jsonSchemaValidator: jsonSchemaValidator
  /**
   * Who the server is created for (stateless: the request's caller; stateful: the session's
   * owner). Read the caller's token in handlers from `extra` (`authOf`), never from a closure.
   */
  readonly principal: Principal
}

/** Creates the MCP server for one request (stateless) or one session (stateful). */
export type CreateMCPServer = (context: MCPServerContext) => MCPServerLike | Promise<MCPServerLike>
