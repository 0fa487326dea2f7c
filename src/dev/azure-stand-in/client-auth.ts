/**
 * Client authentication at the stand-in's token endpoint: a secret (Basic or form) or a
 * certificate client assertion, with Entra's error codes.
 */
import { createHash, timingSafeEqual, X509Certificate } from 'node:crypto'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import type { StandInApp } from './directory.js'
import { azureError } from './errors.js'

/**
 * A certificate client assertion: the JWT-bearer assertion type, a certificate on the app, the
 * header's thumbprint (`x5t#S256`, or `x5t` with RS256) naming it, a valid signature, `aud` the
 * token endpoint, `iss` = `sub` = the client id, and a live `exp`.
 */
export async function checkClientAssertion(
  app: StandInApp,
  params: Record<string, string>,
  tokenUrl: string,
  nowMs: number,
): Promise<Response | undefined> {
  const refuse = (code: number, text: string) => azureError(401, 'invalid_client', code, text)
  if (params.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
    return azureError(400, 'invalid_request', 700023, 'Invalid client_assertion_type.')
  }
  if (app.certificate === undefined) {
    return refuse(
      700027,
      'Client assertion contains an invalid signature: no certificate is registered.',
    )
  }
  const cert = new X509Certificate(app.certificate)
  const thumbprints = {
    'x5t#S256': createHash('sha256').update(cert.raw).digest('base64url'),
    x5t: createHash('sha1').update(cert.raw).digest('base64url'),
  }
  const assertion = params.client_assertion ?? ''
  let header: Record<string, unknown>
  try {
    header = decodeProtectedHeader(assertion)
  } catch {
    return refuse(700027, 'Client assertion failed signature validation.')
  }
  const named = header['x5t#S256'] ?? header.x5t
  if (named !== thumbprints['x5t#S256'] && named !== thumbprints.x5t) {
    return refuse(700027, 'Client assertion contains an invalid signature: the key was not found.')
  }
  try {
    await jwtVerify(assertion, cert.publicKey, {
      algorithms: ['PS256', 'RS256'],
      audience: tokenUrl,
      issuer: app.clientId,
      subject: app.clientId,
      currentDate: new Date(nowMs),
    })
  } catch (error) {
    const code = (error as { code?: string }).code
    return code === 'ERR_JWT_EXPIRED'
      ? refuse(700024, 'Client assertion is not within its valid time range.')
      : code === 'ERR_JWT_CLAIM_VALIDATION_FAILED'
        ? refuse(700021, 'Client assertion application identifier or audience does not match.')
        : refuse(700027, 'Client assertion failed signature validation.')
  }
  return undefined
}

/**
 * HTTP Basic client credentials, strictly as RFC 6749 §2.3.1 has them: id and secret each
 * `application/x-www-form-urlencoded` (only letters and digits unescaped). `wellFormed` is false
 * when either was sent otherwise (raw, or percent-encoded by other rules), which is refused as a
 * wrong secret: a client encoding differently on two paths is then caught.
 */
export function parseBasic(
  header: string | null,
): { id: string; secret: string; wellFormed: boolean } | undefined {
  if (header?.startsWith('Basic ') !== true) return undefined
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  const rawId = decoded.slice(0, colon)
  const rawSecret = decoded.slice(colon + 1)
  const id = formDecode(rawId)
  const secret = formDecode(rawSecret)
  if (id === undefined || secret === undefined) return { id: rawId, secret: '', wellFormed: false }
  return {
    id,
    secret,
    wellFormed: formEncode(id) === rawId && formEncode(secret) === rawSecret,
  }
}

function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '))
  } catch {
    return undefined
  }
}

function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/[-_.!~*'()]|%20/g, (c) =>
    c === '%20' ? '+' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

export function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}
