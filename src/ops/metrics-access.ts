/**
 * Who may read `/metrics`. Metrics name routes, hosts of identity providers and traffic levels:
 * not secrets, but nothing to publish either. Three choices (config `metrics`):
 * - `token` set: every scraper presents `Authorization: Bearer <token>` (compared in constant
 *   time, through SHA-256 digests so the length does not leak either);
 * - `listen` set: the main handler does not serve `/metrics` at all; a separate listener does
 *   (metrics-listener.ts, Node);
 * - neither (default): only peers on the loopback interface, as recorded by the adapter; an
 *   unknown peer address is refused.
 */
import { OAuthError } from '../errors.js'

export interface MetricsAccessOptions {
  /** The bearer token scrapers must present, when configured. */
  token?: string | undefined
  /** The peer address the adapter recorded for the request, if any. */
  addressOf: (request: Request) => string | undefined
}

/** Resolves when the request may read the metrics; throws `OAuthError` (401 or 403) otherwise. */
export async function checkMetricsAccess(
  request: Request,
  options: MetricsAccessOptions,
): Promise<void> {
  if (options.token !== undefined) {
    if (!(await bearerMatches(request, options.token))) {
      throw new OAuthError('invalid_token', 'a valid bearer token is required', {
        status: 401,
        reason: 'metrics_unauthorized',
        headers: { 'www-authenticate': 'Bearer realm="metrics"' },
      })
    }
    return
  }
  const address = options.addressOf(request)
  if (address === undefined || !isLoopback(address)) {
    throw new OAuthError('access_denied', 'metrics are served to this host only', {
      status: 403,
      reason: 'metrics_not_loopback',
    })
  }
}

/** Whether `Authorization: Bearer …` carries `token`, compared in constant time. */
export async function bearerMatches(request: Request, token: string): Promise<boolean> {
  const header = request.headers.get('authorization') ?? ''
  const match = /^Bearer +([^\s]+) *$/i.exec(header)
  return secretsEqual(match?.[1] ?? '', token)
}

/** Whether `given` equals `expected`, in time independent of both (SHA-256 digests compared). */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)])
  let diff = given === '' ? 1 : 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}

/** 127.0.0.0/8, `::1` and IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
}
