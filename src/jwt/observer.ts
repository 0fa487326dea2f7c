/**
 * What a verifier reports about its caches, for metrics. Every method is optional and must not
 * throw; none receives a token.
 */
export interface VerifierObserver {
  /** A verified-token cache lookup: `true` for a hit. */
  cacheLookup?(hit: boolean): void
  /** A key set (JWKS) was loaded, or loading it failed. */
  keysLoaded?(outcome: 'ok' | 'error'): void
}
