/**
 * The storage contract on a real PostgreSQL (`DATABASE_URL`), plus what only this backend has:
 * migrations, the schema version table, purging, and failures when the server is down.
 * Every fixture gets its own schema, dropped afterwards, so parallel runs never collide.
 */
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { StoreError } from '../../src/errors.js'
import { createEncryptedStore } from '../../src/storage/encrypted.js'
import { createPostgresStore, POSTGRES_SCHEMA_VERSION } from '../../src/storage/postgres.js'
import { storageContract } from './storage.contract.js'
import type { StoreFixture } from './storage.contract.js'

const DATABASE_URL = process.env.DATABASE_URL
const IN_CI = (process.env.CI ?? '') !== '' && process.env.CI !== 'false'
// Nothing listens on port 1: connections are refused at once.
const DEAD_URL = 'postgres://postgres@127.0.0.1:1/test'
const RUN = randomUUID().replaceAll('-', '').slice(0, 12)
const SECRET = crypto.getRandomValues(new Uint8Array(32))

let schemas = 0
/** A schema name no other test or run uses. */
function freshSchema(): string {
  schemas += 1
  return `gh_test_${RUN}_${schemas}`
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`)
  } finally {
    await client.end()
  }
}

function postgresFixture(url: string): Promise<StoreFixture> {
  const schema = freshSchema()
  const open = () => createPostgresStore({ connectionString: url, schema })
  return Promise.resolve({
    store: open(),
    reopen: () => Promise.resolve(open()),
    cleanup: () => dropSchema(url, schema),
  })
}

async function rejection(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    () => new Error('expected a rejection, got a value'),
    (reason: unknown) => reason,
  )
}

if (DATABASE_URL !== undefined && DATABASE_URL !== '') {
  const url = DATABASE_URL
  storageContract('postgres', () => postgresFixture(url), { persistent: true })

  storageContract(
    'encrypted postgres',
    async () => {
      const schema = freshSchema()
      const open = () =>
        createEncryptedStore(createPostgresStore({ connectionString: url, schema }), {
          secret: SECRET,
        })
      return { store: await open(), reopen: open, cleanup: () => dropSchema(url, schema) }
    },
    { persistent: true },
  )

  describe('postgres store: schema and housekeeping', () => {
    it('migrates once when five instances start together on an empty schema', async () => {
      const schema = freshSchema()
      const stores = Array.from({ length: 5 }, () =>
        createPostgresStore({ connectionString: url, schema }),
      )
      try {
        const versions = await Promise.all(stores.map((store) => store.migrate()))
        expect(versions).toEqual(Array(5).fill(POSTGRES_SCHEMA_VERSION))
        const admin = new pg.Client({ connectionString: url })
        await admin.connect()
        try {
          const rows = await admin.query<{ version: number }>(
            `SELECT version FROM ${schema}.gatehouse_schema ORDER BY version`,
          )
          expect(rows.rows.map((row) => row.version)).toEqual(
            Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
          )
        } finally {
          await admin.end()
        }
        // They share one table: a value written by one is taken by exactly one of the others.
        await stores[0]!.set('shared', 'v')
        const taken = await Promise.all(stores.map((store) => store.take('shared')))
        expect(taken.filter((value) => value !== undefined)).toEqual(['v'])
      } finally {
        await Promise.all(stores.map((store) => store.close()))
        await dropSchema(url, schema)
      }
    })

    it('refuses a schema migrated by a newer release, naming both versions', async () => {
      const schema = freshSchema()
      const store = createPostgresStore({ connectionString: url, schema })
      const admin = new pg.Client({ connectionString: url })
      await admin.connect()
      try {
        await store.migrate()
        await admin.query(
          `INSERT INTO ${schema}.gatehouse_schema (version, description) VALUES ($1, 'future')`,
          [POSTGRES_SCHEMA_VERSION + 1],
        )
        const later = createPostgresStore({ connectionString: url, schema })
        const error = await rejection(later.get('key'))
        await later.close()
        expect(error).toBeInstanceOf(StoreError)
        expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
        expect((error as Error).message).toContain(`version ${POSTGRES_SCHEMA_VERSION + 1}`)
      } finally {
        await store.close()
        await admin.end()
        await dropSchema(url, schema)
      }
    })

    it('purges expired rows and keeps live ones', async () => {
      const schema = freshSchema()
      const store = createPostgresStore({ connectionString: url, schema, purgeIntervalSeconds: 0 })
      try {
        await store.set('short-1', 'x', { ttlSeconds: 1 })
        await store.set('short-2', 'x', { ttlSeconds: 1 })
        await store.set('long', 'y', { ttlSeconds: 60 })
        await store.set('forever', 'z')
        await new Promise((resolve) => setTimeout(resolve, 1200))
        expect(await store.purgeExpired()).toBe(2)
        expect(await store.get('long')).toBe('y')
        expect(await store.get('forever')).toBe('z')
        expect(await store.purgeExpired()).toBe(0)
      } finally {
        await store.close()
        await dropSchema(url, schema)
      }
    })

    it('reads a key holding U+0000 as absent, and refuses to write one', async () => {
      const schema = freshSchema()
      const store = createPostgresStore({ connectionString: url, schema })
      try {
        expect(await store.get('client:a\u0000b')).toBeUndefined()
        expect(await store.take('client:a\u0000b')).toBeUndefined()
        await expect(store.set('a\u0000b', 'x')).rejects.toThrow(TypeError)
        // The value may hold it: JSON escapes it.
        await store.set('nul', 'a\u0000b')
        expect(await store.get('nul')).toBe('a\u0000b')
      } finally {
        await store.close()
        await dropSchema(url, schema)
      }
    })

    it('leaves a caller-supplied pool open when closed', async () => {
      const schema = freshSchema()
      const pool = new pg.Pool({ connectionString: url, max: 2 })
      try {
        const store = createPostgresStore({ pool, schema })
        await store.set('key', 'value')
        await store.close()
        expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one).toBe(1)
      } finally {
        await pool.end()
        await dropSchema(url, schema)
      }
    })
  })
} else if (IN_CI) {
  describe('storage contract: postgres', () => {
    it('has a PostgreSQL server to run against', () => {
      throw new Error(
        'DATABASE_URL is not set: CI must run the storage contract against PostgreSQL',
      )
    })
  })
} else {
  console.warn(
    '\n*** storage contract: postgres SKIPPED: DATABASE_URL is not set. ' +
      'Run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test to test the PostgreSQL backend. ***\n',
  )
  describe.skip('storage contract: postgres (DATABASE_URL is not set)', () => {
    it('runs the contract against PostgreSQL', () => undefined)
  })
}

describe('postgres store failures', () => {
  it.each(['get', 'set', 'setIfAbsent', 'take', 'delete'] as const)(
    'rejects %s with ERR_STORE_UNAVAILABLE within 5 s when the server is down',
    async (operation) => {
      const store = createPostgresStore({ connectionString: DEAD_URL, commandTimeoutMs: 2000 })
      const started = Date.now()
      const calls = {
        get: () => store.get('secret-key'),
        set: () => store.set('secret-key', 'secret-value'),
        setIfAbsent: () => store.setIfAbsent('secret-key', 'secret-value'),
        take: () => store.take('secret-key'),
        delete: () => store.delete('secret-key'),
      }
      const error = await rejection(calls[operation]())
      await store.close()
      expect(Date.now() - started).toBeLessThan(5000)
      expect(error).toBeInstanceOf(StoreError)
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' })
      expect((error as Error).message).toMatch(/^postgres: /)
      expect((error as Error).message).not.toContain('secret-')
    },
  )

  it('refuses options with both connectionString and pool, or neither', () => {
    const pool = new pg.Pool({ connectionString: DEAD_URL })
    expect(() => createPostgresStore({ connectionString: DEAD_URL, pool })).toThrow(TypeError)
    expect(() => createPostgresStore({})).toThrow(TypeError)
    void pool.end()
  })

  it.each(['Public', 'a-b', 'x; DROP TABLE y', ''])('refuses the schema name %j', (schema) => {
    expect(() => createPostgresStore({ connectionString: DEAD_URL, schema })).toThrow(TypeError)
  })
})
