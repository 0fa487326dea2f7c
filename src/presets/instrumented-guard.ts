/**
 * The bearer guard with a request line per protected request and a count of how each token check
 * ended (`ok`, `missing`, `invalid`, `revoked`, `insufficient_scope`, `error`). The token's client
 * id and subject go on the line; the token never does.
 */
import type { ResolvedResource } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import type { AccessToken } from '../jwt/access-token.js'
import type { Guard, ProtectOptions } from '../resource/guard.js'
import { contextOf, type RequestContext } from '../ops/context.js'
import type { Logger } from '../ops/logger.js'
import type { BearerOutcome, Metrics } from '../ops/metrics.js'
import { withRequestLog } from '../ops/request-log.js'
import type { Tracing } from '../ops/tracing.js'

export interface InstrumentGuardOptions {
  logger: Logger
  metrics: Metrics
  /** OpenTelemetry: a server span per protected request. */
  tracing?: Tracing
  resources: readonly ResolvedResource[]
  addressOf?: (request: Request) => string | undefined
}

/** Wraps `guard`: same behaviour, plus logs and metrics. */
export function instrumentGuard(guard: Guard, options: InstrumentGuardOptions): Guard {
  const { metrics, resources } = options
  const note = (request: Request, token: AccessToken) => {
    const context = contextOf(request)
    if (!context) return
    context.tokenAccepted = true
    context.clientId = token.clientId
    if (token.subject !== undefined) context.subject = token.subject
  }
  const routeOf = (request: Request, opts: ProtectOptions) => {
    const path = new URL(request.url).pathname
    const url =
      opts.resource ??
      (resources.length === 1
        ? resources[0]?.url
        : resources.find((r) => new URL(r.url).pathname === path)?.url)
    return url === undefined ? 'unmatched' : new URL(url).pathname
  }
  return {
    async verifyBearer(request, opts) {
      try {
        const token = await guard.verifyBearer(request, opts)
        metrics.bearer('ok')
        note(request, token)
        return token
      } catch (error) {
        metrics.bearer(outcomeOf(error, contextOf(request)))
        throw error
      }
    },
    protect(handler, opts = {}) {
      const inner = guard.protect((request, token) => {
        metrics.bearer('ok')
        note(request, token)
        return handler(request, token)
      }, opts)
      // The route label is fixed when the resource is (given, or the only one): no URL parsing
      // per request (two `new URL` per request were ~3% of a stateless MCP call, issue 17).
      const fixedUrl = opts.resource ?? (resources.length === 1 ? resources[0]?.url : undefined)
      const fixed = fixedUrl === undefined ? undefined : new URL(fixedUrl).pathname
      return withRequestLog(inner, {
        logger: options.logger,
        metrics,
        component: 'guard',
        // A refusal is counted from its challenge; an accepted token was counted when it passed.
        observe: (response, context) => {
          if (context.tokenAccepted === true) return
          const outcome = outcomeOfResponse(response, context)
          if (outcome) metrics.bearer(outcome)
        },
        ...(options.tracing ? { tracing: options.tracing } : {}),
        routeOf: fixed === undefined ? (request) => routeOf(request, opts) : () => fixed,
        ...(options.addressOf ? { addressOf: options.addressOf } : {}),
      })
    },
  }
}

function outcomeOf(error: unknown, context: RequestContext | undefined): BearerOutcome {
  if (!(error instanceof OAuthError)) return 'error'
  if (error.code === 'insufficient_scope') return 'insufficient_scope'
  if (error.reason === 'no_credentials') return 'missing'
  if (error.code === 'invalid_token' || error.code === 'invalid_request') {
    return context?.revoked === true ? 'revoked' : 'invalid'
  }
  return 'error'
}

/** How the check ended, read from the challenge (RFC 6750 §3); none for a refused origin. */
function outcomeOfResponse(
  response: Response,
  context: RequestContext | undefined,
): BearerOutcome | undefined {
  if (response.status >= 500) return 'error'
  const challenge = response.headers.get('www-authenticate')
  if (challenge === null) return undefined
  if (challenge.includes('error="insufficient_scope"')) return 'insufficient_scope'
  if (!challenge.includes('error=')) return 'missing'
  return context?.revoked === true ? 'revoked' : 'invalid'
}
