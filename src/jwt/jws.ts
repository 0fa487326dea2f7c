/**
 * Strict parsing of a compact JWS (RFC 7515 §7.1) before any key is touched. Nothing in the token
 * is trusted: its size, shape, encoding, header and JSON are checked here, and the header members
 * that point at keys (`jku`, `x5u`, `jwk`, `x5c`) are never read.
 */

import { decodeBase64URLInto, decodedLength } from './base64url.js'
import { JWTError } from './jwt-error.js'

/** The default cap on a token's length, checked before any decoding (16 KiB). */
export const DEFAULT_MAX_TOKEN_BYTES = 16_384

/** A JOSE header that passed `parseJWS`: `alg` is allow-listed, `kid`/`typ` are strings if set. */
export interface JWSHeader {
  readonly alg: string
  readonly kid?: string
  readonly typ?: string
  readonly [member: string]: unknown
}

/** A compact JWS split into its checked parts; the signature is not verified yet. */
export interface ParsedJWS {
  readonly header: JWSHeader
  /** The payload as a JSON object with no duplicate member names. */
  readonly payload: Record<string, unknown>
  /** ASCII bytes of `header.payload`, the input the signature covers. */
  readonly signingInput: Uint8Array
  readonly signature: Uint8Array
}

/** What `parseJWS` allows. */
export interface ParseJWSOptions {
  /** Algorithms accepted in the header; `none` is refused whatever this holds. */
  readonly algorithms: ReadonlySet<string>
  /** Longest token accepted, in characters (= bytes for a valid token). Default 16 KiB. */
  readonly maxTokenBytes?: number
}

/**
 * Parses a compact JWS and checks everything that can be checked without a key.
 *
 * Rules, in order: length cap before any decoding; exactly three `.`-separated segments (five is
 * a JWE and refused, as is the JSON serialization); strict unpadded base64url in every segment;
 * header and payload are UTF-8 JSON objects without duplicate member names (RFC 7519 §4,
 * RFC 8725 §2.6 — refused rather than "last one wins"); `alg` is a string in the allow-list and
 * never `none` in any case; no `crit` at all (we implement no extension, RFC 7515 §4.1.11), no
 * `b64` other than `true` (RFC 7797), no JWE members (`enc`, `zip`), no nested JWT (`cty: JWT`);
 * a non-empty signature.
 * Not checked here: the signature, claims, `typ` policy, and `kid` existence.
 *
 * @throws {JWTError} with the failing rule as `reason`.
 */
export function parseJWS(token: string, options: ParseJWSOptions): ParsedJWS {
  const length = token.length
  if (length > (options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES)) {
    throw new JWTError('token_too_large')
  }
  const first = token.indexOf('.')
  const second = first < 0 ? -1 : token.indexOf('.', first + 1)
  if (second < 0) throw new JWTError('malformed')
  const third = token.indexOf('.', second + 1)
  if (third >= 0) throw new JWTError(countDots(token) === 4 ? 'jwe_unsupported' : 'malformed')
  if (first === 0 || second === first + 1) throw new JWTError('malformed')

  // One native copy of the token to ASCII bytes, followed in the same slab slice by the decoded
  // signature: [header.payload.signature | signature bytes]. Reading fewer characters or writing
  // more bytes than the length means non-ASCII, which no base64url segment holds.
  const signatureChars = length - second - 1
  const signatureLength = decodedLength(signatureChars)
  const bytes = allocate(length + Math.max(signatureLength, 0))
  const { read, written } = encoder.encodeInto(token, bytes)
  if (read !== length || written !== length) throw new JWTError('malformed')

  const header = checkHeader(readHeader(token, bytes, first), options.algorithms)
  const payload = decodeJSONSegment(bytes, first + 1, second)
  if (signatureChars === 0 || signatureLength < 0) throw new JWTError('malformed')
  if (decodeBase64URLInto(bytes, second + 1, length, bytes, length) !== signatureLength) {
    throw new JWTError('malformed')
  }
  return {
    header,
    payload,
    signingInput: bytes.subarray(0, second),
    signature: bytes.subarray(length, length + signatureLength),
  }
}

// A fresh off-heap ArrayBuffer per token measured ~1.5 µs slower under sustained load than a
// slice of a shared slab (the same trick as Node's Buffer pool). Slices are never reused: a slab is
// only ever appended to and then dropped, so one token's bytes are never overwritten by another's.
// parseJWS is synchronous, so the text scratch buffer below is never seen by two calls at once.
const SLAB_BYTES = 64 * 1024
let slab = new ArrayBuffer(SLAB_BYTES)
let slabOffset = 0

function allocate(size: number): Uint8Array {
  if (size > SLAB_BYTES >> 3) return new Uint8Array(size)
  if (slabOffset + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES)
    slabOffset = 0
  }
  const view = new Uint8Array(slab, slabOffset, size)
  slabOffset += (size + 7) & ~7
  return view
}

const encoder = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
let textScratch = new Uint8Array(3072)

// Issuers send the same few headers again and again: parsed headers are kept by their encoded
// segment (bounded, oldest dropped). Only the parse is cached; the policy checks run every time.
const HEADER_CACHE_SIZE = 64
const headerCache = new Map<string, Record<string, unknown>>()

let lastSegment = ''
let lastHeader: Record<string, unknown> = {}

function readHeader(token: string, ascii: Uint8Array, end: number): Record<string, unknown> {
  if (end === lastSegment.length && token.startsWith(lastSegment)) return lastHeader
  const segment = token.slice(0, end)
  const header = headerCache.get(segment) ?? parseHeader(segment, ascii, end)
  lastSegment = segment
  lastHeader = header
  return header
}

function parseHeader(segment: string, ascii: Uint8Array, end: number): Record<string, unknown> {
  const header = Object.freeze(decodeJSONSegment(ascii, 0, end))
  if (headerCache.size >= HEADER_CACHE_SIZE) {
    const oldest = headerCache.keys().next()
    if (oldest.done !== true) headerCache.delete(oldest.value)
  }
  headerCache.set(segment, header)
  return header
}

/**
 * Decodes one base64url segment of `ascii` to a JSON object, refusing invalid base64url, invalid
 * UTF-8 (fatal decoder; a BOM is kept and then refused by JSON.parse), non-objects and duplicate
 * member names.
 */
function decodeJSONSegment(ascii: Uint8Array, start: number, end: number): Record<string, unknown> {
  const size = decodedLength(end - start)
  if (size < 0) throw new JWTError('malformed')
  if (textScratch.length < size) {
    textScratch = new Uint8Array(Math.max(size, textScratch.length * 2))
  }
  const bytes = textScratch
  if (decodeBase64URLInto(ascii, start, end, bytes, 0) !== size) throw new JWTError('malformed')
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(bytes.subarray(0, size)))
  } catch {
    throw new JWTError('malformed')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JWTError('malformed')
  }
  if (countMembers(bytes, size) !== countKeys(value)) throw new JWTError('duplicate_member')
  return value as Record<string, unknown>
}

function checkHeader(header: Record<string, unknown>, algorithms: ReadonlySet<string>): JWSHeader {
  const { alg, kid, typ, cty } = header
  if (typeof alg !== 'string') throw new JWTError('malformed')
  // RFC 8725 §3.1 / RFC 9068 §4: `none` is refused even if someone put it in the allow-list.
  if (!algorithms.has(alg) || (alg.length === 4 && alg.toLowerCase() === 'none')) {
    throw new JWTError('alg_not_allowed')
  }
  if (header.crit !== undefined) throw new JWTError('crit_unsupported')
  if (header.b64 !== undefined && header.b64 !== true) throw new JWTError('b64_unsupported')
  if (header.enc !== undefined || header.zip !== undefined) throw new JWTError('jwe_unsupported')
  if (kid !== undefined && typeof kid !== 'string') throw new JWTError('malformed')
  if (typ !== undefined && typeof typ !== 'string') throw new JWTError('malformed')
  if (cty !== undefined) {
    if (typeof cty !== 'string') throw new JWTError('malformed')
    // RFC 7519 §5.2: cty "JWT" (any case, with or without "application/") marks a nested JWT.
    if (normalizeMediaType(cty) === 'jwt') throw new JWTError('nested_jwt_unsupported')
  }
  return header as JWSHeader
}

/**
 * Lower-cases a `typ`/`cty` value and drops an `application/` prefix (RFC 7515 §4.1.9), so that
 * `application/at+JWT` and `at+jwt` compare equal.
 */
export function normalizeMediaType(value: string): string {
  const lower = value.toLowerCase()
  return lower.startsWith('application/') ? lower.slice(12) : lower
}

/**
 * Counts the member separators (`:` outside strings) in the UTF-8 bytes of a text JSON.parse
 * accepted: one per member written. JSON.parse keeps only the last of duplicate names, so fewer
 * parsed keys than written members means a duplicate somewhere, at any depth, including `"a"`
 * vs `"\u0061"`. Bytes, not characters: `"`, `\` and `:` never occur inside a multi-byte sequence.
 */
function countMembers(bytes: Uint8Array, length: number): number {
  let count = 0
  let inString = false
  for (let i = 0; i < length; i++) {
    const c = bytes[i]
    if (inString) {
      if (c === 92)
        i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 58) count++
  }
  return count
}

function countKeys(root: object): number {
  let count = 0
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value !== 'object' || value === null) continue
    if (Array.isArray(value)) {
      for (const item of value) if (typeof item === 'object' && item !== null) stack.push(item)
      continue
    }
    for (const key in value) {
      count++
      const item = (value as Record<string, unknown>)[key]
      if (typeof item === 'object' && item !== null) stack.push(item)
    }
  }
  return count
}

function countDots(token: string): number {
  let dots = 0
  for (let i = token.indexOf('.'); i >= 0; i = token.indexOf('.', i + 1)) dots++
  return dots
}
