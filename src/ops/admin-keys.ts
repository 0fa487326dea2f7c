/**
 * The storage keys administration reads and writes, named once here (the layout is documented in
 * docs/storage-schema.md; the writers in src/oauth, src/grants and src/tokens use the same strings).
 */

/** Prefix of dynamically registered clients: `client:{client_id}`. */
export const CLIENT_PREFIX = 'client:'
/** Prefix of cached Client ID Metadata Documents: `cimd:{sha256(client_id)}`. */
export const CIMD_PREFIX = 'cimd:'
/** Prefix of grants: `grant:{grant_id}` (tombstones are `grant-revoked:`, outside this prefix). */
export const GRANT_PREFIX = 'grant:'
/** Prefix of live refresh tokens: `rt:{sha256(token)}`. */
export const REFRESH_PREFIX = 'rt:'
/** The signing key set. */
export const SIGNING_KEYS = 'signing-keys'
/** Short-lived records `gatehouse admin store check` writes and removes again. */
export const STORE_CHECK_PREFIX = 'admin-check:'
