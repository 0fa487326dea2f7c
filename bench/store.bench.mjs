/**
 * Store throughput per backend (memory, SQLite, Redis, PostgreSQL) in one run (issue 14): `get`,
 * `set`, `take` (atomic read-and-delete) and `commit` (one atomic step: a required key, a delete and
 * a write, as when a code is redeemed) per second, through Gatehouse's store behind the encryption
 * wrapper with `nodeValueCipher` (as `gatehouse serve` deploys it) and with the Web Crypto default
 * (other runtimes, and `createGatehouse` without `valueCipher`), through the bare store (to split
 * the gap), and as the same work done by the raw driver (the baseline for the ratios).
 *
 * Each figure runs `concurrency` callers over 1,000 keys holding a 300-byte JSON value, in batches
 * of 256 calls, until `ms` milliseconds of timed work; `take` refills its keys between batches,
 * untimed. Rounds are interleaved (every path and operation once per round) and each ratio is the
 * median of per-round ratios, so load from other processes hits numerator and denominator alike.
 * Redis and PostgreSQL run when REDIS_URL / DATABASE_URL are set (e.g. redis://127.0.0.1:6379,
 * postgres://postgres:postgres@127.0.0.1:5432/test); each uses its own prefix or schema and
 * removes it afterwards. Bounded: about 4 paths × 4 operations × rounds × `ms` per backend. Each
 * ratio is also recorded (bench/report.mjs) as `<backend> <operation>, <path>`.
 * Needs `npm run build` first.
 *
 *   node bench/store.bench.mjs [msPerFigure=250] [concurrency=16] [rounds=3]
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import pg from 'pg'

import { nodeValueCipher } from '../dist/adapters/node-value-cipher.js'
import { createEncryptedStore } from '../dist/storage/encrypted.js'
import { createMemoryStore } from '../dist/storage/memory.js'
import { createPostgresStore } from '../dist/storage/postgres.js'
import { createRedisStore } from '../dist/storage/redis.js'
import { createSqliteStore } from '../dist/storage/sqlite.js'
import { record } from './report.mjs'

const MS = Number(process.argv[2] ?? 250)
const CONCURRENCY = Number(process.argv[3] ?? 16)
const ROUNDS = Number(process.argv[4] ?? 3)
const KEYS = 1000
const BATCH = 256
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
const OPERATIONS = ['get', 'set', 'take', 'commit']

/** Runs `op(i)` for i in [from, from + count) with CONCURRENCY callers; returns elapsed ms. */
async function batch(op, from, count) {
  let next = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const i = from + next++
        await op(i % KEYS)
      }
    }),
  )
  return performance.now() - started
}

/**
 * Operations per second of `path[operation]`: batches until MS ms of timed work. `take` needs its
 * keys present: each batch's keys (their own, not the ones `get` reads) are written first,
 * untimed, through the same path.
 */
async function opsPerSecond(path, operation) {
  let timed = 0
  let done = 0
  while (timed < MS) {
    const from = done % KEYS
    if (operation === 'take') await batch(path.fill, from, BATCH)
    timed += await batch(path[operation], from, BATCH)
    done += BATCH
  }
  return (done / timed) * 1000
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/**
 * Raw driver, store, store + encryption (node:crypto, then Web Crypto). Every path first writes every key (so reads hit, the
 * keys a commit requires exist, and pools are warm); then ROUNDS rounds measure every path and
 * operation one after another.
 */
async function backend(name, { raw, store, cleanup }) {
  try {
    const encrypted = await createEncryptedStore(store, {
      secret: SECRET,
      valueCipher: nodeValueCipher,
    })
    const webEncrypted = await createEncryptedStore(store, { secret: SECRET })
    // The store paths share the inner store, so each has its own keys. The commit is the
    // shape of a code redemption: the code must exist; one record is replaced.
    const viaStore = (s, prefix) => ({
      set: (i) => s.set(`${prefix}k${i}`, VALUE, { ttlSeconds: TTL }),
      get: async (i) => {
        if ((await s.get(`${prefix}k${i}`)) === undefined) throw new Error('missing')
      },
      take: async (i) => {
        if ((await s.take(`${prefix}t${i}`)) === undefined) throw new Error('missing')
      },
      commit: async (i) => {
        const applied = await s.commit({
          require: [`${prefix}a${i}`],
          delete: [`${prefix}b${i}`],
          set: [{ key: `${prefix}b${i}`, value: VALUE, ttlSeconds: TTL }],
        })
        if (!applied) throw new Error('step refused')
      },
      setRequired: (i) => s.set(`${prefix}a${i}`, VALUE, { ttlSeconds: TTL }),
      fill: (i) => s.set(`${prefix}t${i}`, VALUE, { ttlSeconds: TTL }),
    })
    const paths = [
      ['raw driver', raw],
      ['store', viaStore(store, 's')],
      ['store + encryption', viaStore(encrypted, 'e')],
      ['store + encryption, Web Crypto', viaStore(webEncrypted, 'w')],
    ]
    for (const [, path] of paths) {
      await batch(path.set, 0, KEYS)
      await batch(path.setRequired, 0, KEYS)
    }
    const samples = paths.map(() => Object.fromEntries(OPERATIONS.map((op) => [op, []])))
    for (let round = 0; round < ROUNDS; round++) {
      for (const operation of OPERATIONS) {
        for (const [index, [, path]] of paths.entries()) {
          samples[index][operation].push(await opsPerSecond(path, operation))
        }
      }
    }
    await store.close()
    const rows = paths.map(([label], index) => ({
      label,
      figures: Object.fromEntries(
        OPERATIONS.map((op) => {
          const ratios = samples[index][op].map((x, r) => x / samples[0][op][r])
          return [op, { perSecond: median(samples[index][op]), ratio: median(ratios), ratios }]
        }),
      ),
    }))
    for (const { label, figures } of rows.slice(1)) {
      for (const op of OPERATIONS) {
        record({
          bench: 'store',
          scenario: `${name} ${op}, ${label}`,
          ratio: figures[op].ratio,
          ratios: figures[op].ratios,
          baseline: `raw ${name} driver ${op}`,
          higherIsBetter: true,
        })
      }
    }
    return { name, rows }
  } finally {
    await cleanup?.()
  }
}

const missing = () => {
  throw new Error('missing')
}

function memory() {
  const map = new Map()
  const live = (key) => {
    const entry = map.get(key)
    return entry !== undefined && entry.exp > Date.now() ? entry : undefined
  }
  const put = (key) => map.set(key, { value: structuredClone(VALUE), exp: Date.now() + TTL * 1000 })
  return {
    // What the memory store does at its core: a Map holding a copy with an expiry.
    raw: {
      set: async (i) => put(`k${i}`),
      get: async (i) => structuredClone((live(`k${i}`) ?? missing()).value),
      take: async (i) => {
        const entry = live(`t${i}`) ?? missing()
        map.delete(`t${i}`)
        return entry.value
      },
      commit: async (i) => {
        if (live(`a${i}`) === undefined) missing()
        map.delete(`b${i}`)
        put(`b${i}`)
      },
      setRequired: async (i) => put(`a${i}`),
      fill: async (i) => put(`t${i}`),
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
  const read = db.prepare('SELECT value FROM kv WHERE key = ? AND expires_at > ?')
  const take = db.prepare('DELETE FROM kv WHERE key = ? RETURNING value')
  const remove = db.prepare('DELETE FROM kv WHERE key = ?')
  const live = db.prepare('SELECT 1 FROM kv WHERE key = ? AND expires_at > ?')
  const write = (key) => put.run(key, JSON.stringify(VALUE), Date.now() + TTL * 1000)
  const step = db.transaction((i) => {
    if (live.get(`a${i}`, Date.now()) === undefined) return false
    remove.run(`b${i}`)
    write(`b${i}`)
    return true
  })
  return {
    raw: {
      set: async (i) => write(`k${i}`),
      get: async (i) => JSON.parse((read.get(`k${i}`, Date.now()) ?? missing()).value),
      take: async (i) => JSON.parse((take.get(`t${i}`) ?? missing()).value),
      commit: async (i) => step.immediate(i) || missing(),
      setRequired: async (i) => write(`a${i}`),
      fill: async (i) => write(`t${i}`),
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
  // The least a hand-written atomic step takes: one script, sent once and called by its SHA.
  client.defineCommand('rawStep', {
    numberOfKeys: 2,
    lua: `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
return 1`,
  })
  const key = (name) => `${prefix}raw:${name}`
  return {
    raw: {
      set: (i) => client.set(key(`k${i}`), JSON.stringify(VALUE), 'EX', TTL),
      get: async (i) => JSON.parse((await client.get(key(`k${i}`))) ?? missing()),
      take: async (i) => JSON.parse((await client.getdel(key(`t${i}`))) ?? missing()),
      commit: async (i) =>
        (await client.rawStep(key(`a${i}`), key(`b${i}`), JSON.stringify(VALUE), TTL)) === 1 ||
        missing(),
      setRequired: (i) => client.set(key(`a${i}`), JSON.stringify(VALUE), 'EX', TTL),
      fill: (i) => client.set(key(`t${i}`), JSON.stringify(VALUE), 'EX', TTL),
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
  const table = `${schema}.raw`
  await pool.query(`CREATE SCHEMA ${schema}`)
  await pool.query(
    `CREATE TABLE ${table} (key text PRIMARY KEY, value text NOT NULL, expires_at timestamptz)`,
  )
  const upsert = `INSERT INTO ${table} VALUES ($1, $2, now() + make_interval(secs => $3::double precision))
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`
  const write = (runner, key) => runner.query(upsert, [key, JSON.stringify(VALUE), TTL])
  return {
    raw: {
      set: (i) => write(pool, `k${i}`),
      get: async (i) => {
        const result = await pool.query(
          `SELECT value FROM ${table} WHERE key = $1 AND expires_at > now()`,
          [`k${i}`],
        )
        return JSON.parse((result.rows[0] ?? missing()).value)
      },
      take: async (i) => {
        const result = await pool.query(`DELETE FROM ${table} WHERE key = $1 RETURNING value`, [
          `t${i}`,
        ])
        return JSON.parse((result.rows[0] ?? missing()).value)
      },
      // The least a hand-written atomic step takes: one transaction, the checked row locked.
      commit: async (i) => {
        const client = await pool.connect()
        try {
          await client.query('BEGIN')
          const found = await client.query(
            `SELECT 1 FROM ${table} WHERE key = $1 AND expires_at > now() FOR UPDATE`,
            [`a${i}`],
          )
          if (found.rowCount !== 1) missing()
          await client.query(`DELETE FROM ${table} WHERE key = $1`, [`b${i}`])
          await write(client, `b${i}`)
          await client.query('COMMIT')
        } catch (error) {
          await client.query('ROLLBACK')
          throw error
        } finally {
          client.release()
        }
      },
      setRequired: (i) => write(pool, `a${i}`),
      fill: (i) => write(pool, `t${i}`),
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
  `store operations per second, ${CONCURRENCY} concurrent callers, ${MS} ms of timed work per figure, ${ROUNDS} interleaved rounds, ${PAYLOAD.length}-byte value (Node ${process.version}); ratio = median of per-round ratios to the raw driver`,
)
console.log(`| backend | path | ${OPERATIONS.map((op) => `${op}/s | ratio`).join(' | ')} |`)
console.log(`| --- | --- | ${OPERATIONS.map(() => '---: | ---:').join(' | ')} |`)
for (const { name, rows } of results) {
  for (const { label, figures } of rows) {
    const cells = OPERATIONS.map(
      (op) => `${fmt(figures[op].perSecond)} | ${figures[op].ratio.toFixed(2)}x`,
    )
    console.log(`| ${name} | ${label} | ${cells.join(' | ')} |`)
  }
}
