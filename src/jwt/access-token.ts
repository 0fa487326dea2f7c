/**
 * The verified view of a bearer token that every verifier returns and every guard consumes.
 * The contract sits beside the verifiers (jwt/) so they do not import the guard's folder.
 */

/** A token that passed verification. */
export interface AccessToken {
  /** The token string itself; never logged. */
  token: string
  clientId: string
  scopes: string[]
  /** Seconds since the epoch; `undefined` only for verifiers whose tokens do not expire. */
  expiresAt?: number
  /** The resource (audience) the token is for. */
  resource?: string
  /** `sub` of the token. */
  subject?: string
  /**
   * Who vouches for the subject: the token's `iss`, except for Gatehouse tokens from an identity
   * assertion (SEP-990), where it is the asserting enterprise IdP (`idp`); `claims.iss` always
   * holds the token's own issuer.
   */
  issuer?: string
  /** App roles (`roles` claim), when the issuer sends them. */
  roles?: string[]
  /** The grant this token belongs to (Gatehouse's own tokens); revoking the grant stops the token. */
  grantId?: string
  /**
   * `true` when no user is involved: the token was issued to the client itself (Gatehouse's
   * client credentials grant, `gty: "client_credentials"`); `subject` is then the client id.
   */
  machine?: boolean
  /**
   * Who the user is at the identity provider that signed them in, as that provider knows them:
   * set for Gatehouse tokens from a proxy sign-in and by `AzureJWTVerifier`; absent otherwise.
   */
  upstream?: UpstreamIdentity
  /** Every claim of the token, as verified. */
  claims: Readonly<Record<string, unknown>>
}

/**
 * What a verifier found out about a token, telling "valid but lacks a scope" apart from "invalid":
 * - `valid`: the token passes every rule;
 * - `insufficient_scope`: the token is genuine, unexpired and for this audience, but lacks scopes
 *   the verifier requires. `token` is what it verified (for the audience check and logs; never
 *   use it to authorise), `scopes` the scopes to ask the authorization server for, in the form it
 *   understands (Entra: `api://…/read`), which the guard names in its 403 challenge;
 * - `invalid`: anything else (`reason` is a slug for logs, never sent).
 */
export type TokenCheck =
  | { readonly status: 'valid'; readonly token: AccessToken }
  | {
      readonly status: 'insufficient_scope'
      readonly token: AccessToken
      readonly scopes: readonly string[]
    }
  | { readonly status: 'invalid'; readonly reason?: string }

/** The user at the upstream identity provider (Entra: `iss`, `sub`, `tid`, `oid`). */
export interface UpstreamIdentity {
  /** The identity provider's issuer for this user (Entra: the user's tenant's v2 issuer). */
  readonly issuer: string
  /** `sub` at the identity provider (Entra: pairwise per app). */
  readonly subject: string
  /** Entra's `tid`: the user's directory. Check it before trusting roles in multi-tenant apps. */
  readonly tenantId?: string
  /** Entra's `oid`: the user's object id, the same for every app of the tenant. */
  readonly objectId?: string
}

/**
 * Verifies bearer tokens: `verifyToken` gives `undefined` for any token that may not pass,
 * insufficient scope included (never throws for that; it rejects only when the verifier cannot
 * answer, e.g. `UpstreamError`). A verifier that knows the difference also implements `checkToken`,
 * which the guard prefers: a valid token lacking a scope then gets 403 `insufficient_scope`
 * instead of 401 `invalid_token`.
 */
export interface TokenVerifier {
  verifyToken(token: string): Promise<AccessToken | undefined>
  /** Optional: the token's `TokenCheck`; same rejection rules as `verifyToken`. */
  checkToken?(token: string): Promise<TokenCheck>
}

/**
 * The `TokenCheck` of `token` by `verifier`: its `checkToken` when it has one, else `verifyToken`
 * read as valid (a token) or invalid (`undefined`).
 */
export function checkAccessToken(verifier: TokenVerifier, token: string): Promise<TokenCheck> {
  // Not `async` (one frame and its microtask turns fewer on every protected request), yet always a
  // promise: a verifier's synchronous throw rejects it, a plain value or another thenable is
  // adopted, and `Promise.resolve` hands a native promise back as it is.
  try {
    if (verifier.checkToken !== undefined) return Promise.resolve(verifier.checkToken(token))
    return Promise.resolve(verifier.verifyToken(token)).then((verified): TokenCheck =>
      verified === undefined
        ? { status: 'invalid', reason: 'token_rejected' }
        : { status: 'valid', token: verified },
    )
  } catch (error) {
    // The verifier's own reason, whatever it threw, as the `async` function gave it.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(error)
  }
}

/**
 * The (clientId, issuer, subject) triple: the one source of "who is this". `machine` is set for a
 * client acting for itself (client credentials), so it is never the same principal as a user whose
 * subject equals the client id.
 */
export interface Principal {
  readonly clientId: string
  readonly issuer: string | undefined
  readonly subject: string | undefined
  readonly machine?: true
}

/** The principal a token represents. Session ownership and request binding build on it. */
export function principalOf(token: AccessToken): Principal {
  const p = { clientId: token.clientId, issuer: token.issuer, subject: token.subject }
  return token.machine === true ? { ...p, machine: true } : p
}

/** Whether two principals are the same; components missing on both sides compare equal. */
export function samePrincipal(a: Principal, b: Principal): boolean {
  return (
    a.clientId === b.clientId &&
    a.issuer === b.issuer &&
    a.subject === b.subject &&
    a.machine === b.machine
  )
}

/** A stable string key for a principal (for maps and session ownership). */
export function principalKey(p: Principal): string {
  const key = [p.clientId, p.issuer ?? null, p.subject ?? null]
  return JSON.stringify(p.machine === true ? [...key, 'machine'] : key)
}
