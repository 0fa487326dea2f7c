/**
 * Strict base64url (RFC 4648 §5, no padding) for JWS segments, without `Buffer` or `atob`: a
 * lookup-table decoder that refuses anything a canonical encoder would not have written. The hot
 * path decodes from ASCII bytes (one native `TextEncoder.encodeInto` of the token first), which
 * measured about twice as fast on V8 as reading the string with `charCodeAt`.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

// 255 marks a byte outside the alphabet (including '=', '+', '/', whitespace, non-ASCII).
const DECODE = new Uint8Array(256).fill(255)
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i

const encoder = new TextEncoder()

/** Bytes produced by decoding `length` base64url characters, or -1 for an impossible length. */
export function decodedLength(length: number): number {
  const rest = length & 3
  if (rest === 1) return -1
  return (length >> 2) * 3 + (rest === 0 ? 0 : rest - 1)
}

/**
 * Decodes the ASCII bytes `src[start, end)` as strict base64url into `out` at `offset`.
 *
 * Returns the number of bytes written, or -1 when the input is refused: padding, `+`/`/`, any
 * byte outside the alphabet, a length no encoder produces (`len % 4 === 1`) or non-zero trailing
 * bits (a non-canonical encoding). `out` must hold `decodedLength(end - start)` bytes from offset.
 */
export function decodeBase64URLInto(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  offset: number,
): number {
  const rest = (end - start) & 3
  if (rest === 1) return -1
  const whole = end - rest
  let o = offset
  let i = start
  for (; i < whole; i += 4) {
    const a = DECODE[src[i] as number] as number
    const b = DECODE[src[i + 1] as number] as number
    const c = DECODE[src[i + 2] as number] as number
    const d = DECODE[src[i + 3] as number] as number
    if ((a | b | c | d) > 63) return -1
    const n = (a << 18) | (b << 12) | (c << 6) | d
    out[o] = n >> 16
    out[o + 1] = (n >> 8) & 255
    out[o + 2] = n & 255
    o += 3
  }
  if (rest !== 0) {
    const a = DECODE[src[i] as number] as number
    const b = DECODE[src[i + 1] as number] as number
    const c = rest === 3 ? (DECODE[src[i + 2] as number] as number) : 0
    if ((a | b | c) > 63) return -1
    const n = (a << 18) | (b << 12) | (c << 6)
    // Canonical encodings leave the unused low bits at zero.
    if (rest === 2 ? (n & 0xffff) !== 0 : (n & 0xff) !== 0) return -1
    out[o++] = n >> 16
    if (rest === 3) out[o++] = (n >> 8) & 255
  }
  return o - offset
}

/**
 * Decodes a whole string as strict base64url (same rules as `decodeBase64URLInto`).
 * Returns `undefined` when refused, including for non-ASCII input. Not on the hot path.
 */
export function decodeBase64URL(input: string): Uint8Array | undefined {
  const size = decodedLength(input.length)
  if (size < 0) return undefined
  const ascii = new Uint8Array(input.length)
  if (encoder.encodeInto(input, ascii).written !== input.length) return undefined
  const out = new Uint8Array(size)
  return decodeBase64URLInto(ascii, 0, ascii.length, out, 0) === size ? out : undefined
}

/** Encodes bytes (or a string as UTF-8) as unpadded base64url. Not on any hot path. */
export function encodeBase64URL(input: Uint8Array | string): string {
  const bytes = typeof input === 'string' ? encoder.encode(input) : input
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out +=
      ALPHABET.charAt(n >> 18) +
      ALPHABET.charAt((n >> 12) & 63) +
      ALPHABET.charAt((n >> 6) & 63) +
      ALPHABET.charAt(n & 63)
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = (bytes[i] as number) << 16
    out += ALPHABET.charAt(n >> 18) + ALPHABET.charAt((n >> 12) & 63)
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8)
    out +=
      ALPHABET.charAt(n >> 18) + ALPHABET.charAt((n >> 12) & 63) + ALPHABET.charAt((n >> 6) & 63)
  }
  return out
}
