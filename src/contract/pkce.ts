/** PKCE (RFC 7636) with S256 only, as OAuth 2.1 and MCP require. */
import { sha256, timingSafeEqual, type Sha256Function } from '../http/random.js'

/** A S256 challenge is the base64url SHA-256 of the verifier: exactly 43 characters. */
export function isValidChallenge(challenge: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(challenge)
}

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
export function isValidVerifier(verifier: string): boolean {
  return /^[A-Za-z0-9\-._~]{43,128}$/.test(verifier)
}

/** Whether `verifier` is the one `challenge` was made from (`hash`: default Web Crypto). */
export async function verifyPKCE(
  verifier: string,
  challenge: string,
  hash: Sha256Function = sha256,
): Promise<boolean> {
  if (!isValidVerifier(verifier)) return false
  return timingSafeEqual(await hash(verifier), challenge)
}
