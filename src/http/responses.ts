/** Response builders. Every OAuth response is `no-store`; pages carry anti-framing headers. */
import { OAuthError, toErrorResponse } from '../errors.js'

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' }

/** JSON with `Cache-Control: no-store` (OAuth 2.1 §3.2.3). */
export function jsonResponse(
  body: unknown,
  init: { status?: number; headers?: HeadersInit } = {},
): Response {
  const headers = new Headers(JSON_HEADERS)
  new Headers(init.headers).forEach((v, k) => {
    headers.set(k, v)
  })
  return new Response(JSON.stringify(body), { status: init.status ?? 200, headers })
}

/** Public metadata: cacheable briefly and readable cross-origin. */
export function metadataResponse(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=300',
      ...CORS_HEADERS,
    },
  })
}

/** CORS for the endpoints browser-based clients may call (never the authorization endpoint). */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'WWW-Authenticate',
}

/** Answers a CORS preflight for a CORS-enabled endpoint. */
export function preflightResponse(methods: readonly string[]): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...CORS_HEADERS,
      'access-control-allow-methods': methods.join(', '),
      'access-control-allow-headers': 'authorization, content-type, dpop, mcp-protocol-version',
      'access-control-max-age': '600',
    },
  })
}

/**
 * Headers for every HTML page Gatehouse serves (RFC 9700 §4.2.4, OAuth 2.1 §7.10). No scripts at
 * all; no `form-action`, because browsers apply it to the redirects after a form POST, which
 * would block the redirect to the identity provider or to a native client's custom scheme.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHTML(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A plain error page for browser-facing endpoints; never redirects. */
export function errorPage(status: number, title: string, message: string): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHTML(title)}</title></head><body><h1>${escapeHTML(title)}</h1><p>${escapeHTML(message)}</p></body></html>`
  return new Response(html, { status, headers: PAGE_HEADERS })
}

/** A redirect for the user agent; `303` after a POST so credentials are not re-posted. */
export function redirectResponse(location: string, status: 302 | 303 = 302): Response {
  return new Response(null, {
    status,
    headers: { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' },
  })
}

/** `405` with the `Allow` header (an `invalid_request` through `toErrorResponse`). */
export function methodNotAllowed(allow: readonly string[]): Response {
  return toErrorResponse(
    new OAuthError('invalid_request', 'method not allowed', {
      status: 405,
      reason: 'method_not_allowed',
      headers: { allow: allow.join(', ') },
    }),
  )
}
