/**
 * Resource indicators (RFC 8707): a `resource` parameter or claim resolved against the configured
 * resources. Shared by the authorization endpoint, the grants and the identity-assertion checks.
 */
import type { ResolvedConfig, ResolvedResource } from '../config/schema.js'
import { canonicalResource } from '../config/urls.js'
import { OAuthError } from '../errors.js'
import { hasDotSegment } from '../config/protocol.js'

/** RFC 8707 §2: an absolute URI without fragment naming a configured resource; default: the first. */
export function resolveResource(
  value: string | undefined,
  config: ResolvedConfig,
): ResolvedResource {
  const first = config.resources[0]
  if (value === undefined && first) return first
  const bad = () =>
    new OAuthError('invalid_target', 'the resource is not served by this authorization server', {
      reason: 'unknown_resource',
    })
  if (value === undefined || value.includes('#')) throw bad()
  // The URL parser would resolve `..`, read `\` as `/` and drop tabs and line breaks, turning
  // `…/mcp/../admin` into `…/admin`: a value it would rewrite so is refused, never normalised
  // (an IdP or policy that grants resources by prefix would otherwise be bypassed).
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u0020\u007f\\]/.test(value) || hasDotSegment(value)) {
    throw new OAuthError('invalid_target', 'the resource must not contain dot segments', {
      reason: 'resource_dot_segment',
    })
  }
  let canonical: string
  try {
    canonical = canonicalResource(value)
  } catch {
    throw bad()
  }
  const match = config.resources.find((r) => r.url === canonical)
  if (!match) throw bad()
  return match
}
