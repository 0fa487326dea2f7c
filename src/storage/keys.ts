/**
 * Every storage key Gatehouse writes, named once: the prefixes and the one way to build each key.
 * The layout (value, lifetime, writer, reader) is documented in docs/storage-schema.md. The
 * strings are part of the stored data: changing one makes existing records unreadable, so it is a
 * breaking change. Hashed parts (`sha256` base64url) are computed by the caller.
 */

/** Dynamically registered clients: `client:{client_id}`. */
export const CLIENT_PREFIX = 'client:'
/** Upstream sign-in and consent transactions: `txn:{id}`. */
export const TRANSACTION_PREFIX = 'txn:'
/** Live authorization codes: `code:{sha256(code)}`. */
export const CODE_PREFIX = 'code:'
/** Redeemed authorization codes (replay detection): `code-used:{sha256(code)}`. */
export const USED_CODE_PREFIX = 'code-used:'
/** Grants: `grant:{grant_id}` (tombstones are `grant-revoked:`, outside this prefix). */
export const GRANT_PREFIX = 'grant:'
/** Revoked-grant tombstones: `grant-revoked:{grant_id}`. */
export const REVOKED_GRANT_PREFIX = 'grant-revoked:'
/** Live refresh tokens: `rt:{sha256(token)}`. */
export const REFRESH_PREFIX = 'rt:'
/** Spent refresh tokens (reuse detection): `rt-used:{sha256(token)}`. */
export const USED_REFRESH_PREFIX = 'rt-used:'
/** Redeemed ID-JAGs (replay detection): `idjag-jti:{sha256(iss + "\n" + jti)}`. */
export const IDENTITY_ASSERTION_JTI_PREFIX = 'idjag-jti:'
/** The lock one instance holds while it refreshes a grant's upstream tokens. */
export const UPSTREAM_REFRESH_LOCK_PREFIX = 'lock:upstream-refresh:'
/** Cached Client ID Metadata Documents: `cimd:{sha256(client_id)}`. */
export const CIMD_PREFIX = 'cimd:'
/** Used `private_key_jwt` assertions: `client-assertion:{sha256(client_id + " " + jti)}`. */
export const CLIENT_ASSERTION_PREFIX = 'client-assertion:'
/** Used DPoP proofs: `dpop-jti:{sha256(jkt + "." + jti)}`. */
export const DPOP_JTI_PREFIX = 'dpop-jti:'
/** Used workload (platform) tokens: `workload-jti:{sha256(iss + "\n" + jti)}`. */
export const WORKLOAD_JTI_PREFIX = 'workload-jti:'
/** Cached key sets of registered clients' `jwks_uri`: `client-jwks:{sha256(jwks_uri)}`. */
export const CLIENT_JWKS_PREFIX = 'client-jwks:'
/** The signing key set (one record). */
export const SIGNING_KEYS = 'signing-keys'
/** The lock of one key rotation: `signing-keys:rotation:{kid}`. */
export const SIGNING_KEY_ROTATION_PREFIX = 'signing-keys:rotation:'
/** Short-lived records `gatehouse admin store check` writes and removes again. */
export const STORE_CHECK_PREFIX = 'admin-check:'
/** Gateway session ownership: `gw-session:{sha256(route + " " + session id)}`. */
export const GATEWAY_SESSION_PREFIX = 'gw-session:'
/** Gateway rate-limit chunks: `gw-rate:{limiter key}` (the limiter appends its own parts). */
export const GATEWAY_RATE_PREFIX = 'gw-rate:'
/** Live operator-token sessions of the `/admin` page: `admin-session:{sha256(session id)}`. */
export const ADMIN_SESSION_PREFIX = 'admin-session:'

/** The key of each record, from its id or the hash the record is found by. */
export const storageKey = {
  client: (clientId: string): string => CLIENT_PREFIX + clientId,
  transaction: (id: string): string => TRANSACTION_PREFIX + id,
  code: (codeHash: string): string => CODE_PREFIX + codeHash,
  usedCode: (codeHash: string): string => USED_CODE_PREFIX + codeHash,
  grant: (grantId: string): string => GRANT_PREFIX + grantId,
  revokedGrant: (grantId: string): string => REVOKED_GRANT_PREFIX + grantId,
  refreshToken: (tokenHash: string): string => REFRESH_PREFIX + tokenHash,
  usedRefreshToken: (tokenHash: string): string => USED_REFRESH_PREFIX + tokenHash,
  identityAssertionJti: (hash: string): string => IDENTITY_ASSERTION_JTI_PREFIX + hash,
  upstreamRefreshLock: (grantId: string): string => UPSTREAM_REFRESH_LOCK_PREFIX + grantId,
  metadataDocument: (clientIdHash: string): string => CIMD_PREFIX + clientIdHash,
  clientAssertion: (hash: string): string => CLIENT_ASSERTION_PREFIX + hash,
  dpopJti: (hash: string): string => DPOP_JTI_PREFIX + hash,
  workloadJti: (hash: string): string => WORKLOAD_JTI_PREFIX + hash,
  clientJwks: (uriHash: string): string => CLIENT_JWKS_PREFIX + uriHash,
  signingKeys: (): string => SIGNING_KEYS,
  signingKeyRotationLock: (kid: string): string => SIGNING_KEY_ROTATION_PREFIX + kid,
  storeCheck: (id: string): string => STORE_CHECK_PREFIX + id,
  gatewaySession: (hash: string): string => GATEWAY_SESSION_PREFIX + hash,
  /** The prefix a gateway rate limiter writes its chunks under (it appends the rest). */
  gatewayRate: (): string => GATEWAY_RATE_PREFIX,
  adminSession: (hash: string): string => ADMIN_SESSION_PREFIX + hash,
} as const
