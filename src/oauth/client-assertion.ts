/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Core §9) for clients with
 * keys: inline `jwks` (operator-listed, registered, or from a metadata document) or a registered
 * client's `jwks_uri` (fetched and cached by `ClientJWKSSource`). Rules: an asymmetric JWS signed
 * by one of the client's keys; `iss` = `sub` = the client id; `aud` is this issuer alone (a
 * string, or a one-element array; never the token endpoint); `exp` required and at most
 * `MAX_ASSERTION_LIFETIME_SECONDS` ahead; `jti` required and single use (one atomic `setIfAbsent`
 * in the shared store, kept until the assertion expires).
 */
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JSONWebKeySet } from 'jose'
import { ASYMMETRIC_ALGORITHMS } from '../config/protocol.js'
import type { ResolvedConfig } from '../config/schema.js'
import { OAuthError } from '../errors.js'
import { sha256 } from '../http/random.js'
import type { Store } from '../storage/store.js'
import type { ClientJWKSSource } from './client-jwks.js'
import type { OAuthClientInformation } from '../contract/types.js'
import { claimOnce } from '../storage/claim-once.js'
import { storageKey } from '../storage/keys.js'

/** Longest accepted time from now to an assertion's `exp`. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300

/**
 * Whether any client can authenticate with `private_key_jwt`: metadata-document clients, clients
 * the operator lists with `jwks`, or clients registering themselves with keys (machine clients
 * under `clientCredentials.allowRegistration`, any client under `registration.allowPrivateKeyJwt`).
 * The metadata advertises the method exactly then, and the verifier exists exactly then.
 */
export function privateKeyJWTEnabled(config: ResolvedConfig): boolean {
  return (
    config.clientIdMetadataDocuments.enabled ||
    config.clients.some((c) => c.tokenEndpointAuthMethod === 'private_key_jwt') ||
    config.workloadIdentity !== undefined ||
    registrationAllowsPrivateKeyJWT(config)
  )
}

/** Whether `/register` accepts `token_endpoint_auth_method: private_key_jwt`. */
export function registrationAllowsPrivateKeyJWT(config: ResolvedConfig): boolean {
  const cc = config.clientCredentials
  return (
    config.registration.enabled &&
    (config.registration.allowPrivateKeyJwt || (cc.enabled && cc.allowRegistration))
  )
}

export interface ClientAssertionOptions {
  issuer: string
  store: Store
  now: () => number
  clockToleranceSeconds: number
  /** Keys of registered clients with a `jwks_uri`; unset: such clients are refused. */
  jwks?: ClientJWKSSource
}

/**
 * Verifies client assertions; `verify` throws `OAuthError` `invalid_client`. It may return a
 * `scope` that narrows what the client may be granted in this request (a workload identity
 * policy's scopes, `workload-identity.ts`).
 */
export interface ClientAssertionVerifier {
  verify(assertion: string, client: OAuthClientInformation): Promise<{ scope: string } | undefined>
}

export function createClientAssertionVerifier(
  options: ClientAssertionOptions,
): ClientAssertionVerifier {
  return {
    async verify(assertion, client): Promise<undefined> {
      const fail = (reason: string, cause?: unknown) =>
        new OAuthError('invalid_client', 'client authentication failed', {
          reason,
          ...(cause === undefined ? {} : { cause }),
        })
      const tolerance = options.clockToleranceSeconds
      const check = async (jwks: { keys: unknown[] }) =>
        (
          await jwtVerify(assertion, createLocalJWKSet(jwks as unknown as JSONWebKeySet), {
            algorithms: [...ASYMMETRIC_ALGORITHMS],
            issuer: client.client_id,
            subject: client.client_id,
            // draft-ietf-oauth-rfc7523bis: the audience is this issuer alone. Token endpoint URLs
            // and lists naming other servers are how assertions get replayed across servers.
            audience: options.issuer,
            requiredClaims: ['exp', 'jti'],
            currentDate: new Date(options.now()),
            clockTolerance: tolerance,
          })
        ).payload as { exp?: number; jti?: string; aud?: string | string[] }
      let payload: { exp?: number; jti?: string; aud?: string | string[] }
      try {
        if (client.jwks !== undefined) {
          payload = await check(client.jwks)
        } else if (client.jwks_uri !== undefined && options.jwks !== undefined) {
          const source = options.jwks
          try {
            payload = await check(await source.keys(client.jwks_uri))
          } catch (error) {
            // A key the cached set lacks: the client may have rotated; fetch again (rate-bound).
            if (!(error instanceof errors.JWKSNoMatchingKey)) throw error
            payload = await check(await source.keys(client.jwks_uri, { refresh: true }))
          }
        } else {
          throw fail('assertion_no_keys')
        }
      } catch (error) {
        if (error instanceof OAuthError) throw error
        throw fail('assertion_invalid', error)
      }
      if (Array.isArray(payload.aud) && payload.aud.length !== 1) throw fail('assertion_audience')
      const nowSeconds = Math.floor(options.now() / 1000)
      const exp = payload.exp ?? 0
      if (exp - nowSeconds > MAX_ASSERTION_LIFETIME_SECONDS + tolerance) {
        throw fail('assertion_lifetime')
      }
      if (typeof payload.jti !== 'string' || payload.jti === '' || payload.jti.length > 256) {
        throw fail('assertion_jti')
      }
      const key = storageKey.clientAssertion(await sha256(`${client.client_id} ${payload.jti}`))
      const ttlSeconds = Math.max(1, exp - nowSeconds + tolerance)
      if (!(await claimOnce(options.store, key, ttlSeconds))) {
        throw fail('assertion_replay')
      }
    },
  }
}

/** The client id an assertion names (`iss`), unverified: only to look the client up. */
export function assertionClientID(assertion: string): string | undefined {
  try {
    const iss = decodeJwt(assertion).iss
    return typeof iss === 'string' ? iss : undefined
  } catch {
    return undefined
  }
}
