/**
 * Request ids and W3C Trace Context (`traceparent`, https://www.w3.org/TR/trace-context/):
 * accepted only when well-formed, so nothing a client sends reaches the logs unchecked.
 */
import { randomBytes } from '../http/random.js'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
// Trace Context §3.2: version 00, 32 hex trace id, 16 hex parent id, 2 hex flags; all-zero ids invalid.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/

/**
 * The client's `x-request-id` when it is a plain token (1-128 of `A-Za-z0-9._:-`), else a new one:
 * 32 hex digits (128 random bits from the pool of http/random.ts; 0.17 µs against 0.36 for a
 * dashless `randomUUID`, whose own buffer made it the cheaper one before the pool).
 */
export function requestIDOf(request: Request): string {
  const given = request.headers.get('x-request-id')
  return given !== null && REQUEST_ID.test(given) ? given : randomHex(16)
}

/** The parsed `traceparent`, or `undefined` when absent or malformed (then it is ignored). */
export function parseTraceparent(
  value: string | null,
): { traceId: string; parentId: string; flags: string } | undefined {
  if (value === null) return undefined
  const m = TRACEPARENT.exec(value.trim())
  if (!m) return undefined
  const [, version, traceId, parentId, flags, rest] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ]
  // Version ff is invalid; version 00 has nothing after the flags.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined
  return { traceId, parentId, flags }
}

/** A `traceparent` for an outbound call in this trace: same trace id, a new span id. */
export function childTraceparent(trace: { traceId: string; flags: string }): string {
  return `00-${trace.traceId}-${randomHex(8)}-${trace.flags}`
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'))

function randomHex(count: number): string {
  let hex = ''
  for (const byte of randomBytes(count)) hex += HEX[byte] ?? ''
  return hex
}
