/**
 * RFC 9728 protected-resource metadata: what a resource tells clients about the authorization
 * servers it trusts. Built once from configuration, never from the request's Host header.
 */
import type { ResolvedResource } from '../config/schema.js'

/**
 * RFC 9728 §2 metadata for one protected resource. With DPoP on, the proof algorithms the guard
 * accepts (`dpop_signing_alg_values_supported`), and `dpop_bound_access_tokens_required: true`
 * for a resource that requires DPoP.
 */
export function protectedResourceMetadata(
  authorizationServers: readonly string[],
  resource: ResolvedResource,
): Record<string, unknown> {
  const scopes = resource.scopes.filter((s) => s !== 'offline_access')
  const dpopAlgorithms = resource.dpop.algorithms.length > 0 ? resource.dpop.algorithms : undefined
  return {
    resource: resource.url,
    authorization_servers: [...authorizationServers],
    bearer_methods_supported: ['header'],
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    ...(resource.name !== undefined ? { resource_name: resource.name } : {}),
    ...(dpopAlgorithms ? { dpop_signing_alg_values_supported: [...dpopAlgorithms] } : {}),
    ...(dpopAlgorithms && resource.dpop.required
      ? { dpop_bound_access_tokens_required: true }
      : {}),
  }
}
