/**
 * Server-provided DPoP nonces (RFC 9449 §8, §9), stateless: a nonce is a time window's number and
 * an HMAC-SHA-256 of it under a key derived (HKDF) from the configured secret. Every instance with
 * the same secret mints and accepts the same nonces, with no store. A nonce is accepted during
 * its own window and the next one, so it rotates every `rotationSeconds` and lives at most twice
 * that; clients pick up the current one from the `DPoP-Nonce` header of any answer.
 */
import { base64url } from 'jose'

export interface DPoPNonces {
  /** The nonce of the current window (the one to send in `DPoP-Nonce`). */
  current(): Promise<string>
  /** Whether `nonce` was minted with this secret for the current or the previous window. */
  check(nonce: string): Promise<boolean>
}

export interface DPoPNoncesOptions {
  /** The configured secret (32+ characters). */
  secret: string
  rotationSeconds: number
  /** Milliseconds since the epoch. */
  now: () => number
}

/** Derives the nonce key and returns the nonce source. */
export async function createDPoPNonces(options: DPoPNoncesOptions): Promise<DPoPNonces> {
  const encoder = new TextEncoder()
  const material = await crypto.subtle.importKey(
    'raw',
    encoder.encode(options.secret),
    'HKDF',
    false,
    ['deriveKey'],
  )
  const key = await crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: new Uint8Array(0),
      info: encoder.encode('gatehouse dpop nonce v1'),
    },
    material,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign', 'verify'],
  )
  const windowMs = options.rotationSeconds * 1000
  const windowOf = () => Math.floor(options.now() / windowMs)
  const mac = async (window: number) =>
    base64url.encode(
      new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`dpop:${window}`))),
    )
  return {
    async current() {
      const window = windowOf()
      return `${window.toString(36)}.${await mac(window)}`
    },
    async check(nonce) {
      const match = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/.exec(nonce)
      if (!match) return false
      const window = parseInt(match[1] as string, 36)
      const now = windowOf()
      if (window !== now && window !== now - 1) return false
      let signature: Uint8Array
      try {
        signature = base64url.decode(match[2] as string)
      } catch {
        return false
      }
      // Constant-time comparison by the platform.
      return crypto.subtle.verify(
        'HMAC',
        key,
        signature as Uint8Array<ArrayBuffer>,
        encoder.encode(`dpop:${window}`),
      )
    },
  }
}
