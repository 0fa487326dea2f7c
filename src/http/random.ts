/** Randomness and hashing for identifiers, codes and tokens (Web Crypto only). */
import { base64url } from 'jose'

/** `bytes` random bytes as base64url (32 bytes = 256 bits). */
export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)))
}

/**
 * How a SHA-256 (base64url) is computed where it is injectable: {@link sha256} (Web Crypto) by
 * default; Node entry points inject `nodeSha256` from `mcp-gatehouse/node`, synchronous, which
 * measured ~6 µs of process CPU per short input against ~51 µs through `crypto.subtle.digest`
 * and its thread-pool hop (issue 17, 2-core VM).
 */
export type Sha256Function = (text: string) => string | Promise<string>

/** SHA-256 of a string, base64url: how tokens, codes and secrets are stored. */
export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return base64url.encode(new Uint8Array(digest))
}

/**
 * Compares two strings in time that depends only on their lengths. Anything but two non-empty
 * strings is unequal: a signed cookie without the expected member (read as `undefined`, which
 * encodes to nothing) must not match an empty form field.
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const known: unknown = a
  if (typeof known !== 'string' || typeof b !== 'string' || a === '') return false
  const x = new TextEncoder().encode(a)
  const y = new TextEncoder().encode(b)
  let diff = x.length ^ y.length
  const n = Math.max(x.length, y.length)
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0)
  return diff === 0
}
