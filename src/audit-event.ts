/**
 * The audit event: one security-relevant fact, in a shape that stays stable across releases
 * (documented in docs/operations.md). Only identifiers and slugs, never a token, code or secret.
 * Types only, so that every layer may emit events without depending on how they are written.
 */

/** What happened. Adding a name is a minor change; renaming or removing one is a major one. */
export type AuditEventName =
  | 'client_registered'
  | 'consent_given'
  | 'consent_denied'
  | 'sign_in'
  | 'tokens_issued'
  | 'refresh_token_reuse'
  | 'code_replay'
  | 'token_revoked'
  | 'key_rotated'
  | 'cimd_fetch_refused'
  | 'admin_action'
  | 'gateway_denied'
  | 'gateway_step_up'
  | 'gateway_session_mismatch'
  | 'gateway_credential_failed'
  | 'gateway_upstream_exited'

/** `success`: the action took place; `failure`: it was refused or failed; `denied`: a person said no. */
export type AuditOutcome = 'success' | 'failure' | 'denied'

/** What an emitting site knows; the sink adds `time`, `requestId` and `ip`. */
export interface AuditInput {
  event: AuditEventName
  outcome: AuditOutcome
  clientId?: string
  subject?: string
  grantId?: string
  /** `tokens_issued`: the grant type (`authorization_code`, `refresh_token`, the jwt-bearer URN). */
  grantType?: string
  /** `key_rotated`: the new key's id. */
  kid?: string
  /** A snake_case slug (an `OAuthError` reason); never free text from a remote party. */
  reason?: string
  /** `admin_action`: what was done (`grant.revoke`, `client.delete`, `token.revoke`, `keys.rotate`). */
  action?: string
  /** `admin_action`: who did it (the OS user of the CLI, the signed-in operator of `/admin`). */
  actor?: string
  /** `gateway_*`: the gateway route (its path, e.g. `/files`). */
  route?: string
  /** `gateway_denied`, `gateway_step_up`: the JSON-RPC method refused (none: the whole route). */
  method?: string
  /** `gateway_denied`, `gateway_step_up`: the tool or prompt name, or resource URI, refused. */
  target?: string
  /** `gateway_step_up`: the scopes the call needs, space-separated (the challenge's `scope`). */
  scope?: string
  /** `gateway_upstream_exited`: whether the process is started again. */
  restarting?: boolean
}

/** One audit record as written to every sink. */
export interface AuditEvent extends AuditInput {
  /** ISO 8601, UTC. */
  time: string
  /** The request it happened in (`x-request-id`), when known. */
  requestId?: string
  /** The peer address the adapter saw, when known (never read from a forwarding header). */
  ip?: string
}

/**
 * Where security events go. `emit` never throws and never waits: a failing sink must not turn a
 * sign-in or a revocation into an error.
 */
export interface AuditSink {
  emit(event: AuditInput): void
}

/** The default sink of library parts used on their own: drops everything. */
export const NO_AUDIT: AuditSink = { emit: () => undefined }
