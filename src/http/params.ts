/**
 * Strict request-parameter parsing: OAuth 2.1 §3.1/§3.2 forbid repeated parameters, and endpoints
 * must not read more body than configured.
 */
import { OAuthError } from '../errors.js'
import { takeBytes } from './held-body.js'

/** Parameters with each name once; a repeated name is recorded in `repeated`. */
export interface Params {
  get(name: string): string | undefined
  has(name: string): boolean
  readonly repeated: ReadonlySet<string>
  readonly size: number
}

/**
 * Parses `application/x-www-form-urlencoded` text (or a query string) keeping track of repeats.
 * Throws `invalid_request` for a NUL character in any name or value (after decoding).
 */
export function parseParams(text: string): Params {
  const source = new URLSearchParams(text)
  const values = new Map<string, string>()
  const repeated = new Set<string>()
  for (const [name, value] of source) {
    if (name.includes('\0') || value.includes('\0')) {
      throw new OAuthError('invalid_request', 'parameters must not contain NUL', { reason: 'nul' })
    }
    if (values.has(name)) repeated.add(name)
    else values.set(name, value)
  }
  return {
    get: (name) => {
      const v = values.get(name)
      // OAuth 2.1 §3.1: parameters sent without a value are treated as omitted.
      return v === undefined || v === '' ? undefined : v
    },
    has: (name) => values.has(name) && values.get(name) !== '',
    repeated,
    size: values.size,
  }
}

/** Throws `invalid_request` naming the first repeated parameter among `names` (or any, if omitted). */
export function assertNoRepeats(params: Params, names?: readonly string[]): void {
  for (const name of params.repeated) {
    if (!names || names.includes(name)) {
      throw new OAuthError(
        'invalid_request',
        `parameter "${safeName(name)}" must not be repeated`,
        {
          reason: 'repeated_parameter',
        },
      )
    }
  }
}

/** Reads the body as text, refusing more than `maxBytes` (413) without buffering the excess. */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const bytes = await readBodyBytes(request, maxBytes)
  if (bytes === undefined) throw tooLarge()
  try {
    return UTF8.decode(bytes)
  } catch {
    throw new OAuthError('invalid_request', 'the request body is not valid UTF-8', {
      reason: 'bad_utf8',
    })
  }
}

/** One decoder for every body: `decode` without `stream` keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The whole body, or `undefined` when it is (or says it is) longer than `maxBytes`: the excess is
 * not read. A body the Node adapter holds as bytes (`holdSmallBody`) is taken as it is, with no
 * stream; the bytes are read-only.
 */
export async function readBodyBytes(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > maxBytes) return undefined
  const whole = takeBytes(request)
  if (whole !== undefined) return whole.byteLength > maxBytes ? undefined : whole
  if (!request.body) return new Uint8Array()
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined)
      return undefined
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const c of chunks) {
    bytes.set(c, offset)
    offset += c.byteLength
  }
  return bytes
}

/** Reads and parses a form body; any other content type is `invalid_request` (OAuth 2.1 §3.2.2). */
export async function readForm(request: Request, maxBytes: number): Promise<Params> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError(
      'invalid_request',
      'the request body must be application/x-www-form-urlencoded',
      { reason: 'bad_content_type' },
    )
  }
  return parseParams(await readBodyText(request, maxBytes))
}

function tooLarge(): OAuthError {
  return new OAuthError('invalid_request', 'request body too large', {
    reason: 'body_too_large',
    status: 413,
  })
}

/** A parameter name fit for an error message: short, plain characters only. */
function safeName(name: string): string {
  return name.replace(/[^\w.-]/g, '').slice(0, 40)
}
