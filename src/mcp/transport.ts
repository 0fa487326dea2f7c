/**
 * The Web-standard Streamable HTTP server transport as the glue uses it. SDK 1.x
 * (`@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js`) and SDK 2.x
 * (`@modelcontextprotocol/server`) both export a `WebStandardStreamableHTTPServerTransport` with
 * these members; their classes have private fields and so are nominally distinct types, hence
 * this structural view instead of either SDK's class.
 */
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { EventStore } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'

/** Which MCP TypeScript SDK serves: 1.x (`@modelcontextprotocol/sdk`) or 2.x (`/server`). */
export type MCPSDKVersion = 1 | 2

/** The constructor options both SDKs accept. */
export interface StreamableTransportOptions {
  sessionIdGenerator?: () => string
  onsessioninitialized?: (sessionId: string) => void | Promise<void>
  onsessionclosed?: (sessionId: string) => void | Promise<void>
  enableJsonResponse?: boolean
  eventStore?: EventStore
  retryInterval?: number
  keepAliveMs?: number
  maxRequestBodySize?: number
}

/** One transport instance (what `server.connect` takes, typed as 1.x's `Transport`). */
export interface StreamableTransport extends Transport {
  sessionId?: string | undefined
  onclose?: (() => void) | undefined
  handleRequest(
    request: Request,
    options?: { authInfo?: AuthInfo; parsedBody?: unknown },
  ): Promise<Response>
}

/** The transport class of either SDK. */
export type StreamableTransportClass = new (
  options?: StreamableTransportOptions,
) => StreamableTransport
