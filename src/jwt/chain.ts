/**
 * `ChainTokenVerifier`: several verifiers tried in order, e.g. this server's own JWTs first, then
 * introspection at an external authorization server.
 */

import type { AccessToken, TokenVerifier } from '../resource/access-token.js'

/**
 * Tries each verifier in order; the first that returns a token wins.
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

  /** The first verifier's token, `undefined` if all refuse, or the first error if one failed. */
  async verifyToken(token: string): Promise<AccessToken | undefined> {
    let failure: { error: unknown } | undefined
    for (const verifier of this.#verifiers) {
      try {
        const result = await verifier.verifyToken(token)
        if (result !== undefined) return result
      } catch (error) {
        failure ??= { error }
      }
    }
    if (failure !== undefined) throw failure.error
    return undefined
  }
}
