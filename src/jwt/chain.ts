/**
 * `ChainTokenVerifier`: several verifiers tried in order, e.g. this server's own JWTs first, then
 * introspection at an external authorization server.
 */

import {
  checkAccessToken,
  type AccessToken,
  type TokenCheck,
  type TokenVerifier,
} from './access-token.js'

/**
 * Tries each verifier in order; the first that recognises the token decides.
 *
 * A verifier recognises a token when its check says `valid` or `insufficient_scope` (the token is
 * genuine but lacks a scope that verifier requires). Either answer ends the chain: an insufficient
 * token is answered `insufficient_scope` (403, step-up), and is never handed to a later verifier
 * that might accept it under laxer rules (fail closed), nor reported as `invalid` because a later
 * verifier does not know it. Verifiers with only `verifyToken` answer valid or invalid.
 *
 * A verifier that throws (its issuer is unreachable) does not stop the chain: the next ones are
 * still tried, and the first error is rethrown only if none of them accepted the token, so an
 * outage is not reported as an invalid token. Verifiers run one after another, never in parallel
 * (no needless introspection calls).
 *
 * @throws {TypeError} at construction for an empty list.
 */
export class ChainTokenVerifier implements TokenVerifier {
  readonly #verifiers: readonly TokenVerifier[]

  constructor(verifiers: readonly TokenVerifier[]) {
    if (verifiers.length === 0)
      throw new TypeError('ChainTokenVerifier needs at least one verifier')
    this.#verifiers = [...verifiers]
  }

  /** The deciding verifier's token, `undefined` if none accepts it, or the first error (above). */
  async verifyToken(token: string): Promise<AccessToken | undefined> {
    const check = await this.checkToken(token)
    return check.status === 'valid' ? check.token : undefined
  }

  /**
   * The first `valid` or `insufficient_scope` answer; else the first error a verifier threw; else
   * `invalid` (with the first verifier's reason).
   */
  async checkToken(token: string): Promise<TokenCheck> {
    let failure: { error: unknown } | undefined
    let invalid: TokenCheck | undefined
    for (const verifier of this.#verifiers) {
      try {
        const check = await checkAccessToken(verifier, token)
        if (check.status !== 'invalid') return check
        invalid ??= check
      } catch (error) {
        failure ??= { error }
      }
    }
    if (failure !== undefined) throw failure.error
    return invalid ?? { status: 'invalid' }
  }
}
