import { StoreError } from '../errors.js'
import type { Store } from './store.js'
import { isEnvelope, webCryptoValueCipher } from './value-cipher.js'
import type { Envelope, ValueCipherFactory } from './value-cipher.js'

/** Options for {@link createEncryptedStore}. */
export interface EncryptedStoreOptions {
  /** Key material, at least 32 bytes (a string counts its UTF-8 bytes); keep it out of the store. */
  secret: string | Uint8Array
  /** HKDF `info`: a different value derives an unrelated key from the same secret. */
  info?: string
  /**
   * How values are sealed: Web Crypto by default; on Node `nodeValueCipher` from
   * `mcp-gatehouse/node` (synchronous `node:crypto`, the same envelope). Either opens what the
   * other wrote.
   */
  valueCipher?: ValueCipherFactory
}

const MIN_SECRET_BYTES = 32
const DEFAULT_INFO = 'store-encryption'
const DECRYPT_MESSAGE =
  'cannot decrypt stored value: the configured secret does not match the one it was written with, or the value was tampered with'

const encoder = new TextEncoder()

/**
 * Wraps a store so that values are encrypted at rest with AES-256-GCM.
 *
 * The key is derived from `secret` with HKDF-SHA-256; every value gets a random 96-bit IV, and the
 * storage key is bound as additional authenticated data, so a ciphertext copied under another key
 * does not decrypt. The inner store holds `{ v: 1, iv, ct }` (base64url). Keys and TTLs are not
 * encrypted. Values go through JSON: one with no JSON form throws `TypeError`. `commit` seals the
 * values it writes and passes the step on whole; locks (`acquireLock`, `releaseLock`) pass through
 * unencrypted, since they hold only their owner's random token. The sealing is Web Crypto unless
 * `valueCipher` says otherwise; a synchronous cipher (node:crypto) adds no promise to a call.
 *
 * Errors: rejects with `TypeError` when the secret is shorter than 32 bytes. Reading a value written
 * with another secret, or altered, rejects with `StoreError` `ERR_STORE_DECRYPT` (a `take` has then
 * already removed it); the inner store's errors pass through unchanged.
 *
 * Defaults: `info` `store-encryption`, `valueCipher` Web Crypto.
 */
export async function createEncryptedStore(
  inner: Store,
  options: EncryptedStoreOptions,
): Promise<Store> {
  // Copy: the caller's array stays theirs (and Web Crypto wants an ArrayBuffer-backed view).
  const secret = options.secret
  const material = typeof secret === 'string' ? encoder.encode(secret) : new Uint8Array(secret)
  if (material.byteLength < MIN_SECRET_BYTES) {
    throw new TypeError('secret must be at least 32 bytes')
  }
  const cipher = await (options.valueCipher ?? webCryptoValueCipher).deriveCipher(
    material,
    options.info ?? DEFAULT_INFO,
  )

  /** The envelope for `value`, or a promise of it when the cipher is asynchronous. */
  function seal(storageKey: string, value: unknown): Envelope | Promise<Envelope> {
    const plaintext = JSON.stringify(value) as string | undefined
    if (plaintext === undefined) {
      throw new TypeError('encrypted store: value has no JSON representation')
    }
    return cipher.seal(storageKey, plaintext)
  }

  /** The value of a stored envelope; synchronous when the cipher is. Throws `ERR_STORE_DECRYPT`. */
  function open<T>(storageKey: string, stored: unknown): T | undefined | Promise<T> {
    if (stored === undefined) return undefined
    let plaintext: string | Promise<string>
    try {
      if (!isEnvelope(stored)) throw new Error('not an encrypted envelope')
      plaintext = cipher.open(storageKey, stored)
    } catch (error) {
      throw decryptError(error)
    }
    if (typeof plaintext === 'string') return parse(plaintext) as T
    return plaintext.then(
      (text) => parse(text) as T,
      (error: unknown) => {
        throw decryptError(error)
      },
    )
  }

  return {
    get<T>(storageKey: string) {
      return inner.get(storageKey).then((stored) => open<T>(storageKey, stored))
    },
    set(storageKey, value, setOptions) {
      return attempt(() => {
        const sealed = seal(storageKey, value)
        return isEnvelope(sealed)
          ? inner.set(storageKey, sealed, setOptions)
          : sealed.then((envelope) => inner.set(storageKey, envelope, setOptions))
      })
    },
    setIfAbsent(storageKey, value, setOptions) {
      return attempt(() => {
        const sealed = seal(storageKey, value)
        return isEnvelope(sealed)
          ? inner.setIfAbsent(storageKey, sealed, setOptions)
          : sealed.then((envelope) => inner.setIfAbsent(storageKey, envelope, setOptions))
      })
    },
    take<T>(storageKey: string) {
      return inner.take(storageKey).then((stored) => open<T>(storageKey, stored))
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
    commit(step) {
      // Sealed before the step reaches the inner store, so the step stays one atomic unit there.
      return attempt(() => {
        const writes = step.set ?? []
        const sealed: (Envelope | Promise<Envelope>)[] = writes.map((w) => seal(w.key, w.value))
        const apply = (values: readonly Envelope[]) =>
          inner.commit({ ...step, set: writes.map((w, i) => ({ ...w, value: values[i] })) })
        const ready = sealed.filter(isEnvelope)
        if (ready.length === sealed.length) return apply(ready)
        return Promise.all(sealed.map((s) => Promise.resolve(s))).then(apply)
      })
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

// Wrong secret, tampering, a moved ciphertext and a plaintext leftover look the same here on
// purpose: GCM cannot tell them apart, and the fix (check the secret) is the same.
function decryptError(cause: unknown): StoreError {
  return new StoreError('ERR_STORE_DECRYPT', DECRYPT_MESSAGE, { cause })
}

function parse(plaintext: string): unknown {
  try {
    return JSON.parse(plaintext) as unknown
  } catch (error) {
    throw decryptError(error)
  }
}

/** Runs `operation`, turning a synchronous throw into a rejection: store methods never throw. */
function attempt<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation()
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}
