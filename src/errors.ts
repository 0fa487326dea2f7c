/**
 * The error model. `OAuthError` carries what may go to the client (`code`, `message`) apart from what
 * may only go to logs (`reason`, `cause`). `toErrorResponse` is the one place an error becomes a
 * response, and `errorResponse` the one serialiser every error response goes through (bearer
 * challenges, the router's 404 and 405 included).
 */

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_target'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'server_error'
  | 'temporarily_unavailable'
  // RFC 9449 §5, §7.1, §8, §9 (DPoP)
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'

const STATUS: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  server_error: 500,
  temporarily_unavailable: 503,
}

export interface OAuthErrorOptions {
  /** Stable internal slug for logs and metrics (e.g. `pkce_mismatch`). Never sent to the client. */
  reason?: string
  /** HTTP status; defaults from the code (400 unless listed). */
  status?: number
  /** Extra response headers (`WWW-Authenticate`, `Allow`, `Retry-After`). */
  headers?: Record<string, string>
  cause?: unknown
}

/** An OAuth error whose `code` and `message` are safe to send to the client. */
export class OAuthError extends Error {
  override name = 'OAuthError'
  readonly code: OAuthErrorCode
  readonly status: number
  readonly reason: string | undefined
  readonly headers: Readonly<Record<string, string>>

  constructor(code: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(description, { cause: options.cause })
    this.code = code
    this.status = options.status ?? STATUS[code] ?? 400
    this.reason = options.reason
    this.headers = options.headers ?? {}
  }
}

/** A configuration problem found at start-up; lists every issue with the path of its field. */
export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly code = 'ERR_CONFIG'
  readonly issues: readonly string[]
  constructor(issues: readonly string[]) {
    super(`invalid configuration:\n  - ${issues.join('\n  - ')}`)
    this.issues = issues
  }
}

/** A store that cannot answer (down, timed out, corrupt). Never a silent miss. */
export class StoreError extends Error {
  override name = 'StoreError'
  readonly code: 'ERR_STORE_UNAVAILABLE' | 'ERR_STORE_DECRYPT' | 'ERR_STORE_CLOSED'
  constructor(
    code: 'ERR_STORE_UNAVAILABLE' | 'ERR_STORE_DECRYPT' | 'ERR_STORE_CLOSED',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause })
    this.code = code
  }
}

/** An identity provider or other remote party failed; the client sees no upstream text. */
export class UpstreamError extends Error {
  override name = 'UpstreamError'
  readonly code:
    'ERR_UPSTREAM' | 'ERR_UPSTREAM_TIMEOUT' | 'ERR_UPSTREAM_RESPONSE' | 'ERR_FETCH_BLOCKED'
  constructor(
    code: 'ERR_UPSTREAM' | 'ERR_UPSTREAM_TIMEOUT' | 'ERR_UPSTREAM_RESPONSE' | 'ERR_FETCH_BLOCKED',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause })
    this.code = code
  }
}

/** Called for every error that becomes a response, with the internal reason. */
export type ErrorHook = (error: OAuthError) => void

/** Turns any thrown value into the `OAuthError` the client may see. */
export function toOAuthError(error: unknown): OAuthError {
  if (error instanceof OAuthError) return error
  if (error instanceof StoreError) {
    return new OAuthError('temporarily_unavailable', 'storage is unavailable, try again later', {
      reason: error.code,
      cause: error,
    })
  }
  if (error instanceof UpstreamError) {
    return new OAuthError('temporarily_unavailable', 'the identity provider is unavailable', {
      reason: error.code,
      cause: error,
    })
  }
  return new OAuthError('server_error', 'internal error', { reason: 'unhandled', cause: error })
}

/** The only place an error becomes a response: RFC 6749 §5.2 JSON with `Cache-Control: no-store`. */
export function toErrorResponse(error: unknown, onError?: ErrorHook): Response {
  const e = toOAuthError(error)
  onError?.(e)
  return errorResponse(e.status, { error: e.code, error_description: e.message }, e.headers)
}

/** The body of an error response (RFC 6749 §5.2, RFC 6750 §3). */
export interface ErrorBody {
  error: string
  error_description?: string
}

/**
 * The one serialiser of error responses: `body` as JSON, never cached (`Cache-Control: no-store`,
 * `Pragma: no-cache`), plus `headers` (`WWW-Authenticate`, `Allow`, ...). Used by
 * `toErrorResponse` and, for answers that are not a thrown error (the router's 404), directly.
 */
export function errorResponse(
  status: number,
  body: ErrorBody,
  headers: Readonly<Record<string, string>> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      ...headers,
    },
  })
}
