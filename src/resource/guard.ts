/**
 * The guard around protected handlers: picks the resource a request is for, checks `Origin`
 * (MCP transports: DNS rebinding), verifies the bearer token and answers 401/403 challenges. Used
 * by `createGatehouse` and by `createRemoteAuthProvider`.
 */
import type { ResolvedResource } from '../config/schema.js'
import { OAuthError, toErrorResponse, type ErrorHook } from '../errors.js'
import type { DPoPPolicy } from '../jwt/dpop-proof.js'
import type { AccessToken, TokenVerifier } from '../jwt/access-token.js'
import { bearerChallenge, verifyBearer, type BearerOptions } from './bearer.js'

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

export interface Guard {
  /** Verifies the request's bearer token; throws `OAuthError` (see `bearerChallenge`). */
  verifyBearer(request: Request, options?: ProtectOptions): Promise<AccessToken>
  /**
   * Wraps a handler so that it runs only with a valid token. Answers 403 for a browser `Origin`
   * the resource does not allow, 401/403 challenges for token problems, and turns an
   * `insufficient_scope` or `invalid_token` thrown by the handler into the same challenge.
   */
  protect(
    handler: ProtectedHandler,
    options?: ProtectOptions,
  ): (request: Request) => Promise<Response>
}

export interface GuardOptions {
  resources: readonly ResolvedResource[]
  verifier: TokenVerifier
  onError?: ErrorHook
  /** DPoP proof checking (RFC 9449); unset: the DPoP scheme is refused. */
  dpop?: DPoPPolicy
}

export function createGuard(options: GuardOptions): Guard {
  const { resources, verifier, onError, dpop } = options
  const hook = onError ? { onError } : {}

  const resourceFor = (request: Request, wanted?: string): ResolvedResource => {
    const found = wanted
      ? resources.find((r) => r.url === wanted)
      : resources.length === 1
        ? resources[0]
        : resources.find((r) => new URL(r.url).pathname === new URL(request.url).pathname)
    if (!found)
      throw new TypeError('no configured resource matches this route; pass options.resource')
    return found
  }

  const bearerOptions = (
    resource: ResolvedResource,
    scopes?: readonly string[],
  ): BearerOptions => ({
    verifier,
    resource,
    ...(scopes ? { scopes } : {}),
    ...(dpop ? { dpop } : {}),
  })

  return {
    verifyBearer: (request, opts = {}) =>
      verifyBearer(request, bearerOptions(resourceFor(request, opts.resource), opts.scopes)),
    protect: (handler, opts = {}) => {
      // The options as they are now: the check and the challenge use the same scopes throughout.
      const { resource: wanted, scopes } = opts
      // A route whose resource is named, or the only one, checks every request the same way (an
      // empty name picks by path, as `resourceFor` reads it).
      const fixed = (wanted !== undefined && wanted !== '') || resources.length === 1
      let same: BearerOptions | undefined
      const optionsFor = (request: Request): BearerOptions => {
        if (same !== undefined) return same
        const found = bearerOptions(resourceFor(request, wanted), scopes)
        if (fixed) same = found
        return found
      }
      return async (request) => {
        const bearer = optionsFor(request)
        const { resource } = bearer
        if (!originAllowed(request, resource)) {
          const denied = new OAuthError('access_denied', 'this origin may not call the resource', {
            reason: 'origin_not_allowed',
            status: 403,
          })
          return toErrorResponse(denied, onError)
        }
        let token: AccessToken
        try {
          token = await verifyBearer(request, bearer)
        } catch (error) {
          return bearerChallenge(error, { resource, ...(scopes ? { scopes } : {}), ...hook })
        }
        try {
          return await handler(request, token)
        } catch (error) {
          if (
            error instanceof OAuthError &&
            (error.code === 'insufficient_scope' || error.code === 'invalid_token')
          ) {
            return bearerChallenge(error, { resource, ...hook })
          }
          throw error
        }
      }
    },
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
