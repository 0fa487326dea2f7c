/**
 * The `node:crypto` implementation of `ValueCipherFactory` (storage/value-cipher.ts): synchronous
 * AES-256-GCM with `createCipheriv` and `Buffer` base64url, the key derived once with `hkdfSync`
 * exactly as the Web Crypto default derives it. Node entry points inject it; the core never
 * imports this file.
 *
 * Hand-written fast path, measured (docs/benchmarks.md, Store): Web Crypto seals on libuv's thread
 * pool and answers with a promise, which left the encrypted memory store at 0.05-0.08x of the raw
 * store for `get`; this cipher needs no hop. IVs come from the shared random pool (http/random.ts):
 * one `randomBytes(12)` of node:crypto cost 16-38 µs here (an OpenSSL call each), more than the
 * AES-GCM itself. The envelope is the Web Crypto one (`ct` is the ciphertext followed by the
 * 16-byte tag), so either implementation opens what the other wrote.
 */

import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync } from 'node:crypto'
import { randomBytes } from '../http/random.js'
import {
  VALUE_CIPHER_IV_BYTES,
  VALUE_CIPHER_SALT,
  VALUE_CIPHER_TAG_BYTES,
} from '../storage/value-cipher.js'
import type { ValueCipher, ValueCipherFactory } from '../storage/value-cipher.js'

const KEY_BYTES = 32
const ALGORITHM = 'aes-256-gcm'

/**
 * Seals and opens the encrypted store's values with `node:crypto`, synchronously. Pass it as
 * `valueCipher` to `createGatehouse` (or `createEncryptedStore`); values written before the switch
 * stay readable, and a later switch back to Web Crypto reads what this one wrote.
 *
 * `open` throws for an envelope that does not authenticate (wrong key, altered, moved to another
 * storage key) or whose IV or ciphertext is too short; the encrypted store reports it as
 * `StoreError` `ERR_STORE_DECRYPT`.
 */
export const nodeValueCipher: ValueCipherFactory = {
  deriveCipher(secret, info) {
    try {
      return Promise.resolve(createNodeCipher(secret, info))
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new TypeError('key derivation failed'))
    }
  },
}

function createNodeCipher(secret: Uint8Array, info: string): ValueCipher {
  // RFC 5869 HKDF-SHA-256, the same salt, info and length as the Web Crypto deriveKey.
  const key = createSecretKey(
    Buffer.from(hkdfSync('sha256', secret, VALUE_CIPHER_SALT, info, KEY_BYTES)),
  )
  return {
    seal(aad, plaintext) {
      // A Buffer over the fresh copy's own memory (no second copy), for its base64url.
      const iv = Buffer.from(randomBytes(VALUE_CIPHER_IV_BYTES).buffer)
      const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: VALUE_CIPHER_TAG_BYTES })
      cipher.setAAD(Buffer.from(aad, 'utf8'))
      const head = cipher.update(plaintext, 'utf8')
      const tail = cipher.final()
      const ct = Buffer.concat([head, tail, cipher.getAuthTag()])
      return { v: 1, iv: iv.toString('base64url'), ct: ct.toString('base64url') }
    },
    open(aad, envelope) {
      const iv = Buffer.from(envelope.iv, 'base64url')
      const sealed = Buffer.from(envelope.ct, 'base64url')
      if (iv.length !== VALUE_CIPHER_IV_BYTES || sealed.length < VALUE_CIPHER_TAG_BYTES) {
        throw new Error('malformed envelope')
      }
      const end = sealed.length - VALUE_CIPHER_TAG_BYTES
      const decipher = createDecipheriv(ALGORITHM, key, iv, {
        authTagLength: VALUE_CIPHER_TAG_BYTES,
      })
      decipher.setAAD(Buffer.from(aad, 'utf8'))
      decipher.setAuthTag(sealed.subarray(end))
      const head = decipher.update(sealed.subarray(0, end))
      // final() checks the tag: nothing decrypted is returned before it has passed.
      const tail = decipher.final()
      return (tail.length === 0 ? head : Buffer.concat([head, tail])).toString('utf8')
    },
  }
}
