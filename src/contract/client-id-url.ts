/**
 * Client identifiers that are URLs (Client ID Metadata Documents, draft §3). Checked before
 * anything is fetched, so a malformed identifier costs no outbound request.
 */
import { classifyHost } from '../http/guarded-fetch.js'
import { hasDotSegment } from '../config/protocol.js'

const MAX_LENGTH = 2000

/**
 * Whether `clientId` claims to be a metadata document URL (it starts with `https://`, or
 * `http://`, which is then refused unless loopback is allowed). Generated client ids never do.
 */
export function isClientIDURL(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId)
}

/**
 * Why `clientId` cannot be a metadata document URL, or `undefined` when it can: https (http only
 * to loopback with `allowLoopback`), a path other than `/`, no dot segments, fragment or user
 * information, in the URL parser's canonical spelling (so the string fetched is the string the
 * document must repeat), and not a literal special-use address (loopback only with
 * `allowLoopback`). Names are checked again after resolution by the guarded fetch.
 */
export function clientIDURLProblem(clientId: string, allowLoopback: boolean): string | undefined {
  if (clientId.length > MAX_LENGTH) return 'is too long'
  if (/[\s\0\\]/.test(clientId)) return 'contains white space, control characters or backslashes'
  let url: URL
  try {
    url = new URL(clientId)
  } catch {
    return 'is not a URL'
  }
  const host = classifyHost(url.hostname)
  const loopbackOk = allowLoopback && host === 'loopback'
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopbackOk)) {
    return 'must be an https URL'
  }
  if (/^[a-z]+:\/\/[^/?#]*@/i.test(clientId)) return 'must not contain user information'
  if (clientId.includes('#')) return 'must not contain a fragment'
  if (hasDotSegment(clientId)) return 'must not contain dot segments'
  if (url.pathname === '/' || url.pathname === '') return 'must contain a path'
  if (url.href !== clientId) return 'is not in canonical form'
  if (host !== 'public' && !loopbackOk) return 'names a special-use address'
  return undefined
}
