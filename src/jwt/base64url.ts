/**
 * Strict base64url (RFC 4648 §5, no padding) for JWS segments, without `Buffer` or `atob`: a
 * lookup-table decoder that refuses anything a canonical encoder would not have written.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

// 255 marks a character outside the alphabet (including '=', '+', '/', whitespace, non-ASCII).
const DECODE = new Uint8Array(256).fill(255)
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Decodes `input[start, end)` as strict base64url into bytes.
 *
 * Refuses (returns `undefined`): padding, `+`/`/`, any character outside the alphabet, a length
 * that no encoder produces (`len % 4 === 1`) and non-zero trailing bits (a non-canonical
 * encoding). An empty range decodes to an empty array.
 */
export function decodeBase64Url(
  input: string,
  start = 0,
  end = input.length,
): Uint8Array | undefined {
  const length = end - start
  const rest = length & 3
  if (rest === 1) return undefined
  const out = new Uint8Array((length >> 2) * 3 + (rest === 0 ? 0 : rest - 1))
  const whole = start + length - rest
  let o = 0
  let i = start
  for (; i < whole; i += 4) {
    // Non-ASCII first: a charCode past the table would read `undefined`.
    const c0 = input.charCodeAt(i)
    const c1 = input.charCodeAt(i + 1)
    const c2 = input.charCodeAt(i + 2)
    const c3 = input.charCodeAt(i + 3)
    if ((c0 | c1 | c2 | c3) > 127) return undefined
    const a = DECODE[c0] as number
    const b = DECODE[c1] as number
    const c = DECODE[c2] as number
    const d = DECODE[c3] as number
    if ((a | b | c | d) > 63) return undefined
    const n = (a << 18) | (b << 12) | (c << 6) | d
    out[o++] = n >> 16
    out[o++] = (n >> 8) & 255
    out[o++] = n & 255
  }
  if (rest !== 0) {
    const c0 = input.charCodeAt(i)
    const c1 = input.charCodeAt(i + 1)
    const c2 = rest === 3 ? input.charCodeAt(i + 2) : 65 // 'A' decodes to 0
    if ((c0 | c1 | c2) > 127) return undefined
    const a = DECODE[c0] as number
    const b = DECODE[c1] as number
    const c = DECODE[c2] as number
    if ((a | b | c) > 63) return undefined
    const n = (a << 18) | (b << 12) | (c << 6)
    // Canonical encodings leave the unused low bits at zero.
    if (rest === 2 ? (n & 0xffff) !== 0 : (n & 0xff) !== 0) return undefined
    out[o++] = n >> 16
    if (rest === 3) out[o] = (n >> 8) & 255
  }
  return out
}

/**
 * Decodes `input[start, end)` as strict base64url and then as UTF-8 text.
 *
 * ASCII content (every JWT we expect) takes a fast path; anything else goes through a fatal
 * `TextDecoder`, so invalid UTF-8 and a leading BOM are kept visible to the caller (JSON.parse
 * then refuses the BOM). Returns `undefined` for invalid base64url or invalid UTF-8.
 */
export function decodeBase64UrlToText(
  input: string,
  start = 0,
  end = input.length,
): string | undefined {
  const bytes = decodeBase64Url(input, start, end)
  if (bytes === undefined) return undefined
  let high = 0
  for (let i = 0; i < bytes.length; i++) high |= bytes[i] as number
  if (high < 128) {
    if (bytes.length <= 8192) return String.fromCharCode.apply(null, bytes as unknown as number[])
    let text = ''
    for (let i = 0; i < bytes.length; i += 8192) {
      text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[])
    }
    return text
  }
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** Encodes bytes (or a string as UTF-8) as unpadded base64url. Not on any hot path. */
export function encodeBase64Url(input: Uint8Array | string): string {
  const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input
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
