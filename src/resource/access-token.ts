/**
 * The verified view of a bearer token that every verifier returns and every guard consumes.
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
  /** Every claim of the token, as verified. */
  claims: Readonly<Record<string, unknown>>
}

/** Verifies bearer tokens: `undefined` for any token that is not valid (never throws for that). */
export interface TokenVerifier {
  verifyToken(token: string): Promise<AccessToken | undefined>
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
