/**
 * MCP 2026-07-28 clients for the gateway tests: the MCP TypeScript SDK 2.x client signed in
 * through `serve`, and raw requests of that revision (for input no SDK client would send).
 */
import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client'
import { post } from './gateway.js'
import { BrowserlessClientProvider } from './sdk-client.js'

export const MODERN = '2026-07-28'

/**
 * An SDK 2.x client of `url`, signed in as `user` (and its access token): pinned to 2026-07-28,
 * or (`auto`) probing with `server/discover` and falling back to the 2025 handshake.
 */
export async function modernClient(
  url: string,
  user: { username: string; password: string },
  options: { mode?: 'auto' | { pin: string }; capabilities?: Record<string, object> } = {},
): Promise<{ client: Client; token: string }> {
  const provider = new BrowserlessClientProvider({
    redirectUrl: 'http://127.0.0.1:3999/callback',
    clientName: 'modern client',
    user,
  })
  const clientOptions = {
    versionNegotiation: { mode: options.mode ?? { pin: MODERN } },
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
  }
  const signIn = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider })
  await new Client({ name: 'sign in', version: '1' }, clientOptions).connect(signIn).then(
    () => {
      throw new Error('expected a sign-in first')
    },
    (error: unknown) => {
      if (!(error instanceof UnauthorizedError)) throw error
    },
  )
  await signIn.finishAuth(provider.callbackParams!)
  const client = new Client({ name: 'modern client', version: '1' }, clientOptions)
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }))
  return { client, token: provider.saved!.access_token }
}

export interface ModernRequest {
  /** `null`: a notification. */
  id: number | string | null
  method: string
  params?: Record<string, unknown>
  /** The envelope's client capabilities; default none. */
  capabilities?: Record<string, object>
  /** The envelope's protocol version, and the header's when `headerVersion` is not given. */
  version?: string
  headerVersion?: string
  /** `_meta.progressToken`: the client wants progress for this request. */
  progressToken?: string
  signal?: AbortSignal
}

/** A raw 2026-07-28 request: the version and method in headers and `_meta`, as SDK clients send. */
export function modernPost(url: string, token: string, request: ModernRequest): Promise<Response> {
  const version = request.version ?? MODERN
  return post(
    url,
    token,
    {
      jsonrpc: '2.0',
      ...(request.id !== null ? { id: request.id } : {}),
      method: request.method,
      params: {
        ...request.params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': version,
          'io.modelcontextprotocol/clientCapabilities': request.capabilities ?? {},
          ...(request.progressToken !== undefined ? { progressToken: request.progressToken } : {}),
        },
      },
    },
    { 'mcp-protocol-version': request.headerVersion ?? version, 'mcp-method': request.method },
    request.signal,
  )
}
