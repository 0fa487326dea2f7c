/**
 * Cookies for the browser-facing pages: `__Host-` prefixed on https (Secure, Path=/, no Domain),
 * HttpOnly, SameSite=Lax, and signed with HMAC-SHA-256 so a tampered value reads as absent.
 * The MAC covers the cookie's purpose with its value: a value signed for one cookie (the consent
 * page's CSRF token) reads as absent where another is expected (the chooser's, `/admin`'s).
 */
import { base64url } from 'jose'
import { timingSafeEqual } from './random.js'

export interface CookieOptions {
  /** Whether the site is served over https: decides `Secure` and the `__Host-` prefix. */
  secure: boolean
  maxAgeSeconds: number
}

/** The cookie's full name: `__Host-<name>` on https, `__<name>` on http (loopback development). */
export function cookieName(name: string, secure: boolean): string {
  return secure ? `__Host-${name}` : `__${name}`
}

/** One `Set-Cookie` header value. */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [
    `${cookieName(name, options.secure)}=${value}`,
    'Path=/',
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'HttpOnly',
    'SameSite=Lax',
  ]
  if (options.secure) parts.push('Secure')
  return parts.join('; ')
}

/** The value of a cookie in the request, or `undefined`. */
export function readCookie(request: Request, name: string, secure: boolean): string | undefined {
  const header = request.headers.get('cookie')
  if (header === null || header.length > 8192) return undefined
  const wanted = cookieName(name, secure)
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq === -1) continue
    if (part.slice(0, eq).trim() === wanted) return part.slice(eq + 1).trim()
  }
  return undefined
}

/**
 * Signs and verifies cookie values with a key derived from the configured secret. `purpose` names
 * what the value is for (a fixed identifier per cookie and step, such as `consent-csrf`); it is
 * signed with the value, not stored in it.
 */
export interface CookieSigner {
  sign(purpose: string, payload: unknown): Promise<string>
  /**
   * The payload, or `undefined` when the value is absent, malformed, not signed by us or signed
   * for another purpose.
   */
  verify<T>(purpose: string, value: string | undefined): Promise<T | undefined>
}

/** Derives the signing key (HKDF-SHA-256, its own `info`, so it differs from the storage key). */
export async function createCookieSigner(secret: string): Promise<CookieSigner> {
  const material = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    'HKDF',
    false,
    ['deriveKey'],
  )
  const key = await crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: new TextEncoder().encode('mcp-gatehouse/cookies/v1'),
      info: new TextEncoder().encode('cookie-signing'),
    },
    material,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign'],
  )
  // The body is base64url (no `.`), so `<purpose>.<body>` reads one way only.
  const mac = async (purpose: string, body: string) =>
    base64url.encode(
      new Uint8Array(
        await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${purpose}.${body}`)),
      ),
    )
  return {
    async sign(purpose, payload) {
      const body = base64url.encode(new TextEncoder().encode(JSON.stringify(payload)))
      return `${body}.${await mac(purpose, body)}`
    },
    async verify<T>(purpose: string, value: string | undefined): Promise<T | undefined> {
      if (value === undefined) return undefined
      const dot = value.indexOf('.')
      if (dot < 1) return undefined
      const body = value.slice(0, dot)
      if (!timingSafeEqual(await mac(purpose, body), value.slice(dot + 1))) return undefined
      try {
        return JSON.parse(new TextDecoder().decode(base64url.decode(body))) as T
      } catch {
        return undefined
      }
    },
  }
}
