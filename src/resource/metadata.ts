/**
 * RFC 9728 protected-resource metadata: what a resource tells clients about the authorization
 * servers it trusts. Built once from configuration, never from the request's Host header.
 */
import type { ResolvedResource } from '../config/schema.js'

/** RFC 9728 §2 metadata for one protected resource. */
export function protectedResourceMetadata(
  authorizationServers: readonly string[],
  resource: ResolvedResource,
): Record<string, unknown> {
  const scopes = resource.scopes.filter((s) => s !== 'offline_access')
  return {
    resource: resource.url,
    authorization_servers: [...authorizationServers],
    bearer_methods_supported: ['header'],
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    ...(resource.name !== undefined ? { resource_name: resource.name } : {}),
  }
}
