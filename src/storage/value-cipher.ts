/**
 * The sealing of stored values behind one small interface, so the runtime-neutral encrypted store
 * uses Web Crypto by default while Node entry points inject the synchronous `node:crypto` path
 * (`nodeValueCipher`, adapters/node-value-cipher.ts). Both write the same envelope, byte for byte
 * in format: what one seals the other opens (test/contract/storage-encryption.test.ts).
 *
 * Why a port: Web Crypto is asynchronous, so every seal or open is a job on libuv's thread pool
 * and a promise back on the main thread; on Node that was most of the encrypted store's cost
 * (docs/benchmarks.md, Store).
 */

/**
 * What the inner store holds in place of each value: AES-256-GCM with a 96-bit `iv`, `ct` the
 * ciphertext followed by the 128-bit tag (Web Crypto's layout), both base64url without padding.
 */
export interface Envelope {
  v: 1
  iv: string
  ct: string
}

/**
 * Seals and opens values under one derived key. Either method may answer synchronously
 * (node:crypto) or with a promise (Web Crypto); the encrypted store awaits only a promise.
 *
 * `aad` is the storage key, bound as additional authenticated data. `open` throws (or rejects)
 * for any envelope that does not authenticate; the encrypted store turns that into `StoreError`
 * `ERR_STORE_DECRYPT`, so the error's text never reaches a caller.
 */
export interface ValueCipher {
  seal(aad: string, plaintext: string): Envelope | Promise<Envelope>
  open(aad: string, envelope: Envelope): string | Promise<string>
}

/**
 * Derives the key once and returns the cipher that uses it. `secret` has already been checked
 * (at least 32 bytes) and is the implementation's own copy. Key: HKDF-SHA-256 of `secret` with
 * salt {@link VALUE_CIPHER_SALT} and the given `info`, 32 bytes, for AES-256-GCM.
 */
export interface ValueCipherFactory {
  deriveCipher(secret: Uint8Array, info: string): Promise<ValueCipher>
}

// A fixed salt is fine for HKDF when the input is already high-entropy key material (RFC 5869 §3.1);
// it separates this use of the secret from any other. Changing it makes every stored value unreadable.
export const VALUE_CIPHER_SALT = 'mcp-gatehouse/storage/v1'
export const VALUE_CIPHER_IV_BYTES = 12
/** Bytes of the GCM tag at the end of `ct`. */
export const VALUE_CIPHER_TAG_BYTES = 16

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** The Web Crypto (`crypto.subtle`) `ValueCipherFactory`: the default, on every runtime. */
export const webCryptoValueCipher: ValueCipherFactory = {
  async deriveCipher(secret, info) {
    const base = await crypto.subtle.importKey('raw', new Uint8Array(secret), 'HKDF', false, [
      'deriveKey',
    ])
    const key = await crypto.subtle.deriveKey(
      {
        name: 'HKDF',
        hash: 'SHA-256',
        salt: encoder.encode(VALUE_CIPHER_SALT),
        info: encoder.encode(info),
      },
      base,
      { name: 'AES-GCM', length: 256 },
      false,
      ['encrypt', 'decrypt'],
    )
    const nextIv = createIvPool()
    return {
      async seal(aad, plaintext) {
        const iv = nextIv()
        const ct = await crypto.subtle.encrypt(
          { name: 'AES-GCM', iv, additionalData: encoder.encode(aad) },
          key,
          encoder.encode(plaintext),
        )
        return { v: 1, iv: toBase64URL(iv), ct: toBase64URL(new Uint8Array(ct)) }
      },
      async open(aad, envelope) {
        const plaintext = await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: fromBase64URL(envelope.iv), additionalData: encoder.encode(aad) },
          key,
          fromBase64URL(envelope.ct),
        )
        return decoder.decode(plaintext)
      },
    }
  },
}

/**
 * Fresh random IVs, 256 per `getRandomValues` call: one call costs 16-18 µs on Node here whatever
 * the size (up to 64 KiB), more than the AES-GCM of a small value. Every IV is read once from
 * CSPRNG output, so they are exactly as unique as one call each (GCM needs unique, not secret,
 * IVs); each is a copy, so a refill cannot change one still in use.
 */
function createIvPool(): () => Uint8Array<ArrayBuffer> {
  const pool = new Uint8Array(VALUE_CIPHER_IV_BYTES * 256)
  let offset = pool.length
  return () => {
    if (offset === pool.length) {
      crypto.getRandomValues(pool)
      offset = 0
    }
    offset += VALUE_CIPHER_IV_BYTES
    return pool.slice(offset - VALUE_CIPHER_IV_BYTES, offset)
  }
}

/** Whether a stored value has the envelope's shape (its contents are checked by `open`). */
export function isEnvelope(value: unknown): value is Envelope {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return record.v === 1 && typeof record.iv === 'string' && typeof record.ct === 'string'
}

function toBase64URL(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Throws on characters outside base64url; the caller reports that as a decryption failure. */
function fromBase64URL(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}
