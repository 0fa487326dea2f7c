/**
 * Administration of a Gatehouse deployment through its store: clients, grants, tokens, signing
 * keys and a store check. The same operations back `gatehouse admin` (src/cli/commands/admin.ts).
 *
 * Listing uses the store's `scan(prefix)`, so it sees what every instance wrote, across restarts.
 * Every state-changing action emits one `admin_action` audit event into the sinks the
 * configuration names (as the servers do) and the `audit` callback. Nothing here returns or
 * records a token, a code, a secret or a private key.
 */
import { resolveConfig } from '../config/schema.js'
import type { ResolvedConfig } from '../config/schema.js'
import { StoreError } from '../errors.js'
import { Grants } from '../grants/grant-store.js'
import type { GrantRecord } from '../grants/grant-store.js'
import { randomToken, sha256 } from '../http/random.js'
import type { OAuthClientInformation, RefreshToken } from '../contract/types.js'
import { createEncryptedStore } from '../storage/encrypted.js'
import type { Store } from '../storage/store.js'
import { SigningKeys } from '../tokens/keys.js'
import { createOwnTokenVerifier } from '../tokens/own-token-verifier.js'
import type { AuditInput, AuditSink } from '../audit-event.js'
import type { AuditWriter } from '../ops/audit.js'
import type { Logger } from '../ops/logger.js'
import { createObservability } from '../ops/observability.js'
import {
  CIMD_PREFIX,
  CLIENT_PREFIX,
  GRANT_PREFIX,
  REFRESH_PREFIX,
  storageKey,
} from '../storage/keys.js'

/** Where a client comes from; only `registered` clients can be deleted here. */
export type AdminClientKind = 'registered' | 'static' | 'cimd'

/** A client as administration shows it (never its secret or secret hash). */
export interface AdminClient {
  clientId: string
  kind: AdminClientKind
  name?: string
  redirectUris: string[]
  grantTypes: string[]
  tokenEndpointAuthMethod: string
  /** Seconds since the epoch, when known. */
  createdAt?: number
  /** Static clients live in the configuration, CIMD clients in their documents. */
  readOnly: boolean
}

/** A live grant (the refresh-token family of one authorization). */
export interface AdminGrant {
  grantId: string
  clientId: string
  subject: string
  scopes: string[]
  resource: string
  /** Seconds since the epoch. */
  createdAt: number
}

/** A signing key, public facts only. */
export interface AdminKey {
  kid: string
  alg: string
  /** Seconds since the epoch. */
  createdAt: number
  retiredAt?: number
  /** The key new tokens are signed with. */
  current: boolean
}

/** The result of {@link Admin.checkStore}. */
export interface StoreCheckResult {
  backend: string
  /** A sample was written, read back and removed. */
  reachable: boolean
  /** An existing record (the signing key set) decrypts with the configured secret. */
  decrypts: boolean | 'no-record'
  /** The PostgreSQL schema version; other backends have none. */
  schemaVersion?: number
}

/** What an administrative action did; `target` names ids, never tokens or secrets. */
export interface AdminAuditEvent {
  action:
    | 'client.delete'
    | 'grant.revoke'
    | 'token.revoke'
    | 'keys.rotate'
    | 'store.check'
    | 'clients.list'
    | 'grants.list'
    | 'keys.list'
  target?: string
  outcome: 'success' | 'failure'
  /** Who acted (the CLI passes the OS user, the admin page the signed-in subject). */
  actor?: string
  /** Milliseconds since the epoch. */
  at: number
}

/** Thrown for a request administration refuses: unknown id, read-only client, bad input. */
export class AdminError extends Error {
  readonly code: 'not_found' | 'read_only' | 'invalid_input' | 'unsupported'
  constructor(code: AdminError['code'], message: string) {
    super(message)
    this.name = 'AdminError'
    this.code = code
  }
}

export interface AdminOptions {
  /** The same configuration `gatehouse serve`/`createGatehouse` use (validated here). */
  config: unknown
  /** The raw store (this wraps it with the encryption the configured secret derives). */
  store: Store
  /** A name for the backend in `store check` output, e.g. `sqlite`, `redis`, `postgres`. */
  backend?: string
  /**
   * Receives one event per administrative action. This is the single call site for the audit
   * log: wire it to the audit sink when one exists.
   */
  onAudit?: (event: AdminAuditEvent) => void
  /**
   * Receives the `admin_action` audit event of every state-changing action (revoke a grant or a
   * token, delete a client, rotate keys), besides the sink `config.audit` names.
   */
  audit?: AuditWriter
  /** Where `config.audit.sink: log` writes (the CLI passes its pino logger); default silent. */
  logger?: Logger
  /** Who acts, recorded in audit events. */
  actor?: string
  now?: () => number
}

/** The administration API; create it with {@link createAdmin}. */
export interface Admin {
  listClients(): Promise<AdminClient[]>
  /** Throws `AdminError` `not_found`. */
  showClient(clientId: string): Promise<AdminClient>
  /**
   * Deletes a registered client and revokes its grants. Throws `AdminError` `read_only` for a
   * static or CIMD client, `not_found` for an unknown one.
   */
  deleteClient(clientId: string): Promise<{ revokedGrants: number }>
  listGrants(filter?: { subject?: string; clientId?: string }): Promise<AdminGrant[]>
  /**
   * Revokes a grant: its refresh tokens fail at once, its access tokens at every guard within
   * `revocationCheckSeconds`. Throws `AdminError` `not_found`.
   */
  revokeGrant(grantId: string): Promise<void>
  /**
   * Revokes the grant of a refresh token or a (still valid) access token Gatehouse issued.
   * Throws `AdminError` `not_found` when the token is neither.
   */
  revokeToken(token: string): Promise<{ grantId: string; kind: 'refresh_token' | 'access_token' }>
  listKeys(): Promise<AdminKey[]>
  /** Rotates the signing key (the old one stays published for the access-token lifetime). */
  rotateKeys(): Promise<AdminKey[]>
  checkStore(): Promise<StoreCheckResult>
  /** Closes the store. */
  close(): Promise<void>
}

/**
 * Creates the administration API over the store a deployment uses.
 *
 * Errors: `ConfigError` for an invalid configuration, `TypeError` when the store has no `scan`
 * (listing needs it), `StoreError` when the store cannot answer or a record does not decrypt.
 */
export async function createAdmin(options: AdminOptions): Promise<Admin> {
  const config: ResolvedConfig = resolveConfig(options.config)
  const now = options.now ?? Date.now
  const raw = options.store
  if (raw.scan === undefined) {
    throw new TypeError('createAdmin: the store cannot list keys (it has no scan)')
  }
  const store = await createEncryptedStore(raw, { secret: config.secret })
  const scanOf = store.scan?.bind(store)
  if (scanOf === undefined) throw new TypeError('createAdmin: the store cannot list keys')
  const scan = (prefix: string) => scanOf(prefix)
  // The same audit sinks the servers write to (log stream, file, callback); no metrics here.
  const ops = await createObservability(
    config,
    {
      metrics: false,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.audit ? { audit: options.audit } : {}),
    },
    now,
  )
  return buildAdmin({
    config,
    store,
    scan,
    raw,
    audit: ops.audit,
    now,
    ...(options.backend !== undefined ? { backend: options.backend } : {}),
    ...(options.actor !== undefined ? { actor: options.actor } : {}),
    ...(options.onAudit ? { onAudit: options.onAudit } : {}),
    close: async () => {
      await ops.close()
      await store.close()
    },
  })
}

/** What {@link buildAdmin} works on: an encrypted store that can list, and an audit sink. */
export interface AdminDeps {
  config: ResolvedConfig
  /** The encrypted store (values readable). */
  store: Store
  scan: (prefix: string) => Promise<string[]>
  /** The backend under the encryption (for its schema version). */
  raw: Store
  audit: AuditSink
  now: () => number
  backend?: string
  actor?: string
  onAudit?: (event: AdminAuditEvent) => void
  close: () => Promise<void>
}

/**
 * The administration API over parts a caller already has: `createAdmin` for the CLI, the
 * `/admin` page over a running Gatehouse's store and audit sink.
 */
export function buildAdmin(deps: AdminDeps): Admin {
  const { config, store, scan, raw, now } = deps
  const options = deps
  const ops = { audit: deps.audit }
  const grants = new Grants({
    store,
    ttlSeconds: Math.max(config.refreshTokenTtlSeconds, config.accessTokenTtlSeconds),
    revocationCheckSeconds: config.revocationCheckSeconds,
    clockToleranceSeconds: config.clockToleranceSeconds,
    now,
  })

  /**
   * Runs an action and reports it to the `onAudit` hook, success or failure. A state-changing
   * action (`changes` given) also emits one `admin_action` audit event: the ids `changes` picks
   * from the target or the result, the actor, and on failure a reason slug; never the input of
   * `revokeToken`.
   */
  async function audited<T>(
    action: AdminAuditEvent['action'],
    target: string | undefined,
    body: () => Promise<T>,
    changes?: (result: T | undefined) => Partial<AuditInput>,
  ): Promise<T> {
    const report = (outcome: AdminAuditEvent['outcome'], result?: T, error?: unknown) => {
      options.onAudit?.({
        action,
        ...(target !== undefined ? { target } : {}),
        outcome,
        ...(options.actor !== undefined ? { actor: options.actor } : {}),
        at: now(),
      })
      if (changes === undefined) return
      ops.audit.emit({
        event: 'admin_action',
        outcome,
        action,
        ...(options.actor !== undefined ? { actor: options.actor } : {}),
        ...changes(result),
        ...(outcome === 'failure' ? { reason: failureReason(error) } : {}),
      })
    }
    let result: T
    try {
      result = await body()
    } catch (error) {
      report('failure', undefined, error)
      throw error
    }
    report('success', result)
    return result
  }

  function staticClients(): AdminClient[] {
    return config.clients.map((client) => ({
      clientId: client.clientId,
      kind: 'static',
      ...(client.name !== undefined ? { name: client.name } : {}),
      redirectUris: [...client.redirectUris],
      grantTypes: [...client.grantTypes],
      tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
      readOnly: true,
    }))
  }

  async function registered(): Promise<AdminClient[]> {
    const found = await readAll<OAuthClientInformation>(store, await scan(CLIENT_PREFIX))
    return found.map(({ value }) => fromMetadata(value, 'registered'))
  }

  async function cached(): Promise<AdminClient[]> {
    const found = await readAll<{ client: OAuthClientInformation; expiresAt: number }>(
      store,
      await scan(CIMD_PREFIX),
    )
    return found
      .filter(({ value }) => value.expiresAt > now())
      .map(({ value }) => fromMetadata(value.client, 'cimd'))
  }

  async function allGrants(): Promise<AdminGrant[]> {
    const found = await readAll<GrantRecord>(store, await scan(GRANT_PREFIX))
    return found.map(({ key, value }) => ({
      grantId: key.slice(GRANT_PREFIX.length),
      clientId: value.clientId,
      subject: value.subject,
      scopes: [...value.scopes],
      resource: value.resource,
      createdAt: value.createdAt,
    }))
  }

  async function listClients(): Promise<AdminClient[]> {
    const [dynamic, documents] = await Promise.all([registered(), cached()])
    return [...staticClients(), ...dynamic, ...documents].sort((a, b) =>
      a.clientId.localeCompare(b.clientId),
    )
  }

  async function findClient(clientId: string): Promise<AdminClient> {
    const configured = staticClients().find((client) => client.clientId === clientId)
    if (configured) return configured
    const stored = await store.get<OAuthClientInformation>(storageKey.client(clientId))
    if (stored) return fromMetadata(stored, 'registered')
    const document = await store.get<{ client: OAuthClientInformation; expiresAt: number }>(
      storageKey.metadataDocument(await sha256(clientId)),
    )
    if (document && document.expiresAt > now()) return fromMetadata(document.client, 'cimd')
    throw new AdminError('not_found', 'no such client')
  }

  async function loadKeys(): Promise<SigningKeys> {
    return SigningKeys.load({
      store,
      algorithm: config.signingAlgorithm,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      now,
    })
  }

  async function listKeys(): Promise<AdminKey[]> {
    const set = await store.get<{ keys: StoredKeyFacts[] }>(storageKey.signingKeys())
    if (set === undefined) return []
    if (!Array.isArray(set.keys)) {
      throw new StoreError('ERR_STORE_UNAVAILABLE', 'the signing key record is malformed')
    }
    // The current key is the newest one not retired (as SigningKeys picks it).
    const current = [...set.keys].reverse().find((key) => key.retiredAt === undefined)
    return set.keys.map((key) => ({
      kid: key.kid,
      alg: key.alg,
      createdAt: key.createdAt,
      ...(key.retiredAt !== undefined ? { retiredAt: key.retiredAt } : {}),
      current: key === current,
    }))
  }

  return {
    listClients: () => audited('clients.list', undefined, listClients),
    showClient: (clientId) => findClient(clientId),
    deleteClient: (clientId) =>
      audited(
        'client.delete',
        clientId,
        async () => {
          const client = await findClient(clientId)
          if (client.readOnly) {
            throw new AdminError(
              'read_only',
              client.kind === 'static'
                ? 'this client comes from the configuration: remove it there'
                : 'this client is described by its metadata document: it cannot be deleted here',
            )
          }
          await store.delete(CLIENT_PREFIX + clientId)
          const owned = (await allGrants()).filter((grant) => grant.clientId === clientId)
          for (const grant of owned) await grants.revoke(grant.grantId)
          return { revokedGrants: owned.length }
        },
        () => ({ clientId }),
      ),
    listGrants: (filter = {}) =>
      audited('grants.list', filter.subject ?? filter.clientId, async () =>
        (await allGrants())
          .filter(
            (grant) =>
              (filter.subject === undefined || grant.subject === filter.subject) &&
              (filter.clientId === undefined || grant.clientId === filter.clientId),
          )
          .sort((a, b) => a.createdAt - b.createdAt || a.grantId.localeCompare(b.grantId)),
      ),
    revokeGrant: (grantId) =>
      audited(
        'grant.revoke',
        grantId,
        async () => {
          if ((await grants.get(grantId)) === undefined) {
            throw new AdminError('not_found', 'no such grant (unknown, expired or already revoked)')
          }
          await grants.revoke(grantId)
        },
        () => ({ grantId }),
      ),
    revokeToken: (token) =>
      audited(
        'token.revoke',
        undefined,
        async () => {
          const text = token.trim()
          if (text === '') throw new AdminError('invalid_input', 'no token given')
          const refresh = await store.get<RefreshToken>(REFRESH_PREFIX + (await sha256(text)))
          if (refresh) {
            await grants.revoke(refresh.grantId)
            return { grantId: refresh.grantId, kind: 'refresh_token' as const }
          }
          if (text.split('.').length === 3) {
            const verifier = createOwnTokenVerifier({ config, keys: await loadKeys(), grants, now })
            const access = await verifier.verifyToken(text).catch(() => undefined)
            if (access?.grantId !== undefined) {
              await grants.revoke(access.grantId)
              return { grantId: access.grantId, kind: 'access_token' as const }
            }
          }
          throw new AdminError(
            'not_found',
            'not a live refresh token or a valid access token of this Gatehouse (an access token is revoked through its grant; a bare jti is not enough: use grants revoke)',
          )
        },
        (result) => (result ? { grantId: result.grantId } : {}),
      ),
    listKeys: () => audited('keys.list', undefined, listKeys),
    rotateKeys: () =>
      audited(
        'keys.rotate',
        undefined,
        async () => {
          const keys = await loadKeys()
          await keys.rotate()
          return listKeys()
        },
        (result) => {
          const kid = result?.find((key) => key.current)?.kid
          return kid !== undefined ? { kid } : {}
        },
      ),
    checkStore: () =>
      audited('store.check', undefined, async () => {
        const sampleKey = storageKey.storeCheck(randomToken(8))
        const sample = { at: now() }
        await store.set(sampleKey, sample, { ttlSeconds: 60 })
        const back = await store.get<{ at: number }>(sampleKey)
        await store.delete(sampleKey)
        if (back?.at !== sample.at) {
          throw new StoreError('ERR_STORE_UNAVAILABLE', 'the store did not return what was written')
        }
        // Decrypting a record written by the servers proves the configured secret is theirs;
        // a mismatch throws StoreError ERR_STORE_DECRYPT.
        const existing = await store.get(storageKey.signingKeys())
        const migrate = (raw as { migrate?: () => Promise<number> }).migrate
        const schemaVersion = typeof migrate === 'function' ? await migrate.call(raw) : undefined
        return {
          backend: options.backend ?? 'custom',
          reachable: true,
          decrypts: existing === undefined ? ('no-record' as const) : true,
          ...(schemaVersion !== undefined ? { schemaVersion } : {}),
        }
      }),
    close: deps.close,
  }
}

/** A slug for a refused or failed action (`not_found`, `read_only`, a store error code, …). */
function failureReason(error: unknown): string {
  if (error instanceof AdminError) return error.code
  if (error instanceof StoreError) return error.code.toLowerCase()
  return 'error'
}

interface StoredKeyFacts {
  kid: string
  alg: string
  createdAt: number
  retiredAt?: number
}

/** Reads every key; a key that expired or was deleted between scan and read is skipped. */
async function readAll<T>(store: Store, keys: string[]): Promise<Found<T>[]> {
  const found: Found<T>[] = []
  const values = await Promise.all(keys.map((key) => store.get<T>(key)))
  keys.forEach((key, i) => {
    const value = values[i]
    if (value !== undefined) found.push({ key, value })
  })
  return found
}

interface Found<T> {
  key: string
  value: T
}

function fromMetadata(client: OAuthClientInformation, kind: AdminClientKind): AdminClient {
  return {
    clientId: client.client_id,
    kind,
    ...(client.client_name !== undefined ? { name: client.client_name } : {}),
    redirectUris: [...client.redirect_uris],
    grantTypes: [...client.grant_types],
    tokenEndpointAuthMethod: client.token_endpoint_auth_method,
    ...(client.client_id_issued_at !== undefined ? { createdAt: client.client_id_issued_at } : {}),
    readOnly: kind !== 'registered',
  }
}
