/**
 * JSON-RPC error responses in the shape the MCP SDK's transport uses, for the answers the glue
 * gives before the transport sees a request.
 */

/** A JSON-RPC error with `id: null` as an HTTP response. */
export function jsonRPCError(
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

/** 404 `Session not found` (MCP transports §Session Management: the client re-initializes). */
export function sessionNotFound(): Response {
  return jsonRPCError(404, -32001, 'Session not found')
}
