/**
 * The PostgreSQL store's schema: its versioned migrations and the one routine that applies them.
 * Kept apart from `postgres.ts` so that adding a migration never touches the query code.
 */
import type { PoolClient } from 'pg'

/** One step of the schema. Versions are consecutive from 1 and never edited once released. */
export interface Migration {
  version: number
  description: string
  /** Statements run in order inside the migration transaction; `$schema` is the quoted schema. */
  statements: readonly string[]
}

/**
 * Every migration, oldest first. Append only: a released migration is never changed, and a new
 * one must keep the previous release working while instances are upgraded one by one (add columns
 * and tables; never drop or rename what the previous release reads).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'key/value table with expiry',
    statements: [
      // `value` is the JSON text as written: jsonb would reorder keys and refuse "\u0000".
      `CREATE TABLE $schema.gatehouse_kv (
         key text PRIMARY KEY,
         value text NOT NULL,
         expires_at timestamptz
       )`,
      // The purge walks only rows that can expire.
      `CREATE INDEX gatehouse_kv_expires_at ON $schema.gatehouse_kv (expires_at)
         WHERE expires_at IS NOT NULL`,
    ],
  },
]

/** The newest schema version this release knows. */
export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the schema up to {@link SCHEMA_VERSION} and returns the version found afterwards. Call it
 * inside a transaction (the caller's BEGIN/COMMIT).
 *
 * Everything runs in that one transaction under a transaction-scoped advisory lock keyed by the schema
 * name, so N instances starting together queue on the lock and the first one migrates; the others
 * then find the work done. A failure rolls everything back: the schema is never half-migrated.
 * A database already at a newer version than this release knows is refused (it may hold data this
 * code would misread): upgrade every instance instead.
 */
export async function migrate(client: PoolClient, schema: string, quoted: string): Promise<number> {
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
    `mcp-gatehouse:migrate:${schema}`,
  ])
  // Only create the schema when missing: CREATE SCHEMA IF NOT EXISTS still needs the CREATE
  // privilege on the database, which a role given an existing schema may not have.
  const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
  if (exists.rowCount === 0) await client.query(`CREATE SCHEMA ${quoted}`)
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${quoted}.gatehouse_schema (
         version integer PRIMARY KEY,
         description text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
  )
  const found = await client.query<{ version: number | null }>(
    `SELECT max(version) AS version FROM ${quoted}.gatehouse_schema`,
  )
  const current = found.rows[0]?.version ?? 0
  if (current > SCHEMA_VERSION) {
    throw new NewerSchemaError(current)
  }
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue
    for (const statement of migration.statements) {
      await client.query(statement.replaceAll('$schema', quoted))
    }
    await client.query(
      `INSERT INTO ${quoted}.gatehouse_schema (version, description) VALUES ($1, $2)`,
      [migration.version, migration.description],
    )
  }
  return Math.max(current, SCHEMA_VERSION)
}

/** The database was migrated by a newer release than this one. */
export class NewerSchemaError extends Error {
  override name = 'NewerSchemaError'
  readonly found: number
  constructor(found: number) {
    super(
      `the database schema is at version ${found}, newer than this release knows (${SCHEMA_VERSION}): upgrade Gatehouse`,
    )
    this.found = found
  }
}
