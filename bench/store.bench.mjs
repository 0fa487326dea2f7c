/**
 * Store throughput per backend (memory, SQLite, Redis, PostgreSQL) in one run: reads and writes per
 * second through Gatehouse's store, through the store wrapped in encryption (what Gatehouse uses),
 * and through the raw driver doing the same work (the baseline for the ratios).
 *
 * Each measurement runs `concurrency` callers in a loop for `ms` milliseconds over 1,000 keys holding
 * a 300-byte JSON value; figures are medians of 3 interleaved rounds (about 20 × `ms` per backend). Redis and PostgreSQL run only when REDIS_URL / DATABASE_URL are set; each
 * uses its own prefix or schema and removes it afterwards. Needs `npm run build` first.
 *
 *   node bench/store.bench.mjs [msPerMeasurement=1000] [concurrency=16]
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import pg from 'pg'

import { createEncryptedStore } from '../dist/storage/encrypted.js'
import { createMemoryStore } from '../dist/storage/memory.js'
import { createPostgresStore } from '../dist/storage/postgres.js'
import { createRedisStore } from '../dist/storage/redis.js'
import { createSqliteStore } from '../dist/storage/sqlite.js'

const MS = Number(process.argv[2] ?? 1000)
const CONCURRENCY = Number(process.argv[3] ?? 16)
const KEYS = 1000
const ROUNDS = 3
const TTL = 300
const SECRET = 'bench-secret-that-is-at-least-32-bytes-long'
const VALUE = {
  clientId: 'c'.repeat(22),
  subject: 'user-1234567890',
  scopes: ['mcp:read', 'mcp:write'],
  resource: 'https://mcp.example.com/mcp',
  claims: { email: 'someone@example.com', name: 'Some One', groups: ['a', 'b', 'c'] },
  upstream: { accessTokenHash: 'h'.repeat(43), expiresAt: 1_900_000_000 },
}
const PAYLOAD = JSON.stringify(VALUE)

/** Operations per second of `op(i)` run by CONCURRENCY loops for MS milliseconds. */
async function opsPerSecond(op) {
  let count = 0
  const deadline = performance.now() + MS
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await op(count % KEYS)
        count += 1
      }
    }),
  )
  return (count / (performance.now() - started)) * 1000
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/**
 * Raw driver, store, encrypted store: each set/get pair does the same work. Every path first writes
 * every key with full concurrency (so reads hit and pools are warm); then ROUNDS rounds measure the
 * paths one after another, and each figure is the median over rounds, so load that comes and goes
 * on a shared machine hits every path alike.
 */
async function backend(name, { raw, store, cleanup }) {
  try {
    const encrypted = await createEncryptedStore(store, { secret: SECRET })
    // The two store paths share the inner store, so each has its own keys.
    const viaStore = (s, prefix) => ({
      set: (i) => s.set(`${prefix}${i}`, VALUE, { ttlSeconds: TTL }),
      get: (i) => s.get(`${prefix}${i}`),
    })
    const paths = [
      ['raw driver', raw],
      ['store', viaStore(store, 'k')],
      ['store + encryption', viaStore(encrypted, 'e')],
    ]
    for (const [, path] of paths) {
      for (let i = 0; i < KEYS; i += CONCURRENCY) {
        await Promise.all(Array.from({ length: CONCURRENCY }, (_, j) => path.set((i + j) % KEYS)))
      }
    }
    const figures = paths.map(() => ({ writes: [], reads: [] }))
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, [, path]] of paths.entries()) {
        figures[index].writes.push(await opsPerSecond(path.set))
        figures[index].reads.push(await opsPerSecond(path.get))
      }
    }
    await store.close()
    const rows = paths.map(([label], index) => ({
      label,
      writes: median(figures[index].writes),
      reads: median(figures[index].reads),
    }))
    return { name, rows }
  } finally {
    await cleanup?.()
  }
}

function memory() {
  const map = new Map()
  return {
    // What the memory store does at its core: a Map holding a copy with an expiry.
    raw: {
      set: async (i) => map.set(`k${i}`, { value: structuredClone(VALUE), exp: Date.now() + TTL }),
      get: async (i) => structuredClone(map.get(`k${i}`)?.value),
    },
    store: createMemoryStore(),
  }
}

async function sqlite() {
  const dir = await mkdtemp(join(tmpdir(), 'gh-bench-'))
  const db = new Database(join(dir, 'raw.sqlite'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec('CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER)')
  const put = db.prepare(
    'INSERT INTO kv VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at',
  )
  const read = db.prepare('SELECT value FROM kv WHERE key = ?')
  return {
    raw: {
      set: async (i) => put.run(`k${i}`, JSON.stringify(VALUE), Date.now() + TTL * 1000),
      get: async (i) => JSON.parse(read.get(`k${i}`).value),
    },
    store: createSqliteStore({ dataDir: dir }),
    cleanup: async () => {
      db.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function redis(url) {
  const prefix = `gatehouse-bench:${randomUUID()}:`
  const client = new Redis(url)
  return {
    raw: {
      set: (i) => client.set(`${prefix}raw:k${i}`, JSON.stringify(VALUE), 'EX', TTL),
      get: async (i) => JSON.parse(await client.get(`${prefix}raw:k${i}`)),
    },
    store: createRedisStore({ url, keyPrefix: `${prefix}store:` }),
    cleanup: async () => {
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        if (keys.length > 0) await client.del(...keys)
        cursor = next
      } while (cursor !== '0')
      await client.quit()
    },
  }
}

async function postgres(url) {
  const schema = `gh_bench_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  // Same pool size as the store's default, same statements as the store's.
  const pool = new pg.Pool({ connectionString: url, max: 10 })
  await pool.query(`CREATE SCHEMA ${schema}`)
  await pool.query(
    `CREATE TABLE ${schema}.raw (key text PRIMARY KEY, value text NOT NULL, expires_at timestamptz)`,
  )
  return {
    raw: {
      set: (i) =>
        pool.query(
          `INSERT INTO ${schema}.raw VALUES ($1, $2, now() + make_interval(secs => $3::double precision))
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
          [`k${i}`, JSON.stringify(VALUE), TTL],
        ),
      get: async (i) => {
        const result = await pool.query(`SELECT value FROM ${schema}.raw WHERE key = $1`, [`k${i}`])
        return JSON.parse(result.rows[0].value)
      },
    },
    store: createPostgresStore({ connectionString: url, schema }),
    cleanup: async () => {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`)
      await pool.end()
    },
  }
}

const results = [await backend('memory', memory()), await backend('sqlite', await sqlite())]
if (process.env.REDIS_URL) results.push(await backend('redis', redis(process.env.REDIS_URL)))
else console.log('redis: skipped (REDIS_URL is not set)')
if (process.env.DATABASE_URL) {
  results.push(await backend('postgres', await postgres(process.env.DATABASE_URL)))
} else console.log('postgres: skipped (DATABASE_URL is not set)')

const fmt = (n) => Math.round(n).toLocaleString('en-US')
console.log(
  `store throughput, ${CONCURRENCY} concurrent callers, ${MS} ms per figure, ${PAYLOAD.length}-byte value (Node ${process.version})`,
)
console.log('| backend | path | writes/s | ratio | reads/s | ratio |')
console.log('| --- | --- | ---: | ---: | ---: | ---: |')
for (const { name, rows } of results) {
  const [raw] = rows
  for (const row of rows) {
    console.log(
      `| ${name} | ${row.label} | ${fmt(row.writes)} | ${(row.writes / raw.writes).toFixed(2)}x | ${fmt(row.reads)} | ${(row.reads / raw.reads).toFixed(2)}x |`,
    )
  }
}
