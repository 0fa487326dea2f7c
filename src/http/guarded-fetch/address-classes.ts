/**
 * Address classes of the guarded fetch: which range a host name or IP address falls in (public,
 * loopback, private, special-use), by RFC range tables for IPv4 and IPv6 and by the names reserved
 * for loopback (RFC 6761) and private use. Classifies only; `policy.ts` decides what passes.
 */

/** The class of a URL host: a public name or address, or a special-use literal. */
export type HostClass = 'public' | 'loopback' | 'private' | 'special-use'

/**
 * Classifies a WHATWG-parsed `URL.hostname` without resolving it: literal IPv4/IPv6 addresses by
 * range, `localhost` and `*.localhost` (RFC 6761) as loopback, names under `.internal`, `.local`,
 * `.localdomain` and `.home.arpa` as private, every other name as `public` (not resolved).
 */
export function classifyHost(hostname: string): HostClass {
  const name = hostname.toLowerCase().replace(/\.$/, '')
  if (name === 'localhost' || name.endsWith('.localhost')) return 'loopback'
  // Names reserved for private use (`metadata.google.internal`, mDNS, home networks).
  if (PRIVATE_SUFFIXES.some((suffix) => name.endsWith(suffix))) return 'private'
  if (name.startsWith('[') && name.endsWith(']')) {
    const words = parseIPv6(name.slice(1, -1))
    return words === undefined ? 'special-use' : classifyIPv6(words)
  }
  const v4 = parseIPv4(name)
  return v4 === undefined ? 'public' : classifyIPv4(v4)
}

const PRIVATE_SUFFIXES = ['.internal', '.local', '.localdomain', '.home.arpa']

function parseIPv4(name: string): number | undefined {
  // URL parsing has normalised every IPv4 spelling to four decimal octets.
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name)
  if (match === null) return undefined
  let value = 0
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i])
    if (octet > 255) return undefined
    value = value * 256 + octet
  }
  return value
}

// [network, prefix length, class]; anything not listed is public.
const IPV4_RANGES: readonly (readonly [number, number, HostClass])[] = [
  [ipv4(127, 0, 0, 0), 8, 'loopback'],
  [ipv4(0, 0, 0, 0), 8, 'special-use'],
  [ipv4(10, 0, 0, 0), 8, 'private'],
  [ipv4(100, 64, 0, 0), 10, 'private'], // CGNAT (RFC 6598)
  [ipv4(169, 254, 0, 0), 16, 'private'], // link-local, cloud metadata
  [ipv4(172, 16, 0, 0), 12, 'private'],
  [ipv4(192, 0, 0, 0), 24, 'special-use'], // IETF protocol assignments
  [ipv4(192, 0, 2, 0), 24, 'special-use'], // TEST-NET-1
  [ipv4(192, 88, 99, 0), 24, 'special-use'], // 6to4 relay anycast
  [ipv4(192, 168, 0, 0), 16, 'private'],
  [ipv4(198, 18, 0, 0), 15, 'special-use'], // benchmarking
  [ipv4(198, 51, 100, 0), 24, 'special-use'], // TEST-NET-2
  [ipv4(203, 0, 113, 0), 24, 'special-use'], // TEST-NET-3
  [ipv4(224, 0, 0, 0), 4, 'special-use'], // multicast
  [ipv4(240, 0, 0, 0), 4, 'special-use'], // reserved, broadcast
]

function ipv4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0
}

function classifyIPv4(address: number): HostClass {
  for (const [network, prefix, kind] of IPV4_RANGES) {
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
    if ((address & mask) >>> 0 === network) return kind
  }
  return 'public'
}

function parseIPv6(text: string): number[] | undefined {
  // URL serialises IPv6 compressed, lower-case, without zone or dotted tail; stay strict anyway.
  if (!/^[0-9a-f:]+$/.test(text)) return undefined
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' ? [] : (halves[0] ?? '').split(':')
  const tail = halves.length === 2 && halves[1] !== '' ? (halves[1] ?? '').split(':') : []
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined
  const words = [...head, ...Array<string>(missing).fill('0'), ...tail].map((w) =>
    /^[0-9a-f]{1,4}$/.test(w) ? parseInt(w, 16) : NaN,
  )
  return words.some(Number.isNaN) ? undefined : words
}

function classifyIPv6(w: number[]): HostClass {
  const [w0 = 0, w1 = 0, w2 = 0, w3 = 0, w4 = 0, w5 = 0, w6 = 0, w7 = 0] = w
  const upperZero = w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0
  if (upperZero && w5 === 0 && w6 === 0 && w7 === 1) return 'loopback' // ::1
  if (upperZero && w5 === 0) return 'special-use' // ::, ::/96 IPv4-compatible
  if (upperZero && w5 === 0xffff) return 'special-use' // ::ffff:0:0/96 IPv4-mapped
  if (w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0 && w4 === 0xffff && w5 === 0) {
    return 'special-use' // ::ffff:0:0:0/96 IPv4-translated (RFC 2765)
  }
  if (w0 === 0x64 && w1 === 0xff9b && w2 === 1) return 'special-use' // local-use NAT64 (RFC 8215)
  // 2001::/23 IETF protocol assignments: Teredo (2001::/32) embeds an arbitrary IPv4 address,
  // and the rest (ORCHID, benchmarking, AMT …) is no place for a client's document.
  if (w0 === 0x2001 && (w1 & 0xfe00) === 0) return 'special-use'
  if (w0 === 0x64 && w1 === 0xff9b && w2 === 0 && w3 === 0 && w4 === 0 && w5 === 0) {
    // NAT64 (RFC 6052): judge the embedded IPv4 address.
    const embedded = classifyIPv4(((w6 << 16) | w7) >>> 0)
    return embedded === 'public' ? 'public' : 'special-use'
  }
  if (w0 === 0x0100 && w1 === 0 && w2 === 0 && w3 === 0) return 'special-use' // discard 100::/64
  if (w0 === 0x2001 && w1 === 0x0db8) return 'special-use' // documentation
  if (w0 === 0x2002) return 'special-use' // 6to4 embeds arbitrary IPv4
  if ((w0 & 0xfe00) === 0xfc00) return 'private' // unique local fc00::/7
  if ((w0 & 0xffc0) === 0xfe80) return 'private' // link-local fe80::/10
  if ((w0 & 0xffc0) === 0xfec0) return 'private' // site-local (deprecated)
  if ((w0 & 0xff00) === 0xff00) return 'special-use' // multicast
  return 'public'
}

/**
 * Classifies an IP address as a resolver returns it (`10.0.0.1`, `::1`, `::ffff:7f00:1`, and
 * odd numeric spellings, which are normalised the way URLs are). Anything that is not an IP
 * address is `special-use`, so a strange resolver answer never passes as public.
 */
export function classifyAddress(address: string): HostClass {
  const text = address.trim()
  if (text === '' || /[\s/?#@\\%]/.test(text)) return 'special-use'
  let hostname: string
  try {
    hostname = new URL(`http://${text.includes(':') ? `[${text}]` : text}/`).hostname
  } catch {
    return 'special-use'
  }
  if (hostname.startsWith('[')) {
    const words = parseIPv6(hostname.slice(1, -1))
    return words === undefined ? 'special-use' : classifyIPv6(words)
  }
  const v4 = parseIPv4(hostname)
  return v4 === undefined ? 'special-use' : classifyIPv4(v4)
}
