/**
 * The bearer guard for MCP endpoints (RFC 6750, RFC 9728 §5.1, MCP §Token Handling), with the
 * DPoP scheme (RFC 9449 §7, resource/dpop.ts). `verifyBearer` throws `OAuthError`;
 * `bearerChallenge` turns it into the 401/403 with an escaped `WWW-Authenticate` header (a `Bearer`
 * and, with DPoP on, a `DPoP` challenge). Only the Authorization header carries tokens: a token in
 * the query is never used.
 */
import type { ResolvedResource } from '../config/schema.js'
import { OAuthError, toErrorResponse, toOAuthError, type ErrorHook } from '../errors.js'
import type { DPoPPolicy } from '../jwt/dpop-proof.js'
import { checkAccessToken, type AccessToken, type TokenVerifier } from '../jwt/access-token.js'
import { assertBearerAllowed, inDPoPScheme, isDPoPSchemeError, verifyDPoPRequest } from './dpop.js'
import { missingScopes } from './scopes.js'

/** The reason slug for a request that carried no bearer credentials (RFC 6750 §3.1: no `error`). */
export const NO_CREDENTIALS = 'no_credentials'
const MAX_AUTHORIZATION = 8192

/**
 * A valid token that lacks scopes its verifier requires (`TokenCheck` `insufficient_scope`): 403,
 * with `scopes` (the verifier's, in the authorization server's form) named in the challenge.
 */
export class InsufficientScopeError extends OAuthError {
  readonly scopes: readonly string[]
  constructor(scopes: readonly string[]) {
    super('insufficient_scope', 'the access token lacks a required scope', {
      reason: 'insufficient_scope',
    })
    this.scopes = scopes
  }
}

export interface BearerOptions {
  verifier: TokenVerifier
  resource: ResolvedResource
  /** Scopes this request needs beyond the resource's `requiredScopes`. */
  scopes?: readonly string[]
  /** DPoP proof checking (replay store, nonces); unset: the DPoP scheme is refused. */
  dpop?: DPoPPolicy
}

/**
 * Verifies the request's bearer token for `resource`; throws `OAuthError` when it may not pass:
 * `invalid_token` (401) for a token the verifier refuses or one for another resource,
 * `insufficient_scope` (403) for a valid token without the verifier's required scopes
 * (`InsufficientScopeError`, see `TokenCheck`), the resource's `requiredScopes` or `scopes`.
 * `Authorization: DPoP` adds the proof checks of resource/dpop.ts (`invalid_dpop_proof`,
 * `use_dpop_nonce`); a DPoP-bound token sent as `Bearer` is `invalid_token`.
 */
export function verifyBearer(request: Request, options: BearerOptions): Promise<AccessToken> {
  // Not `async`: the Bearer path hands on `verifyPresented`'s promise without a frame of its own
  // (one promise and its turns fewer per protected request); every throw here still rejects.
  try {
    const header = request.headers.get('authorization')
    if (header !== null && /^dpop(?: |$)/i.test(header)) {
      return verifyPresented(request, header.slice(5).trim(), 'DPoP', options).catch(
        (error: unknown) => {
          throw error instanceof OAuthError ? inDPoPScheme(error) : error
        },
      )
    }
    const queryToken = hasQueryToken(request.url)
    if (header === null || !/^bearer(?: |$)/i.test(header)) {
      if (queryToken && header !== null) {
        throw new OAuthError('invalid_request', 'send the token in the Authorization header only', {
          reason: 'multiple_token_methods',
        })
      }
      throw new OAuthError('invalid_token', 'authorization required', {
        reason: NO_CREDENTIALS,
        status: 401,
      })
    }
    if (queryToken) {
      throw new OAuthError('invalid_request', 'send the token in the Authorization header only', {
        reason: 'multiple_token_methods',
      })
    }
    return verifyPresented(request, header.slice(7).trim(), 'Bearer', options)
  } catch (error) {
    // What was thrown, as it is (as the `async` function rejected with it).
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error)
  }
}

/** The checks after the scheme: `token` is what follows `Bearer ` or `DPoP `. */
async function verifyPresented(
  request: Request,
  token: string,
  scheme: 'Bearer' | 'DPoP',
  options: BearerOptions,
): Promise<AccessToken> {
  if (scheme === 'DPoP' && hasQueryToken(request.url)) {
    throw new OAuthError('invalid_request', 'send the token in the Authorization header only', {
      reason: 'multiple_token_methods',
    })
  }
  if (token.length > MAX_AUTHORIZATION) {
    throw new OAuthError('invalid_token', 'the access token is invalid', {
      reason: 'token_too_large',
    })
  }
  // RFC 6750 §2.1 b64token syntax; anything else (spaces, quotes, controls) is not a token.
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new OAuthError('invalid_token', 'the access token is malformed', {
      reason: 'token_syntax',
    })
  }
  const check = await checkAccessToken(options.verifier, token)
  if (check.status === 'invalid') {
    throw new OAuthError('invalid_token', 'the access token is invalid or expired', {
      reason: check.reason ?? 'token_rejected',
    })
  }
  const verified = check.token
  // The verifier checks the audience too; this guard insists on it for the resource it protects,
  // before any scope answer: a token for another resource is invalid here, not insufficient.
  if (verified.resource !== options.resource.url) {
    throw new OAuthError('invalid_token', 'the access token is not for this resource', {
      reason: 'wrong_audience',
    })
  }
  // RFC 9449 §7: the proof on every request (the verifier's cache holds tokens, never proofs).
  if (scheme === 'DPoP') {
    await verifyDPoPRequest(request, token, verified, options.resource, options.dpop)
  } else {
    assertBearerAllowed(verified, options.resource)
  }
  if (check.status === 'insufficient_scope') throw new InsufficientScopeError(check.scopes)
  const { requiredScopes } = options.resource
  const needed = options.scopes ? [...requiredScopes, ...options.scopes] : requiredScopes
  const missing = missingScopes(verified.scopes, needed)
  if (missing.length > 0) {
    throw new OAuthError('insufficient_scope', `missing scope: ${missing.join(' ')}`, {
      reason: 'insufficient_scope',
    })
  }
  return verified
}

export interface ChallengeOptions {
  resource: ResolvedResource
  /** Scopes to name in the challenge; default: the resource's required scopes (or all its scopes). */
  scopes?: readonly string[]
  onError?: ErrorHook
}

/**
 * The 401/403 response for a guard error, with an RFC 6750 §3 challenge. Its `scope` names: for an
 * `InsufficientScopeError`, the verifier's required scopes, the resource's `requiredScopes` and
 * `options.scopes`; otherwise the resource's `requiredScopes` and `options.scopes`, or all the
 * resource's scopes when both are empty. `offline_access` is never named.
 */
export function bearerChallenge(error: unknown, options: ChallengeOptions): Response {
  const e = toOAuthError(error)
  options.onError?.(e)
  const extra = options.scopes ?? []
  const fromVerifier = e instanceof InsufficientScopeError ? e.scopes : []
  const scopes = (
    fromVerifier.length > 0 || extra.length > 0
      ? [...fromVerifier, ...options.resource.requiredScopes, ...extra]
      : options.resource.requiredScopes.length > 0
        ? options.resource.requiredScopes
        : options.resource.scopes
  ).filter((s) => s !== 'offline_access')
  const bearerError = CHALLENGE_ERRORS.has(e.code)
  const errorParams: [string, string][] =
    bearerError && e.reason !== NO_CREDENTIALS
      ? [
          ['error', e.code],
          ['error_description', e.message],
        ]
      : []
  const metadata: [string, string] = ['resource_metadata', options.resource.metadataUrl]
  const scope: [string, string][] =
    scopes.length > 0 ? [['scope', [...new Set(scopes)].join(' ')]] : []
  // RFC 9449 §7.1: with DPoP on, a `DPoP` challenge naming the accepted algorithms beside (or, at
  // a resource that requires DPoP, instead of) `Bearer`; the error goes under the scheme used.
  const { algorithms, required } = options.resource.dpop
  // Without a DPoP challenge (DPoP off here) every error stays on the Bearer challenge.
  const dpopError = algorithms.length > 0 && (isDPoPSchemeError(e) || required)
  const challenges: string[] = []
  if (!required) {
    challenges.push(challengeOf('Bearer', [...(dpopError ? [] : errorParams), metadata, ...scope]))
  }
  if (algorithms.length > 0) {
    const own = dpopError ? errorParams : []
    challenges.push(
      challengeOf('DPoP', [
        ...own,
        ...(required ? [metadata] : []),
        ...(required || own.length > 0 ? scope : []),
        ['algs', algorithms.join(' ')],
      ]),
    )
  }
  const challenge = challenges.join(', ')
  const status = bearerError ? e.status : e.status >= 500 ? e.status : 401
  const noCredentials = e.reason === NO_CREDENTIALS
  // The hook saw `e` above; the response goes through the one serialiser.
  return toErrorResponse(
    new OAuthError(
      noCredentials ? 'invalid_token' : e.code,
      noCredentials ? 'authorization required' : e.message,
      {
        status,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        cause: e,
        headers: {
          ...(bearerError || status === 401 ? { 'www-authenticate': challenge } : {}),
          // A DPoP error's own headers (`DPoP-Nonce`); other errors' headers are not for this answer.
          ...(isDPoPSchemeError(e) ? e.headers : {}),
          'access-control-expose-headers': 'WWW-Authenticate, DPoP-Nonce',
        },
      },
    ),
  )
}

/** The error codes that go into a challenge (RFC 6750 §3.1, RFC 9449 §7.1). */
const CHALLENGE_ERRORS = new Set<string>([
  'invalid_token',
  'insufficient_scope',
  'invalid_request',
  'invalid_dpop_proof',
  'use_dpop_nonce',
])

function challengeOf(scheme: string, params: readonly [string, string][]): string {
  return `${scheme} ${params.map(([k, v]) => `${k}="${quote(v)}"`).join(', ')}`
}

/** Whether the URL's query has an `access_token` parameter (without parsing the URL when absent). */
function hasQueryToken(url: string): boolean {
  const q = url.indexOf('?')
  if (q === -1 || !url.includes('access_token', q)) return false
  return new URL(url).searchParams.has('access_token')
}

/** A quoted-string value: no CR/LF or non-ASCII, quotes and backslashes escaped (RFC 9110 §5.6.4). */
function quote(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '').replace(/["\\]/g, (c) => `\\${c}`)
}
