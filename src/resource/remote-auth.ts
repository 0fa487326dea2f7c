/**
 * A resource server whose tokens come from an external authorization server that already speaks
 * MCP's profile (DCR or CIMD: WorkOS AuthKit, Keycloak with DCR, an enterprise AS). Gatehouse
 * serves the protected-resource metadata pointing there and guards the endpoints with a
 * `TokenVerifier` (a `JWTVerifier` for the AS's JWKS, or introspection).
 */
import { resolveRemoteAuthConfig, type ResolvedRemoteAuthConfig } from '../config/schema.js'
import type { ErrorHook } from '../errors.js'
import { createRouter, type Handler } from '../http/app.js'
import { metadataResponse } from '../http/responses.js'
import type { TokenVerifier } from '../jwt/access-token.js'
import { createGuard, type Guard } from './guard.js'
import { protectedResourceMetadata } from './metadata.js'

export interface RemoteAuthOptions {
  /** `{ resources, authorizationServers }`, validated by `RemoteAuthConfigSchema`. */
  config: unknown
  /** Checks tokens from the external AS; it must check their audience is the resource. */
  verifier: TokenVerifier
  onError?: ErrorHook
}

export interface RemoteAuthProvider extends Guard {
  readonly config: ResolvedRemoteAuthConfig
  /** Serves `/.well-known/oauth-protected-resource{path}` for every resource; other paths: unhandled 404. */
  fetch: Handler
}

/** Creates the metadata routes and the guard; throws `ConfigError` for bad configuration. */
export function createRemoteAuthProvider(options: RemoteAuthOptions): RemoteAuthProvider {
  const config = resolveRemoteAuthConfig(options.config)
  const hook = options.onError ? { onError: options.onError } : {}
  const fetch = createRouter(
    config.resources.map((resource) => {
      const body = protectedResourceMetadata(config.authorizationServers, resource)
      return {
        path: resource.metadataPath,
        cors: true,
        head: true,
        methods: { GET: () => Promise.resolve(metadataResponse(body)) },
      }
    }),
    options.onError,
  )
  return {
    config,
    fetch,
    ...createGuard({ resources: config.resources, verifier: options.verifier, ...hook }),
  }
}
