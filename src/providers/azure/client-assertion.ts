/**
 * Entra's certificate credential: instead of a client secret, Gatehouse signs a short JWT (OpenID
 * `private_key_jwt`) with the app registration's certificate key. Header: `alg` PS256 (or RS256),
 * `typ` JWT, and the certificate's thumbprint (`x5t#S256`, SHA-256 of its DER; `x5t`, SHA-1, with
 * RS256). Claims: `aud` the token endpoint, `iss` = `sub` = the client id, a fresh `jti`, `iat`,
 * `nbf`, and `exp` five minutes later. Web Crypto and jose only (runtime neutral).
 */
import { importPKCS8, SignJWT } from 'jose'
import { encodeBase64URL } from '../../jwt/base64url.js'
import { randomToken } from '../../http/random.js'

export interface AzureCertificateCredential {
  /** The certificate's private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  privateKey: string
  /** The certificate uploaded to the app registration, PEM (`-----BEGIN CERTIFICATE-----`). */
  certificate: string
  /** Default PS256 (Entra's current guidance); RS256 sends the SHA-1 `x5t`. */
  algorithm?: 'PS256' | 'RS256' | undefined
}

/** Returns a function that signs a new client assertion for each token request. */
export async function createClientAssertionSigner(
  credential: AzureCertificateCredential,
  clientId: string,
  tokenEndpoint: string,
  now: () => number,
): Promise<() => Promise<string>> {
  const alg = credential.algorithm ?? 'PS256'
  let key: CryptoKey
  try {
    key = await importPKCS8(credential.privateKey, alg)
  } catch {
    // Not chained: the cause could quote the key material.
    throw new TypeError('clientCertificate.privateKey is not a PKCS#8 PEM RSA key')
  }
  const der = pemBlock(credential.certificate, 'CERTIFICATE')
  if (der === undefined)
    throw new TypeError('clientCertificate.certificate is not a PEM certificate')
  const digest = await crypto.subtle.digest(alg === 'PS256' ? 'SHA-256' : 'SHA-1', der)
  const thumbprint = encodeBase64URL(new Uint8Array(digest))
  const header =
    alg === 'PS256'
      ? { alg, typ: 'JWT', 'x5t#S256': thumbprint }
      : { alg, typ: 'JWT', x5t: thumbprint }
  return () => {
    const t = Math.floor(now() / 1000)
    return new SignJWT({ jti: randomToken(16) })
      .setProtectedHeader(header)
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(tokenEndpoint)
      .setIssuedAt(t)
      .setNotBefore(t)
      .setExpirationTime(t + 300)
      .sign(key)
  }
}

function pemBlock(pem: string, label: string): Uint8Array<ArrayBuffer> | undefined {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(
    pem,
  )
  if (!m?.[1]) return undefined
  try {
    const binary = atob(m[1].replace(/\s+/g, ''))
    const bytes = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
    return bytes
  } catch {
    return undefined
  }
}
