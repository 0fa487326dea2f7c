/**
 * The normal form of an MCP resource URI: the one the WHATWG URL parser writes, which the MCP
 * TypeScript SDK server reads a URI in. The gateway refuses a request naming a resource in any
 * other spelling, and the configuration a rule key in one, so that policy, the rules and the
 * server all read one resource. No I/O.
 */

/**
 * Whether a resource URI is written as the WHATWG URL parser writes it (`new URL(uri).href`),
 * the form the MCP TypeScript SDK server reads it in. Policy matches the URI as written (`prefix*`
 * keys by its text), so a server that reads another spelling as this one would serve what policy
 * never checked: `DEMO://x` (the scheme is lower-cased), `demo://a/b/../c` and `demo://a/b/%2e%2e/c`
 * (dot segments removed), a leading or trailing space or control character (stripped), a tab or
 * newline anywhere (removed), `demo://a/é` (percent-encoded). Such a URI is refused, not rewritten:
 * servers in other languages normalise in other ways, and a client has no reason to send one.
 * One difference passes: a special-scheme URI (`https:`, `file:` …) without a path, which WHATWG
 * writes with a root slash (`https://example.com` is `https://example.com/`); policy reads it in
 * that form (`ruleSpelling`), and servers read it as the one resource either way.
 *
 * `template`: `uri` is an RFC 6570 URI template (a completion's `ref/resource`); each `{…}`
 * expression stands for one letter, and the rest must be in normal form.
 */
export function isNormalURI(uri: string, template = false): boolean {
  const written = template ? uri.replace(/\{[^{}]*\}/g, 'x') : uri
  const read = spellingsOf(written)
  return (
    read !== undefined &&
    (read.href === written || read.bare === written) &&
    rfc3986Problem(written) === undefined
  )
}

/**
 * What RFC 3986 §6.2.2 normalisation would still change in a URI the WHATWG parser leaves as it
 * is, which servers that decode a path (`fileURLToPath`, `decodeURIComponent`) read as another
 * spelling of one resource: a percent-encoded unreserved character (`secre%74.txt` is
 * `secret.txt`), an escape in lower-case hex (`%2f`), an empty query (`x?`) or a fragment (`x#y`,
 * which names a part of a resource, never a resource). `undefined` when there is none.
 */
function rfc3986Problem(uri: string): string | undefined {
  if (uri.includes('#')) return 'it has a fragment'
  if (uri.endsWith('?')) return 'it has an empty query'
  for (const escape of uri.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    const hex = escape[1] as string
    if (hex !== hex.toUpperCase()) return `write the escape %${hex} in upper case`
    if (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(parseInt(hex, 16)))) {
      return `write %${hex} as the character it encodes`
    }
  }
  return undefined
}

/**
 * The spelling policy matches a resource URI by: the WHATWG form of a special-scheme URI written
 * without its root slash (`https://example.com` → `https://example.com/`), so that one rule key
 * covers both; any other URI (or template) as it is.
 */
export function ruleSpelling(uri: string): string {
  const read = spellingsOf(uri)
  return read?.bare === uri ? read.href : uri
}

/**
 * The WHATWG `href` of a URI, and for a special-scheme URI whose path is only the root, that
 * `href` without its root slash (`bare`); `undefined` for a URI that does not parse.
 */
function spellingsOf(uri: string): { href: string; bare: string | undefined } | undefined {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    return undefined
  }
  const href = url.href
  if (url.pathname !== '/' || !SPECIAL_SCHEMES.has(url.protocol)) return { href, bare: undefined }
  // The path starts at the first `/` after `scheme://`: the authority has none (WHATWG encodes one).
  const at = href.indexOf('/', url.protocol.length + 2)
  return { href, bare: href.slice(0, at) + href.slice(at + 1) }
}

/** WHATWG URL §3.1: the schemes whose URIs always have a path (an empty one is written `/`). */
const SPECIAL_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:', 'ftp:', 'file:'])

/**
 * Why a `resources` rule key could never match a URI the gateway lets through, if it could not:
 * an exact key (or URI template) not in normal form, or a prefix key (`…*`) whose text no normal
 * URI starts with (an upper-case scheme, a space or control character, a non-ASCII character, a
 * `.` or `..` segment).
 */
export function ruleKeyProblem(key: string): string | undefined {
  if (!key.endsWith('*')) {
    const written = key.replace(/\{[^{}]*\}/g, 'x')
    const read = spellingsOf(written)
    if (read === undefined) return 'is not a URI'
    if (read.href !== written) {
      return written === key
        ? `is not in normal form: write ${read.href}`
        : 'is not in normal form (as new URL() writes it)'
    }
    const problem = rfc3986Problem(written)
    return problem === undefined ? undefined : `is not in normal form: ${problem}`
  }
  const prefix = key.slice(0, -1)
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(prefix)?.[1]
  if (scheme !== undefined && scheme !== scheme.toLowerCase()) {
    return 'is not in normal form: write the scheme in lower case'
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(prefix))
    return 'is not in normal form: it has a space or control character'
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(prefix))
    return 'is not in normal form: percent-encode non-ASCII characters'
  if (/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(prefix.replace(/^[^:]*:\/\/[^/]*/, ''))) {
    return 'is not in normal form: it has a . or .. segment'
  }
  const problem = rfc3986Problem(prefix)
  if (problem !== undefined) return `is not in normal form: ${problem}`
  // A hierarchical prefix: its scheme and authority must be as the parser writes them
  // (`https://Docs.example.com:443/` is `https://docs.example.com/`, `file://localhost/` is
  // `file:///`), and with a host (http(s), ws(s), ftp, file) it must reach the path, or it would
  // match other hosts too (`https://a.example*` matches `https://a.example.evil/`).
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(prefix)?.[0]
  if (authority !== undefined) {
    // `https://*` (every host) is meant so; `https://a.example*` is not. A custom scheme's
    // authority is a name of the server's own (`note://secret*` for every `note://secret-…`).
    const special = SPECIAL_SCHEMES.has(
      `${authority.slice(0, authority.indexOf(':'))}:`.toLowerCase(),
    )
    if (special && authority.length === prefix.length && !authority.endsWith('//')) {
      return 'must end at a path boundary: the prefix ends inside the host (add / after it)'
    }
    const read = spellingsOf(`${authority}/`)
    if (read !== undefined && read.href !== `${authority}/`) {
      return `is not in normal form: write ${read.href}${prefix.slice(authority.length + 1)}*`
    }
  }
  return undefined
}
