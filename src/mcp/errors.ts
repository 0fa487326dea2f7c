/**
 * The one error the MCP glue throws itself: a tool handler asked for something the request cannot
 * give (no Gatehouse auth on the request, no identity-provider token behind it).
 */

/** `ERR_MCP_NO_AUTH`: no Gatehouse `authInfo`; `ERR_MCP_NO_UPSTREAM`: the provider is no proxy. */
export type MCPAuthErrorCode = 'ERR_MCP_NO_AUTH' | 'ERR_MCP_NO_UPSTREAM'

/**
 * A wiring problem seen from inside a tool handler. Thrown inside an `McpServer` tool it becomes a
 * tool error result (`isError: true`) whose text is the message, which names no secret.
 */
export class MCPAuthError extends Error {
  override name = 'MCPAuthError'
  readonly code: MCPAuthErrorCode
  constructor(code: MCPAuthErrorCode, message: string) {
    super(message)
    this.code = code
  }
}
