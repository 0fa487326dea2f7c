/**
 * Redirect URI matching: how a requested URI matches a registered one (exact string comparison,
 * RFC 9700 §4.1.3; only the port of a loopback IP literal may vary, RFC 8252 §7.3) and the
 * operator's allow-list patterns. What may be registered at all is in config/protocol.ts.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { hasDotSegment } from '../config/protocol.js'
import { isLoopbackHost, isLoopbackIP } from '../config/urls.js'

/**
 * The registered URI that `requested` matches, or `undefined`. Comparison is by exact string,
 * except that for a registered `http` loopback IP literal the requested port may differ.
 */
export function matchRedirectURI(
  requested: string,
  registered: readonly string[],
): string | undefined {
  if (registered.includes(requested)) return requested
  let req: URL
  try {
    req = new URL(requested)
  } catch {
    return undefined
  }
  if (req.protocol !== 'http:' || !isLoopbackIP(req.hostname)) return undefined
  for (const candidate of registered) {
    let reg: URL
    try {
      reg = new URL(candidate)
    } catch {
      continue
    }
    if (reg.protocol !== 'http:' || !isLoopbackIP(reg.hostname)) continue
    // Compare everything but the port, and compare the raw strings so that no normalisation by
    // the URL parser (case, escapes, dot segments) can make two different strings match.
    if (withoutPort(requested) === withoutPort(candidate) && reg.hostname === req.hostname) {
      return requested
    }
  }
  return undefined
}

/** The URI string with an explicit port removed from its authority. */
function withoutPort(uri: string): string {
  return uri.replace(/^(http:\/\/(?:\[[^\]]*\]|[^/:?#]*))(?::\d*)?/i, '$1')
}

/**
 * Whether `uri` matches an operator's allow-list pattern, part by part (never as a plain string
 * glob): scheme equal; host equal, or `*.example.com` for proper subdomains; port equal, `*` for
 * any, and any port for a loopback pattern without one (RFC 8252 §7.3); path equal, `*` matching
 * any characters, and an empty or `/` pattern path matching every path. Query and fragment must
 * be absent from the pattern. URIs with user information or dot segments never match.
 */
export function matchesRedirectPattern(uri: string, pattern: string): boolean {
  // Parser differentials (`\` read as `/`, escapes, dot segments) must not let the text the
  // pattern sees differ from where a browser goes: refuse anything the URL parser would rewrite.
  if (/[\s\0\\@]/.test(uri) || hasDotSegment(uri)) return false
  const u = splitURI(uri)
  const p = splitURI(pattern)
  if (!u || !p || !sameAsParsed(uri, u)) return false
  if (u.scheme !== p.scheme) return false
  const host = u.host.toLowerCase()
  const patternHost = p.host.toLowerCase()
  if (patternHost.startsWith('*.')) {
    if (!host.endsWith(patternHost.slice(1)) || host === patternHost.slice(2)) return false
  } else if (host !== patternHost) return false
  const defaultPort = u.scheme === 'https' ? '443' : u.scheme === 'http' ? '80' : ''
  const port = u.port ?? defaultPort
  if (p.port === '*') {
    // any port
  } else if (p.port === undefined && isLoopbackHost(patternHost)) {
    // RFC 8252 §7.3: native apps pick their loopback port at run time
  } else if (port !== (p.port ?? defaultPort)) return false
  if (p.path === '' || p.path === '/') return true
  const glob = new RegExp(`^${p.path.split('*').map(escapeRegExp).join('.*')}$`)
  return glob.test(u.path)
}

/** Whether the URL parser reads the same host and path as the raw split. */
function sameAsParsed(uri: string, split: { host: string; path: string }): boolean {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return false
  }
  return (
    url.hostname === split.host.toLowerCase() &&
    url.pathname === (split.path === '' ? '/' : split.path)
  )
}

function splitURI(
  value: string,
): { scheme: string; host: string; port?: string; path: string } | undefined {
  const m =
    /^([a-z][a-z0-9+.-]*):\/\/(\[[^\]]+\]|[^/:?#]*)(?::(\d+|\*))?([^?#]*)(?:[?#].*)?$/i.exec(value)
  const scheme = m?.[1]
  const host = m?.[2]
  if (!m || scheme === undefined || host === undefined) return undefined
  return {
    scheme: scheme.toLowerCase(),
    host,
    ...(m[3] !== undefined ? { port: m[3] } : {}),
    path: m[4] ?? '',
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Whether the operator's `registration.allowedRedirectUris` permits `uri` (unset: all). */
export function redirectAllowed(uri: string, config: ResolvedConfig): boolean {
  const patterns = config.registration.allowedRedirectUris
  return patterns === undefined || patterns.some((p) => matchesRedirectPattern(uri, p))
}
