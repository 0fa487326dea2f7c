/**
 * Reading a guarded response: the body up to `maxBytes` within the deadline, and its JSON only
 * under a JSON media type. Errors name the origin, never the remote content.
 */
import { UpstreamError } from '../../errors.js'
import { raceAbort } from './deadline.js'

/** The whole body, refusing (`ERR_UPSTREAM_RESPONSE`) past `maxBytes`. */
export async function readBody(
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
  origin: string,
): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      const { done, value } = await raceAbort(reader.read(), signal)
      if (done) break
      total += value.byteLength
      if (total > maxBytes) {
        throw new UpstreamError(
          'ERR_UPSTREAM_RESPONSE',
          `${origin} sent a response that is too large`,
        )
      }
      chunks.push(value)
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined)
    throw error
  }
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0]
  const body = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    body.set(chunk, offset)
    offset += chunk.byteLength
  }
  return body
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/** The body as JSON; `ERR_UPSTREAM_RESPONSE` for another media type or invalid JSON. */
export function parseJSONBody(body: Uint8Array, headers: Headers, origin: string): unknown {
  if (!JSON_TYPE.test(headers.get('content-type') ?? '')) {
    throw new UpstreamError('ERR_UPSTREAM_RESPONSE', `${origin} did not answer with JSON`)
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown
  } catch {
    throw new UpstreamError('ERR_UPSTREAM_RESPONSE', `${origin} sent invalid JSON`)
  }
}
