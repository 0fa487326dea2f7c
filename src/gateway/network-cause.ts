/**
 * How the gateway names an upstream it could not reach, for the operator's log: the URL's origin
 * (`safeURL`), and the class of the failure (`ECONNREFUSED`, `ENOTFOUND`, `timed out` …), never an
 * error's text, a header or a token.
 */

/**
 * The URL's origin only: user info, path, query and fragment may hold secrets (some hosted MCP
 * servers put their key in the path); the log line names the route already.
 */
export function safeURL(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid URL)'
  }
}

/** The class of a failed fetch: the system or undici error code, `timed out`, else a generic word. */
export function networkCause(error: unknown): string {
  const seen = new Set<unknown>()
  let e: unknown = error
  while (typeof e === 'object' && e !== null && !seen.has(e)) {
    seen.add(e)
    const { name, code, errors } = e as { name?: unknown; code?: unknown; errors?: unknown }
    if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timed out'
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return code
    // Several addresses (localhost: ::1 and 127.0.0.1), each refused: the first's code.
    if (Array.isArray(errors) && errors.length > 0) {
      const first = networkCause(errors[0])
      if (first !== 'network error') return first
    }
    e = (e as { cause?: unknown }).cause
  }
  return 'network error'
}
