/** The stand-in's signing keys: RS256 with a `kid`, rotated on demand (the old key stays published). */
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose'
import { randomBytes } from 'node:crypto'

interface SigningKey {
  kid: string
  privateKey: CryptoKey
  publicJwk: JWK
}

export class KeyRing {
  #keys: SigningKey[] = []

  static async create(): Promise<KeyRing> {
    const ring = new KeyRing()
    await ring.rotate()
    return ring
  }

  /** A new current key; the previous one stays in the JWKS (as Entra publishes several). */
  async rotate(): Promise<string> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
    const kid = randomBytes(12).toString('base64url')
    const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', kty: 'RSA' }
    this.#keys = [{ kid, privateKey, publicJwk }, ...this.#keys].slice(0, 2)
    return kid
  }

  jwks(): { keys: JWK[] } {
    return { keys: this.#keys.map((k) => k.publicJwk) }
  }

  async sign(payload: JWTPayload, typ = 'JWT'): Promise<string> {
    const key = this.#keys[0]
    if (!key) throw new Error('no key')
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ })
      .sign(key.privateKey)
  }

  /** The public key for a kid (Graph's own check of the tokens). */
  publicJwk(kid: string | undefined): JWK | undefined {
    return this.#keys.find((k) => k.kid === kid)?.publicJwk
  }
}
