/**
 * The demo MCP server `gatehouse dev` serves at `/mcp`: `whoami` (who the token says you are)
 * and `echo`. Built with the official MCP SDK and served through Gatehouse's MCP glue.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import * as z from 'zod'
import { authOf } from '../mcp/auth-info.js'
import type { MCPServerContext } from '../mcp/server-like.js'

/** A new demo server with its two tools. */
export function createDemoServer(context: MCPServerContext): McpServer {
  const server = new McpServer(
    { name: 'gatehouse-demo', version: '1.0.0' },
    { jsonSchemaValidator: context.jsonSchemaValidator },
  )
  server.registerTool(
    'whoami',
    { description: 'Who the access token says you are: subject, client and scopes.' },
    (extra) => {
      const auth = authOf(extra)
      const who = {
        subject: auth.extra.subject,
        issuer: auth.extra.issuer,
        client: auth.clientId,
        scopes: auth.scopes,
      }
      return { content: [{ type: 'text', text: JSON.stringify(who, null, 2) }] }
    },
  )
  server.registerTool(
    'echo',
    { description: 'Echoes the message back.', inputSchema: { message: z.string().max(10_000) } },
    ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  )
  return server
}
