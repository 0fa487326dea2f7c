/**
 * The route table of `createGatehouse` (`gatehouse.fetch`): each path under `basePath`, its
 * methods and their handlers, and whether browsers may call it cross-origin. `gatehouse.ts` builds
 * the parts (the endpoints' dependencies, the metadata, the proxy, the operations routes) and
 * composes them here; the order is the order the router tries them.
 */
import type { ResolvedConfig } from './config/schema.js'
import type { Route } from './http/app.js'
import { metadataResponse } from './http/responses.js'
import { handleAuthorize, type AuthorizeDeps } from './oauth/authorize.js'
import { handleIntrospect, type IntrospectDeps } from './oauth/introspect.js'
import { authorizationServerMetadataPath } from './oauth/metadata.js'
import { handleRegister, type RegisterDeps } from './oauth/register.js'
import { handleRevoke, type RevokeDeps } from './oauth/revoke.js'
import type { TokenDeps } from './oauth/token.js'
import { protectedResourceMetadata } from './resource/metadata.js'
import type { SigningKeys } from './tokens/keys.js'

/** What the OAuth endpoints (oauth/) need: the provider, the grants, client authentication, limits. */
export type EndpointDeps = AuthorizeDeps & TokenDeps & RevokeDeps & IntrospectDeps & RegisterDeps

/** The parts the table routes to. */
export interface RouteTableParts {
  config: ResolvedConfig
  endpoints: EndpointDeps
  /** The authorization server metadata document (RFC 8414) as served. */
  metadata: Record<string, unknown>
  /** The signing keys whose public half `/.well-known/jwks.json` serves. */
  keys: SigningKeys
  /** `POST /token` as served (`handleToken`, in its span when tracing is on). */
  token: (request: Request) => Promise<Response>
  /** The sign-in routes: the proxy's (IdP callback, consent) or the local consent page's. */
  signIn: readonly Route[]
  /** `/healthz`, `/readyz` and `/metrics` (ops/observability.ts). */
  operations: readonly Route[]
  /** The `/admin` page's routes, when `admin.enabled`. */
  admin: readonly Route[]
}

/** Every route of `gatehouse.fetch`, in the order the router tries them. */
export function routeTable(parts: RouteTableParts): Route[] {
  const { config, endpoints: deps, metadata, keys } = parts
  const p = config.basePath
  const register: Route[] = config.registration.enabled
    ? [{ path: `${p}/register`, cors: true, methods: { POST: (r) => handleRegister(r, deps) } }]
    : []
  return [
    {
      path: authorizationServerMetadataPath(config),
      cors: true,
      head: true,
      methods: { GET: () => Promise.resolve(metadataResponse(metadata)) },
    },
    {
      path: `${p}/.well-known/jwks.json`,
      cors: true,
      head: true,
      methods: { GET: () => Promise.resolve(metadataResponse(keys.jwks())) },
    },
    {
      path: `${p}/authorize`,
      cors: false,
      methods: { GET: (r) => handleAuthorize(r, deps), POST: (r) => handleAuthorize(r, deps) },
    },
    { path: `${p}/token`, cors: true, methods: { POST: parts.token } },
    { path: `${p}/revoke`, cors: true, methods: { POST: (r) => handleRevoke(r, deps) } },
    { path: `${p}/introspect`, cors: false, methods: { POST: (r) => handleIntrospect(r, deps) } },
    ...config.resources.map((resource): Route => ({
      path: resource.metadataPath,
      cors: true,
      head: true,
      methods: {
        GET: () =>
          Promise.resolve(metadataResponse(protectedResourceMetadata([config.issuer], resource))),
      },
    })),
    ...parts.signIn,
    ...register,
    ...parts.operations,
    ...parts.admin,
  ]
}
