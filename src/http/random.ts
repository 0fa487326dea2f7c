/** Randomness and hashing for identifiers, codes and tokens (Web Crypto only). */
import { base64url } from 'jose'

/**
 * Hand-written pool, measured (issue 17): on Node one `getRandomValues` call costs 6 µs of CPU in
 * a tight loop and 16-38 µs between requests, whatever its size up to 64 KiB (a sync job object
 * and an OpenSSL call each), and a sign-in made four (code, grant id, refresh token, `jti`): about
 * 25 µs of a 360 µs ES256 flow in process. The pool is filled 8 KiB at a time.
 */
const POOL_BYTES = 8192
/** Larger requests than this are drawn on their own (they would drain the pool for one caller). */
const POOLED_MAX = 256
const pool = new Uint8Array(POOL_BYTES)
let offset = POOL_BYTES

/**
 * `count` fresh random bytes from the platform's CSPRNG. Small counts come from a pool refilled by
 * one `getRandomValues` call: every byte is handed out once, as a copy, and zeroed in the pool as
 * it leaves, so the pool holds only bytes nobody has yet (the same CSPRNG output as a call each).
 * The pool is this module's state: a process image copied with its memory after use (a V8 startup
 * snapshot, `fork` without `exec`) would repeat it, as it would Node's own `randomUUID` cache.
 */
export function randomBytes(count: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError('count must be a whole number')
  if (count > POOLED_MAX) return crypto.getRandomValues(new Uint8Array(count))
  if (offset + count > POOL_BYTES) {
    crypto.getRandomValues(pool)
    offset = 0
  }
  const end = offset + count
  const bytes = pool.slice(offset, end)
  pool.fill(0, offset, end)
  offset = end
  return bytes
}

/** `bytes` random bytes as base64url (32 bytes = 256 bits). */
export function randomToken(bytes = 32): string {
  return base64url.encode(randomBytes(bytes))
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
