/**
 * What the provider stand-ins (GitHub, Google) share: a Web handler served on a loopback port, the
 * sign-in page a test's user agent fills in (`username`, `password`, posted to `{page}/login`),
 * random ids and a constant-time comparison. Development and tests only.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { toNodeListener } from './web-listener.js'

/** One request a stand-in received, as sent (secrets included: the stand-ins are for tests). */
export interface RecordedRequest {
  /** Which endpoint (`authorize`, `token`, `user`, `emails`, `membership`, `teams`, …). */
  endpoint: string
  method: string
  path: string
  /** Query (authorize, API) or form (token) parameters; repeated ones keep their last value. */
  params: Record<string, string>
  /** The request headers that matter to providers (lower-case names). */
  headers: Record<string, string>
  /** Token endpoint: `basic`, `post` or `none`. */
  clientAuth?: string
}

const KEPT_HEADERS = [
  'accept',
  'authorization',
  'user-agent',
  'x-github-api-version',
  'content-type',
]

/** The headers worth recording, from a request. */
export function recordedHeaders(request: Request): Record<string, string> {
  const out: Record<string, string> = {}
  for (const h of KEPT_HEADERS) {
    const v = request.headers.get(h)
    if (v !== null) out[h] = v
  }
  return out
}

/** Headers of the stand-ins' HTML pages (see azure-stand-in/errors.ts for why no form-action). */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'same-origin',
}

export function escapeHTML(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  )
}

/** A sign-in page posting `username` and `password` to `action`. */
export function loginPage(title: string, action: string, message = ''): Response {
  return new Response(
    `<!doctype html><html><head><title>${escapeHTML(title)}</title></head><body>
<h1>${escapeHTML(title)}</h1>
${message ? `<p role="alert">${escapeHTML(message)}</p>` : ''}
<form method="post" action="${escapeHTML(action)}">
<label>Username or email <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>`,
    { status: message ? 401 : 200, headers: PAGE_HEADERS },
  )
}

export function errorPage(status: number, text: string): Response {
  return new Response(
    `<!doctype html><html><head><title>Error</title></head><body><p>${escapeHTML(text)}</p></body></html>`,
    { status, headers: PAGE_HEADERS },
  )
}

export function randomID(bytes = 24): string {
  return randomBytes(bytes).toString('base64url')
}

/** Constant-time string equality. */
export function same(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The credentials of an HTTP Basic header (RFC 6749 §2.3.1 form-urlencoding undone). */
export function parseBasic(header: string | null): { id: string; secret: string } | undefined {
  if (header === null || !/^basic /i.test(header)) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    }
  } catch {
    return undefined
  }
}

/** Serves `handler` on 127.0.0.1 (`port` 0: any free port). */
export async function serveLoopback(
  handler: (request: Request) => Promise<Response>,
  port = 0,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(toNodeListener(handler))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}
