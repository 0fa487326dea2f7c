/**
 * Per-tool scopes checked before the MCP SDK sees a request, so that a missing scope can be an HTTP
 * 403 step-up challenge (MCP 2025-11-25 §Runtime insufficient scope) rather than a tool error. The
 * body is read here once, bounded like the SDK's transport, and handed to the transport as
 * `parsedBody`: the SDK acts on exactly the messages that were checked (no second parser to
 * disagree with), and a body that cannot be read or parsed is refused here, never passed on.
 */
import type { ResolvedResource } from '../config/schema.js'
import type { ScopeHierarchy } from '../resource/scopes.js'
import { jsonRPCError } from './json-rpc.js'

/** Tool name → the scopes a `tools/call` of that tool needs. */
export type ToolScopes = Readonly<Record<string, readonly string[]>>

/** The SDK transport's default body limit (4 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024

/** A body parsed as JSON, or the error response that ends the request. */
export type ReadBody = { ok: true; body: unknown } | { ok: false; response: Response }

/** Reads and parses a JSON body of at most `maxBytes` (413 above, 400 `-32700` if not JSON). */
export async function readJSONBody(request: Request, maxBytes: number): Promise<ReadBody> {
  const tooLarge = (): ReadBody => ({
    ok: false,
    response: jsonRPCError(
      413,
      -32000,
      `Payload Too Large: Request body must not exceed ${maxBytes} bytes`,
    ),
  })
  if (Number(request.headers.get('content-length')) > maxBytes) return tooLarge()
  let text = ''
  if (request.body !== null) {
    const reader = request.body.getReader()
    const decoder = new TextDecoder()
    let received = 0
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        received += value.byteLength
        if (received > maxBytes) {
          await reader.cancel()
          return tooLarge()
        }
        text += decoder.decode(value, { stream: true })
      }
    } finally {
      reader.releaseLock()
    }
    text += decoder.decode()
  }
  try {
    return { ok: true, body: JSON.parse(text) as unknown }
  } catch {
    return { ok: false, response: jsonRPCError(400, -32700, 'Parse error: Invalid JSON') }
  }
}

/**
 * Every scope the `tools/call` messages of a JSON-RPC body (one message or a batch) need according
 * to `table`; tools not in the table and other methods need none here.
 */
export function scopesForToolCalls(
  body: unknown,
  table: ReadonlyMap<string, readonly string[]>,
): string[] {
  const needed: string[] = []
  for (const message of Array.isArray(body) ? (body as unknown[]) : [body]) {
    if (!isRecord(message) || message.method !== 'tools/call' || !isRecord(message.params)) continue
    const name = message.params.name
    if (typeof name !== 'string') continue
    const scopes = table.get(name)
    if (scopes) needed.push(...scopes)
  }
  return [...new Set(needed)]
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The `toolScopes` entries naming a scope none of `resources` offers (directly or implied through
 * `hierarchy`): no token for those resources can carry it, so the tool can never be called. A
 * resource listing no scopes accepts any, and then nothing is reported.
 */
export function unofferedToolScopes(
  toolScopes: ToolScopes,
  resources: readonly Pick<ResolvedResource, 'scopes'>[],
  hierarchy: ScopeHierarchy = {},
): { tool: string; scope: string }[] {
  if (resources.length === 0 || resources.some((r) => r.scopes.length === 0)) return []
  const offered = new Set<string>()
  const visit = (scope: string): void => {
    if (offered.has(scope)) return
    offered.add(scope)
    for (const implied of hierarchy[scope] ?? []) visit(implied)
  }
  for (const r of resources) r.scopes.forEach(visit)
  return Object.entries(toolScopes).flatMap(([tool, scopes]) =>
    [...new Set(scopes)].filter((s) => !offered.has(s)).map((scope) => ({ tool, scope })),
  )
}
