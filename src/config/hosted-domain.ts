/**
 * The `domain` option of the hosted identity providers (WorkOS AuthKit, Clerk …): a bare domain
 * name (`acme.authkit.app`), or a loopback `http://` origin for a local stand-in. A missing or
 * malformed value fails at start-up with the console setting to copy it from.
 */
import * as z from 'zod'

const DOMAIN_OR_LOOPBACK =
  /^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5})$/

/** A domain option; `example` is a well-formed value, `where` the console setting that shows it. */
export function hostedDomain(example: string, where: string) {
  return z
    .string({ error: `is required: the domain, e.g. ${example} (${where})` })
    .regex(
      DOMAIN_OR_LOOPBACK,
      `must be a domain name such as ${example}, no https:// and no path (${where})`,
    )
}

/** An optional base URL (a custom domain, or a loopback stand-in): https, or http on loopback. */
export function hostedBaseURL(where: string) {
  return z
    .string()
    .regex(
      /^(?:https:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):\d{1,5})$/,
      `must be an https:// origin with no path, http:// on loopback only (${where})`,
    )
    .optional()
}
