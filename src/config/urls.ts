/** URL helpers shared by configuration and the endpoints. No I/O. */
import * as z from 'zod'

/**
 * A configuration field holding an absolute URL (what `new URL` parses). Use it for every URL
 * field: refinements then read it with `parseURL`, never `new URL`, because zod runs an object's
 * refinements even when one of its fields failed, and a throw there would hide every other problem.
 */
export const absoluteURL = () =>
  z.url({
    error: (issue) =>
      issue.code === 'invalid_format' ? 'must be an absolute URL (https://…)' : undefined,
  })

/**
 * `absoluteURL` for a server Gatehouse calls over plain HTTP or TLS (a gateway route's MCP
 * server): http and https only, and the message says both are fine.
 */
export const httpURL = () =>
  z.url({
    protocol: /^https?$/,
    error: (issue) =>
      issue.code === 'invalid_format'
        ? 'must be an absolute http(s) URL (http://… or https://…)'
        : undefined,
  })

/** The parsed URL, or `undefined` for a string that is not an absolute URL (never throws). */
export function parseURL(value: string): URL | undefined {
  try {
    return new URL(value)
  } catch {
    return undefined
  }
}

/**
 * Whether a hostname (as `URL.hostname` gives it) is loopback: `localhost` and every name under it
 * (RFC 6761 §6.3, with or without the final dot), 127.0.0.0/8 and `[::1]`. RFC 8252 §8.3 advises
 * clients to prefer the IP literals, but `localhost` names stay loopback. The one answer for
 * configuration, redirect URIs and the guarded fetch (`classifyHost` agrees).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '')
  return h === 'localhost' || h.endsWith('.localhost') || isLoopbackIP(h)
}

/** Whether a hostname is a loopback IP literal (RFC 8252 §7.3 port variance applies only to these). */
export function isLoopbackIP(hostname: string): boolean {
  return hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname)
}

/**
 * The canonical form of a resource URI (MCP §Canonical Server URI): lower-case scheme and host
 * (the URL parser does that), default port dropped, no trailing slash on the path, no fragment.
 * Throws `TypeError` for a string that is not an absolute URL.
 */
export function canonicalResource(value: string): string {
  const url = new URL(value)
  const path = url.pathname.replace(/\/+$/, '')
  return `${url.protocol}//${url.host}${path}${url.search}`
}
