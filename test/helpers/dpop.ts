/**
 * DPoP proofs built by hand (jose), for tests that must send what no well-behaved client would:
 * another URL or method, a stale `iat`, a wrong `ath`, `alg: none`, an HMAC proof, a private key in
 * the header. Well-behaved flows use oauth4webapi (test/e2e/dpop-strict-client.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  base64url,
  type CryptoKey,
  type JWK,
} from 'jose'

export interface ProofKey {
  privateKey: CryptoKey
  publicJwk: JWK
  privateJwk: JWK
  jkt: string
  alg: string
}

export async function createProofKey(alg = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  return {
    privateKey,
    publicJwk,
    privateJwk: await exportJWK(privateKey),
    jkt: await calculateJwkThumbprint(publicJwk),
    alg,
  }
}

export interface ProofOptions {
  htm?: string
  htu: string
  /** Seconds since the epoch. */
  iat: number
  jti?: string
  /** The access token, for `ath`. */
  accessToken?: string
  /** An explicit `ath` (overrides `accessToken`). */
  ath?: string
  nonce?: string
  /** Replaces protected-header members (`typ`, `jwk`, `alg` ...). */
  header?: Record<string, unknown>
  /** Drops claims. */
  omit?: string[]
}

/** A signed proof with `key` (an honest one unless options say otherwise). */
export async function createProof(key: ProofKey, options: ProofOptions): Promise<string> {
  const claims: Record<string, unknown> = {
    htm: options.htm ?? 'POST',
    htu: options.htu,
    iat: options.iat,
    jti: options.jti ?? randomBytes(12).toString('base64url'),
  }
  if (options.ath !== undefined) claims.ath = options.ath
  else if (options.accessToken !== undefined) claims.ath = athOf(options.accessToken)
  if (options.nonce !== undefined) claims.nonce = options.nonce
  const omit = new Set(options.omit ?? [])
  const kept = Object.fromEntries(Object.entries(claims).filter(([name]) => !omit.has(name)))
  return new SignJWT(kept)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...options.header })
    .sign(key.privateKey)
}

/** An unsecured proof (`alg: none`), as an attacker would send it. */
export function createUnsecuredProof(key: ProofKey, options: ProofOptions): string {
  const header = { alg: 'none', typ: 'dpop+jwt', jwk: key.publicJwk }
  const claims = { htm: options.htm ?? 'POST', htu: options.htu, iat: options.iat, jti: 'x1' }
  const enc = (v: unknown) => base64url.encode(JSON.stringify(v))
  return `${enc(header)}.${enc(claims)}.`
}

/** An HS256 proof keyed with `secret`, carrying a symmetric `jwk`. */
export async function createHMACProof(options: ProofOptions): Promise<string> {
  const secret = randomBytes(32)
  const jwk = { kty: 'oct', k: secret.toString('base64url') }
  return new SignJWT({
    htm: options.htm ?? 'POST',
    htu: options.htu,
    iat: options.iat,
    jti: randomBytes(12).toString('base64url'),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk })
    .sign(new Uint8Array(secret))
}

export function athOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** The payload of a JWT, unverified (for asserting what the server put in its token). */
export function claimsOf(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1] ?? ''
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>
}
