import { StoreError } from '../errors.js'
import type { Store } from './store.js'

/** Options for {@link createEncryptedStore}. */
export interface EncryptedStoreOptions {
  /** Key material, at least 32 bytes (a string counts its UTF-8 bytes); keep it out of the store. */
  secret: string | Uint8Array
  /** HKDF `info`: a different value derives an unrelated key from the same secret. */
  info?: string
}

/** What the inner store holds in place of each value. */
interface Envelope {
  v: 1
  iv: string
  ct: string
}

const MIN_SECRET_BYTES = 32
// A fixed salt is fine for HKDF when the input is already high-entropy key material (RFC 5869 §3.1);
// it separates this use of the secret from any other.
const SALT = 'mcp-gatehouse/storage/v1'
const DEFAULT_INFO = 'store-encryption'
const IV_BYTES = 12
const DECRYPT_MESSAGE =
  'cannot decrypt stored value: the configured secret does not match the one it was written with, or the value was tampered with'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Wraps a store so that values are encrypted at rest with AES-256-GCM, using Web Crypto only.
 *
 * The key is derived from `secret` with HKDF-SHA-256; every value gets a random 96-bit IV, and the
 * storage key is bound as additional authenticated data, so a ciphertext copied under another key
 * does not decrypt. The inner store holds `{ v: 1, iv, ct }` (base64url). Keys and TTLs are not
 * encrypted. Values go through JSON: one with no JSON form throws `TypeError`. `commit` seals the
 * values it writes and passes the step on whole; locks (`acquireLock`, `releaseLock`) pass through
 * unencrypted, since they hold only their owner's random token.
 *
 * Errors: rejects with `TypeError` when the secret is shorter than 32 bytes. Reading a value written
 * with another secret, or altered, rejects with `StoreError` `ERR_STORE_DECRYPT` (a `take` has then
 * already removed it); the inner store's errors pass through unchanged.
 *
 * Defaults: `info` `store-encryption`.
 */
export async function createEncryptedStore(
  inner: Store,
  options: EncryptedStoreOptions,
): Promise<Store> {
  const key = await deriveKey(options.secret, options.info ?? DEFAULT_INFO)

  async function seal(storageKey: string, value: unknown): Promise<Envelope> {
    const plaintext = JSON.stringify(value) as string | undefined
    if (plaintext === undefined) {
      throw new TypeError('encrypted store: value has no JSON representation')
    }
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
    const ct = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(storageKey) },
      key,
      encoder.encode(plaintext),
    )
    return { v: 1, iv: toBase64URL(iv), ct: toBase64URL(new Uint8Array(ct)) }
  }

  async function open<T>(storageKey: string, stored: unknown): Promise<T | undefined> {
    if (stored === undefined) return undefined
    try {
      if (!isEnvelope(stored)) throw new Error('not an encrypted envelope')
      const plaintext = await crypto.subtle.decrypt(
        {
          name: 'AES-GCM',
          iv: fromBase64URL(stored.iv),
          additionalData: encoder.encode(storageKey),
        },
        key,
        fromBase64URL(stored.ct),
      )
      return JSON.parse(decoder.decode(plaintext)) as T
    } catch (error) {
      // Wrong secret, tampering, a moved ciphertext and a plaintext leftover look the same here on
      // purpose: GCM cannot tell them apart, and the fix (check the secret) is the same.
      throw new StoreError('ERR_STORE_DECRYPT', DECRYPT_MESSAGE, { cause: error })
    }
  }

  return {
    async get<T>(storageKey: string) {
      return open<T>(storageKey, await inner.get(storageKey))
    },
    async set(storageKey, value, setOptions) {
      await inner.set(storageKey, await seal(storageKey, value), setOptions)
    },
    async setIfAbsent(storageKey, value, setOptions) {
      return inner.setIfAbsent(storageKey, await seal(storageKey, value), setOptions)
    },
    async take<T>(storageKey: string) {
      return open<T>(storageKey, await inner.take(storageKey))
    },
    delete(storageKey) {
      return inner.delete(storageKey)
    },
    // Keys are not encrypted (see above), so listing passes straight through.
    async scan(prefix) {
      if (inner.scan === undefined) {
        throw new TypeError('encrypted store: the inner store cannot list keys (no scan)')
      }
      return inner.scan(prefix)
    },
    async commit(step) {
      // Sealed before the step reaches the inner store, so the step stays one atomic unit there.
      const writes = await Promise.all(
        (step.set ?? []).map(async (w) => ({ ...w, value: await seal(w.key, w.value) })),
      )
      return inner.commit({ ...step, set: writes })
    },
    // A lock holds only its owner's random token: nothing to hide, and the fenced release must
    // compare it inside the inner store, which it cannot do with a ciphertext.
    acquireLock(storageKey, owner, lockOptions) {
      return inner.acquireLock(storageKey, owner, lockOptions)
    },
    releaseLock(storageKey, owner) {
      return inner.releaseLock(storageKey, owner)
    },
    close() {
      return inner.close()
    },
  }
}

async function deriveKey(secret: string | Uint8Array, info: string): Promise<CryptoKey> {
  // Copy: the caller's array stays theirs, and Web Crypto wants an ArrayBuffer-backed view.
  const material = typeof secret === 'string' ? encoder.encode(secret) : new Uint8Array(secret)
  if (material.byteLength < MIN_SECRET_BYTES) {
    throw new TypeError('secret must be at least 32 bytes')
  }
  const base = await crypto.subtle.importKey('raw', material, 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(SALT), info: encoder.encode(info) },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
}

function isEnvelope(value: unknown): value is Envelope {
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
