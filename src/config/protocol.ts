/**
 * Protocol constants and rules every layer shares, with no I/O: the scope-token grammar, grant-type
 * and assertion-type URNs, the accepted JWS algorithms, and which redirect URIs may be registered
 * (RFC 7591, OAuth 2.1 §2.3, RFC 8252, MCP §Communication Security). It sits under config/ so the
 * schema and the endpoints both read it without config/ importing oauth/.
 */
import { isLoopbackHost } from './urls.js'

/** One scope token (RFC 6749 §3.3): visible ASCII except `"` and `\`. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/** The client credentials grant type value (RFC 6749 §4.4.2). */
export const CLIENT_CREDENTIALS_GRANT = 'client_credentials'

/** RFC 7523 jwt-bearer: the grant type an ID-JAG is presented with (SEP-990). */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

/** RFC 7523 §2.2: the `client_assertion_type` of `private_key_jwt` client authentication. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** The JWS algorithms accepted from identity providers: asymmetric only. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const

const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:'])

/** Why a redirect URI cannot be registered, or `undefined` when it can. */
export function redirectURIProblem(
  value: string,
  applicationType: 'web' | 'native',
): string | undefined {
  if (value.length > 2000) return 'is too long'
  if (/[\s\0\\]/.test(value)) return 'contains white space, control characters or backslashes'
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return 'is not an absolute URI'
  }
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `uses the forbidden scheme ${url.protocol}`
  if (value.includes('#')) return 'must not contain a fragment'
  if (url.username || url.password) return 'must not contain user information'
  if (hasDotSegment(value)) return 'must not contain dot segments'
  if (url.hostname.includes('*')) return 'must not contain wildcards'
  // OIDC Dynamic Client Registration §2 and RFC 8252: loopback and private-use schemes are for
  // native clients; a web client redirects to https on a real host.
  if (url.protocol === 'https:') {
    return applicationType === 'web' && isLoopbackHost(url.hostname)
      ? 'is a loopback address, allowed for native clients only (application_type "native")'
      : undefined
  }
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) return 'must use https unless it is a loopback address'
    return applicationType === 'web'
      ? 'is a loopback address, allowed for native clients only (application_type "native")'
      : undefined
  }
  // Private-use URI schemes (RFC 8252 §7.1) are for native apps, and need a reverse-domain name.
  if (applicationType !== 'native') return 'uses a custom scheme, allowed for native clients only'
  if (!url.protocol.slice(0, -1).includes('.')) {
    return 'uses a custom scheme without a reverse-domain name (like com.example.app:/cb)'
  }
  return undefined
}

/**
 * The application type a client that named none gets (SEP-837): `native` when any redirect URI is
 * a loopback address or a private-use scheme (RFC 8252), else `web`.
 */
export function impliedApplicationType(redirectUris: readonly string[]): 'web' | 'native' {
  return redirectUris.some(isNativeStyle) ? 'native' : 'web'
}

function isNativeStyle(value: string): boolean {
  try {
    const url = new URL(value)
    if (url.protocol === 'http:' || url.protocol === 'https:') return isLoopbackHost(url.hostname)
    return !FORBIDDEN_SCHEMES.has(url.protocol)
  } catch {
    return false
  }
}

/**
 * Whether the raw path of `uri` holds a `.` or `..` segment, in any case and also
 * percent-encoded, with `\` counted as a separator and tab/CR/LF ignored (the WHATWG URL parser
 * treats `\` as `/` in http(s) URLs and drops those three characters, so `.\t.` is `..`).
 */
export function hasDotSegment(uri: string): boolean {
  const bare = uri.replace(/[\t\n\r]/g, '')
  const path = bare.replace(/^[a-z][a-z0-9+.-]*:([/\\]{2}[^/\\?#]*)?/i, '').split(/[?#]/)[0] ?? ''
  return /(^|[/\\])(\.|%2e){1,2}([/\\]|$)/i.test(path)
}
