/**
 * The demo MCP server `gatehouse dev` serves at `/mcp`: `whoami` (who the token says you are)
 * and `echo`. Built with the official MCP SDK, one stateless server per request.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import * as z from 'zod'
import type { AccessToken } from '../resource/access-token.js'

/** A new demo server with its two tools. */
export function createDemoServer(): McpServer {
  const server = new McpServer({ name: 'gatehouse-demo', version: '1.0.0' })
  server.registerTool(
    'whoami',
    { description: 'Who the access token says you are: subject, client and scopes.' },
    (extra) => {
      const auth = extra.authInfo
      const who = {
        subject: auth?.extra?.subject,
        issuer: auth?.extra?.issuer,
        client: auth?.clientId,
        scopes: auth?.scopes,
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

/** Handles one MCP request for a verified token. */
export async function handleDemoRequest(request: Request, token: AccessToken): Promise<Response> {
  const server = createDemoServer()
  const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true })
  await server.connect(transport)
  return transport.handleRequest(request, {
    authInfo: {
      token: token.token,
      clientId: token.clientId,
      scopes: token.scopes,
      ...(token.expiresAt !== undefined ? { expiresAt: token.expiresAt } : {}),
      ...(token.resource !== undefined ? { resource: new URL(token.resource) } : {}),
      extra: { subject: token.subject, issuer: token.issuer },
    },
  })
}
