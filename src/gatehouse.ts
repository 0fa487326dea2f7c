/**
 * `createGatehouse`: the authorization server and the bearer guard, wired from one configuration.
 * Everything here is Web-standard; mount `gatehouse.fetch` with an adapter or directly in Hono,
 * Workers, Deno or Bun.
 */
import { resolveConfig, type ResolvedConfig, type ResolvedResource } from './config/schema.js'
import { OAuthError, toErrorResponse, type ErrorHook } from './errors.js'
import { Grants } from './grants/grants.js'
import { createRouter, type Handler, type Route } from './http/app.js'
import { RateLimiter } from './http/rate-limit.js'
import { metadataResponse } from './http/responses.js'
import type { SignatureVerifierFactory } from './jwt/signature.js'
import { handleAuthorize } from './oauth/authorize.js'
import { GatehouseProvider, type Authenticate } from './oauth/gatehouse-provider.js'
import { handleIntrospect } from './oauth/introspect.js'
import {
  authorizationServerMetadata,
  authorizationServerMetadataPath,
  protectedResourceMetadata,
} from './oauth/metadata.js'
import type { OAuthServerProvider } from './oauth/provider.js'
import { handleRegister } from './oauth/register.js'
import { handleRevoke } from './oauth/revoke.js'
import { handleToken, JWT_BEARER } from './oauth/token.js'
import type { AccessToken, TokenVerifier } from './resource/access-token.js'
import { bearerChallenge, verifyBearer } from './resource/bearer.js'
import { createEncryptedStore } from './storage/encrypted.js'
import type { Store } from './storage/store.js'
import { SigningKeys } from './tokens/keys.js'
import { createOwnTokenVerifier } from './tokens/own-token-verifier.js'

export interface GatehouseOptions {
  /** Configuration, validated by the one schema (`ConfigError` lists every problem). */
  config: unknown
  /** Where state lives; values are encrypted with a key derived from `config.secret`. */
  store: Store
  /** How users sign in when no proxy is configured (tests, custom logins). */
  authenticate?: Authenticate
  /** Replaces the store-backed provider with one of your own (the MCP SDK provider contract). */
  provider?: (base: GatehouseProvider) => OAuthServerProvider
  /** Sees every error that becomes a response, with its internal `reason`; never sent to clients. */
  onError?: ErrorHook
  /** Milliseconds since the epoch; injected so tests control time. */
  now?: () => number
  /** Faster signature checks on Node: `nodeSignatureVerifier` from `mcp-gatehouse/node`. */
  signatureVerifier?: SignatureVerifierFactory
}

export interface ProtectOptions {
  /** The resource URL to guard; default the one whose path matches the request, or the only one. */
  resource?: string
  /** Scopes this route needs beyond the resource's `requiredScopes`. */
  scopes?: readonly string[]
}

/** A handler that runs only for requests with a valid token. */
export type ProtectedHandler = (
  request: Request,
  token: AccessToken,
) => Response | Promise<Response>

export interface Gatehouse {
  readonly config: ResolvedConfig
  readonly provider: OAuthServerProvider
  /** The store-backed provider (also when `provider` wraps it). */
  readonly base: GatehouseProvider
  readonly keys: SigningKeys
  /** Verifies Gatehouse's own access tokens (signature, issuer, audience, expiry, revocation). */
  readonly verifier: TokenVerifier
  /** Serves every OAuth endpoint and metadata document; other paths get an unhandled 404. */
  fetch: Handler
  /** Verifies the request's bearer token; throws `OAuthError` (see `bearerChallenge`). */
  verifyBearer(request: Request, options?: ProtectOptions): Promise<AccessToken>
  /** Wraps a handler so that it runs only with a valid token, answering 401/403 challenges itself. */
  protect(handler: ProtectedHandler, options?: ProtectOptions): Handler
  close(): Promise<void>
}

/** Creates the authorization server and guard. Validates everything before the first request. */
export async function createGatehouse(options: GatehouseOptions): Promise<Gatehouse> {
  const config = resolveConfig(options.config)
  const now = options.now ?? Date.now
  const store = await createEncryptedStore(options.store, { secret: config.secret })
  const keys = await SigningKeys.load({
    store,
    algorithm: config.signingAlgorithm,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    now,
  })
  const grants = new Grants({
    store,
    ttlSeconds: Math.max(config.refreshTokenTtlSeconds, config.accessTokenTtlSeconds),
    revocationCheckSeconds: config.revocationCheckSeconds,
    now,
  })
  const verifier = createOwnTokenVerifier({
    config,
    keys,
    grants,
    now,
    ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
  })
  const base = new GatehouseProvider({
    config,
    store,
    keys,
    verifier,
    grants,
    now,
    ...(options.authenticate ? { authenticate: options.authenticate } : {}),
  })
  const provider: OAuthServerProvider = options.provider ? options.provider(base) : base
  const minute = { windowSeconds: 60, now }
  const deps = {
    config,
    provider,
    now,
    clientAuthFailures: new RateLimiter({
      ...minute,
      limit: config.rateLimits.failedClientAuthPerMinute,
    }),
    registrations: new RateLimiter({ ...minute, limit: config.rateLimits.registrationsPerMinute }),
    ...(options.onError ? { onError: options.onError } : {}),
  }
  const grantTypes = ['authorization_code', 'refresh_token']
  if (provider.exchangeIdentityAssertion) grantTypes.push(JWT_BEARER)
  const asMetadata = authorizationServerMetadata(config, { grantTypes })

  const p = config.basePath
  const routes: Route[] = [
    {
      path: authorizationServerMetadataPath(config),
      cors: true,
      methods: { GET: () => Promise.resolve(metadataResponse(asMetadata)) },
    },
    {
      path: `${p}/.well-known/jwks.json`,
      cors: true,
      methods: { GET: () => Promise.resolve(metadataResponse(keys.jwks())) },
    },
    {
      path: `${p}/authorize`,
      cors: false,
      methods: { GET: (r) => handleAuthorize(r, deps), POST: (r) => handleAuthorize(r, deps) },
    },
    { path: `${p}/token`, cors: true, methods: { POST: (r) => handleToken(r, deps) } },
    { path: `${p}/revoke`, cors: true, methods: { POST: (r) => handleRevoke(r, deps) } },
    { path: `${p}/introspect`, cors: false, methods: { POST: (r) => handleIntrospect(r, deps) } },
    ...config.resources.map((resource): Route => ({
      path: resource.metadataPath,
      cors: true,
      methods: {
        GET: () => Promise.resolve(metadataResponse(protectedResourceMetadata(config, resource))),
      },
    })),
  ]
  if (config.registration.enabled) {
    routes.push({
      path: `${p}/register`,
      cors: true,
      methods: { POST: (r) => handleRegister(r, deps) },
    })
  }
  const fetch = createRouter(routes, options.onError)

  const resourceFor = (request: Request, wanted?: string): ResolvedResource => {
    const list = config.resources
    const found = wanted
      ? list.find((r) => r.url === wanted)
      : list.length === 1
        ? list[0]
        : list.find((r) => new URL(r.url).pathname === new URL(request.url).pathname)
    if (!found)
      throw new TypeError('no configured resource matches this route; pass options.resource')
    return found
  }

  return {
    config,
    provider,
    base,
    keys,
    verifier,
    fetch,
    verifyBearer: (request, opts = {}) =>
      verifyBearer(request, {
        verifier,
        resource: resourceFor(request, opts.resource),
        ...(opts.scopes ? { scopes: opts.scopes } : {}),
      }),
    protect:
      (handler, opts = {}) =>
      async (request) => {
        const resource = resourceFor(request, opts.resource)
        if (!originAllowed(request, resource)) {
          return toErrorResponse(
            new OAuthError('access_denied', 'this origin may not call the resource', {
              reason: 'origin_not_allowed',
              status: 403,
            }),
            options.onError,
          )
        }
        let token: AccessToken
        try {
          token = await verifyBearer(request, {
            verifier,
            resource,
            ...(opts.scopes ? { scopes: opts.scopes } : {}),
          })
        } catch (error) {
          return bearerChallenge(error, {
            resource,
            ...(opts.scopes ? { scopes: opts.scopes } : {}),
            ...(options.onError ? { onError: options.onError } : {}),
          })
        }
        try {
          return await handler(request, token)
        } catch (error) {
          if (
            error instanceof OAuthError &&
            (error.code === 'insufficient_scope' || error.code === 'invalid_token')
          ) {
            return bearerChallenge(error, {
              resource,
              ...(options.onError ? { onError: options.onError } : {}),
            })
          }
          throw error
        }
      },
    close: () => store.close(),
  }
}

/** MCP transports §Security Warning: a present, unlisted `Origin` is refused (DNS rebinding). */
function originAllowed(request: Request, resource: ResolvedResource): boolean {
  const origin = request.headers.get('origin')
  if (origin === null) return true
  if (resource.allowedOrigins.includes('*')) return true
  const own = new URL(resource.url).origin
  return origin === own || resource.allowedOrigins.some((o) => new URL(o).origin === origin)
}
