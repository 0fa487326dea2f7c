// Issue 17: the cost of one complete authorization-code flow (client registered once; then
// authorize → token with PKCE), for Gatehouse on memory, SQLite and Redis (REDIS_URL) and for the
// MCP SDK 1.x demo authorization server issuing one RS256 JWT per flow (bench/flow-setup.mjs).
//
// 1. Operations per flow, in process through `gatehouse.fetch`: signatures, HMACs, SHA-256
//    digests, AES-GCM seals/opens, store reads/writes and random draws, counted by wrapping (here,
//    in the bench only) the backend store, `globalThis.crypto` and node:crypto's entry points.
// 2. In process, 16 flows at a time: flows/s and process CPU per flow, rounds interleaved.
// 3. Over HTTP (node:http, 16 connections): each server in a child pinned to core 1, the load
//    from this process; flows/s and the server's CPU per flow, against the SDK demo in the same
//    rounds (per-round ratios, median).
// 4. The signing algorithm (RS256, ES256, EdDSA): CPU per flow in process, memory store.
// Run after `npm run build`: node bench/flow.bench.mjs (FLOW_SECONDS, FLOW_ROUNDS, FLOW_STORES to
// change).
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { loadavg as osLoadavg } from 'node:os'
import { pathToFileURL } from 'node:url'
import {
  authorizeQuery,
  codeFrom,
  inProcessClient,
  loadBuild,
  pkcePairs,
  registration,
  tokenForm,
} from './flow-setup.mjs'
import { median, record } from './report.mjs'

// BASELINE_DIST=<another build's dist/>: that build's memory-store flow runs in the same rounds.
const BASELINE_DIST = process.env.BASELINE_DIST
const { nodeSigner, openStore, createFlowGatehouse } = await loadBuild()
const baseline = BASELINE_DIST ? await loadBuild(pathToFileURL(`${BASELINE_DIST}/`)) : undefined
const SECONDS = Number(process.env.FLOW_SECONDS ?? 3)
const ROUNDS = Number(process.env.FLOW_ROUNDS ?? 5)
// FLOW_STORES=memory,redis: only these (e.g. on a Node whose better-sqlite3 is not built).
const STORES = process.env.FLOW_STORES
  ? process.env.FLOW_STORES.split(',')
  : ['memory', 'sqlite', ...(process.env.REDIS_URL ? ['redis'] : [])]
const pairs = pkcePairs(2000)
let nextPair = 0
const pair = () => pairs[nextPair++ % pairs.length]

// ---------------------------------------------------------------------------------------------
// 1. Counting

const COUNTED = ['signatures', 'hmacs', 'sha256', 'aesSeals', 'aesOpens', 'storeReads']
const COUNTED_MORE = ['storeWrites', 'recordsWritten', 'randomDraws', 'keyImports', 'subtleCalls']
const counts = Object.fromEntries([...COUNTED, ...COUNTED_MORE].map((name) => [name, 0]))
const bump = (name) => {
  counts[name]++
}

/** Wraps `target[name]` so that each call first runs `count(...args)`; returns the undo. */
function wrap(target, name, count) {
  const original = target[name]
  const own = Object.prototype.hasOwnProperty.call(target, name)
  target[name] = function (...args) {
    count(...args)
    return original.apply(this, args)
  }
  return () => {
    if (own) target[name] = original
    else delete target[name]
  }
}

function algName(algorithm) {
  return (typeof algorithm === 'string' ? algorithm : (algorithm?.name ?? '')).toUpperCase()
}

/** Counts crypto calls made through Web Crypto and node:crypto until the returned undo runs. */
function countCrypto() {
  const subtle = globalThis.crypto.subtle
  const nodeCrypto = createRequire(import.meta.url)('node:crypto')
  const undo = [
    wrap(subtle, 'digest', (alg) => {
      bump('subtleCalls')
      if (algName(alg) === 'SHA-256') bump('sha256')
    }),
    wrap(subtle, 'sign', (alg) => {
      bump('subtleCalls')
      bump(algName(alg) === 'HMAC' ? 'hmacs' : 'signatures')
    }),
    wrap(subtle, 'encrypt', (alg) => {
      bump('subtleCalls')
      if (algName(alg) === 'AES-GCM') bump('aesSeals')
    }),
    wrap(subtle, 'decrypt', (alg) => {
      bump('subtleCalls')
      if (algName(alg) === 'AES-GCM') bump('aesOpens')
    }),
    wrap(subtle, 'importKey', () => {
      bump('subtleCalls')
      bump('keyImports')
    }),
    wrap(globalThis.crypto, 'getRandomValues', () => bump('randomDraws')),
    wrap(globalThis.crypto, 'randomUUID', () => bump('randomDraws')),
    wrap(nodeCrypto, 'createHash', (alg) => {
      if (String(alg).toLowerCase() === 'sha256') bump('sha256')
    }),
    wrap(nodeCrypto, 'createHmac', () => bump('hmacs')),
    wrap(nodeCrypto, 'sign', () => bump('signatures')),
    wrap(nodeCrypto, 'createSign', () => bump('signatures')),
    wrap(nodeCrypto, 'createCipheriv', (alg) => {
      if (/gcm/i.test(alg)) bump('aesSeals')
    }),
    wrap(nodeCrypto, 'createDecipheriv', (alg) => {
      if (/gcm/i.test(alg)) bump('aesOpens')
    }),
    wrap(nodeCrypto, 'createPrivateKey', () => bump('keyImports')),
    wrap(nodeCrypto, 'randomBytes', () => bump('randomDraws')),
    wrap(nodeCrypto, 'randomFillSync', () => bump('randomDraws')),
    wrap(nodeCrypto, 'randomUUID', () => bump('randomDraws')),
  ]
  // node:crypto's ESM named exports follow the CommonJS object only when told to.
  syncBuiltinESMExports()
  return () => {
    for (const u of undo.reverse()) u()
    syncBuiltinESMExports()
  }
}

/** The backend store (under Gatehouse's encryption wrapper) with its reads and writes counted. */
function countingStore(store) {
  const read =
    (fn) =>
    (...args) => {
      bump('storeReads')
      return fn(...args)
    }
  const write =
    (fn) =>
    (...args) => {
      bump('storeWrites')
      bump('recordsWritten')
      return fn(...args)
    }
  return {
    ...store,
    get: read(store.get.bind(store)),
    take: read(store.take.bind(store)),
    set: write(store.set.bind(store)),
    setIfAbsent: write(store.setIfAbsent.bind(store)),
    delete: write(store.delete.bind(store)),
    commit: (step) => {
      bump('storeWrites')
      counts.recordsWritten += (step.set?.length ?? 0) + (step.delete?.length ?? 0)
      return store.commit(step)
    },
    acquireLock: store.acquireLock.bind(store),
    releaseLock: store.releaseLock.bind(store),
    close: store.close.bind(store),
    ...(store.scan ? { scan: store.scan.bind(store) } : {}),
  }
}

async function countPerFlow(kind, flows = 200) {
  const { store, cleanup } = await openStore(kind)
  const gh = await createFlowGatehouse(countingStore(store))
  const flow = await inProcessClient(gh)
  for (let i = 0; i < 20; i++) await flow(pair())
  for (const name of Object.keys(counts)) counts[name] = 0
  const undo = countCrypto()
  try {
    for (let i = 0; i < flows; i++) await flow(pair())
  } finally {
    undo()
  }
  const perFlow = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / flows]))
  await gh.close()
  await cleanup()
  return perFlow
}

// ---------------------------------------------------------------------------------------------
// 2. In process

async function inProcessCase(kind, options = {}, build = { openStore, createFlowGatehouse }) {
  const { store, cleanup } = await build.openStore(kind)
  const gh = await build.createFlowGatehouse(store, options)
  const flow = await inProcessClient(gh)
  return {
    flow,
    close: async () => {
      await gh.close()
      await cleanup()
    },
  }
}

/** `count` flows, `concurrency` at a time: flows/s and process CPU (µs) per flow. */
async function timeInProcess(flow, count, concurrency = 16) {
  let left = count
  const worker = async () => {
    while (left-- > 0) await flow(pair())
  }
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  const ms = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { flowsPerSecond: (count * 1000) / ms, cpuUsPerFlow: (cpu.user + cpu.system) / count }
}

async function interleaved(cases, perRound, rounds) {
  const results = Object.fromEntries(Object.keys(cases).map((name) => [name, []]))
  for (const c of Object.values(cases)) await timeInProcess(c.flow, 100)
  for (let r = 0; r < rounds; r++) {
    const names = Object.keys(cases)
    if (r % 2 === 1) names.reverse()
    for (const name of names) results[name].push(await timeInProcess(cases[name].flow, perRound))
  }
  return results
}

// ---------------------------------------------------------------------------------------------
// 3. Over HTTP

function hasTaskset() {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0
}

/** `name`: `gatehouse-<store>`, `baseline-memory`, `sdk-demo`, or `gatehouse-memory <alg>`. */
async function startServer(name) {
  const script = new URL('./flow-server.mjs', import.meta.url).pathname
  const [kind, alg] = name.replace('baseline-', 'gatehouse-').split(' ')
  // FLOW_PROFILE=<dir>: each server writes a CPU profile there when it closes.
  const profile = process.env.FLOW_PROFILE
    ? [
        '--cpu-prof',
        `--cpu-prof-dir=${process.env.FLOW_PROFILE}`,
        `--cpu-prof-name=${name.replace(' ', '-')}.cpuprofile`,
      ]
    : []
  const args = [...profile, script, kind, ...(alg ? [alg] : [])]
  const [cmd, argv] = hasTaskset()
    ? ['taskset', ['-c', '1', process.execPath, ...args]]
    : [process.execPath, args]
  const env = name.startsWith('baseline-')
    ? { ...process.env, FLOW_DIST: BASELINE_DIST }
    : process.env
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env })
  const [line] = await once(child.stdout, 'data')
  const { port } = JSON.parse(String(line).split('\n')[0])
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  const request = (method, path, body, type) =>
    new Promise((resolve, reject) => {
      const headers = body
        ? { 'content-type': type, 'content-length': Buffer.byteLength(body) }
        : {}
      const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
        const chunks = []
        res.on('data', (chunk) => chunks.push(chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
        )
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(body)
    })
  const reg = await request('POST', '/register', registration, 'application/json')
  if (reg.status !== 201) throw new Error(`${kind}: register failed ${reg.status} ${reg.body}`)
  const clientId = JSON.parse(String(reg.body)).client_id
  const flow = async (p) => {
    const auth = await request('GET', `/authorize?${authorizeQuery(clientId, p)}`)
    if (auth.status !== 302) throw new Error(`${kind}: authorize ${auth.status} ${auth.body}`)
    const form = tokenForm(clientId, codeFrom(auth.headers.location), p)
    const res = await request('POST', '/token', form, 'application/x-www-form-urlencoded')
    if (res.status !== 200) throw new Error(`${kind}: token ${res.status} ${res.body}`)
    if (!JSON.parse(String(res.body)).access_token) throw new Error(`${kind}: no access token`)
  }
  const serverCpu = async () => {
    child.send('cpu')
    const [{ cpu }] = await once(child, 'message')
    return cpu.user + cpu.system
  }
  return {
    flow,
    serverCpu,
    close: async () => {
      agent.destroy()
      child.send('close')
      await once(child, 'exit')
    },
  }
}

/** 16 connections for `seconds`: flows/s and the server's CPU (µs) per flow. */
async function timeHttp(server, seconds) {
  const deadline = performance.now() + seconds * 1000
  let flows = 0
  const worker = async () => {
    while (performance.now() < deadline) {
      await server.flow(pair())
      flows++
    }
  }
  const cpu0 = await server.serverCpu()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: 16 }, worker))
  const ms = performance.now() - t0
  const cpu = (await server.serverCpu()) - cpu0
  return { flowsPerSecond: (flows * 1000) / ms, cpuUsPerFlow: cpu / flows }
}

// ---------------------------------------------------------------------------------------------

const fmt = (x, digits = 0) => x.toFixed(digits)
const med = (rows, key) => median(rows.map((row) => row[key]))
const range = (rows, key, digits = 0) => {
  const xs = rows.map((row) => row[key])
  return `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}`
}

export async function runFlowBench({ log = console.log } = {}) {
  log(`flow: authorize → token (PKCE), client registered once; load average ${loadavg()}`)
  log(
    `  access tokens signed and codes hashed with ${nodeSigner ? 'node:crypto (nodeSignatureSigner, nodeSha256, nodeValueCipher)' : 'Web Crypto (jose)'}`,
  )

  log('\n1. operations per flow (in process, counted by wrapping)')
  log(`  ${'store'.padEnd(8)} ${[...COUNTED, ...COUNTED_MORE].map((c) => c.padStart(8)).join(' ')}`)
  for (const kind of STORES) {
    const perFlow = await countPerFlow(kind)
    log(
      `  ${kind.padEnd(8)} ${[...COUNTED, ...COUNTED_MORE].map((c) => fmt(perFlow[c], 2).padStart(8)).join(' ')}`,
    )
  }

  log(`\n2. in process, 16 flows at a time, ${ROUNDS} interleaved rounds`)
  const inCases = {}
  for (const kind of STORES) inCases[kind] = await inProcessCase(kind)
  if (nodeSigner) inCases['memory, Web Crypto'] = await inProcessCase('memory', { signer: false })
  if (baseline) inCases['memory, baseline build'] = await inProcessCase('memory', {}, baseline)
  const inResults = await interleaved(inCases, 600, ROUNDS)
  for (const [name, rows] of Object.entries(inResults)) {
    log(
      `  ${name.padEnd(28)} ${fmt(med(rows, 'flowsPerSecond')).padStart(6)} flows/s (${range(rows, 'flowsPerSecond')})   ${fmt(med(rows, 'cpuUsPerFlow') / 1000, 3)} ms CPU/flow (${range(rows, 'cpuUsPerFlow')} µs)`,
    )
  }
  if (baseline) logAgainstBaseline(log, inResults.memory, inResults['memory, baseline build'])
  for (const c of Object.values(inCases)) await c.close()

  log(`\n3. over HTTP, 16 connections, server on its own core, ${ROUNDS} rounds of ${SECONDS} s`)
  // The memory store also with ES256 and EdDSA access tokens: what an issuer that chooses a
  // cheaper signature gets, against the demo's RS256 (issue 17 asks for the trade measured).
  const kinds = [
    ...STORES.map((s) => `gatehouse-${s}`),
    'gatehouse-memory ES256',
    'gatehouse-memory EdDSA',
    ...(baseline ? ['baseline-memory'] : []),
    'sdk-demo',
  ]
  const servers = {}
  for (const kind of kinds) servers[kind] = await startServer(kind)
  const httpResults = Object.fromEntries(kinds.map((k) => [k, []]))
  try {
    for (const kind of kinds) await timeHttp(servers[kind], 1.5)
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? kinds : [...kinds].reverse()
      for (const kind of order) httpResults[kind].push(await timeHttp(servers[kind], SECONDS))
    }
  } finally {
    for (const s of Object.values(servers)) await s.close()
  }
  const demo = httpResults['sdk-demo']
  for (const kind of kinds) {
    const rows = httpResults[kind]
    const ratios = rows.map((row, i) => row.flowsPerSecond / demo[i].flowsPerSecond)
    const cpuRatios = rows.map((row, i) => row.cpuUsPerFlow / demo[i].cpuUsPerFlow)
    log(
      `  ${kind.padEnd(23)} ${fmt(med(rows, 'flowsPerSecond')).padStart(6)} flows/s (${range(rows, 'flowsPerSecond')})   ${fmt(med(rows, 'cpuUsPerFlow') / 1000, 3)} ms CPU/flow (${range(rows, 'cpuUsPerFlow')} µs)` +
        (kind === 'sdk-demo'
          ? ''
          : `   ${fmt(median(ratios), 2)}x SDK demo flows/s (${ratios.map((x) => fmt(x, 2)).join(' ')}), CPU ${fmt(median(cpuRatios), 2)}x`),
    )
    if (kind.startsWith('gatehouse-')) {
      const [store, alg] = kind.replace('gatehouse-', '').split(' ')
      record({
        bench: 'flow',
        scenario: `code flow over HTTP, ${store} store${alg ? `, ${alg} access tokens` : ''}`,
        ratio: median(ratios),
        ratios,
        baseline: 'MCP SDK demo authorization server (one RS256 JWT per flow)',
        target: { op: '>=', value: 1.3 },
        higherIsBetter: true,
      })
    }
  }

  if (baseline)
    logAgainstBaseline(log, httpResults['gatehouse-memory'], httpResults['baseline-memory'])

  log(`\n4. signing algorithm, in process, memory store, ${ROUNDS} interleaved rounds`)
  const algCases = {}
  for (const alg of ['RS256', 'ES256', 'EdDSA']) {
    algCases[alg] = await inProcessCase('memory', { signingAlgorithm: alg })
  }
  const algResults = await interleaved(algCases, 600, ROUNDS)
  for (const [alg, rows] of Object.entries(algResults)) {
    const ratios = rows.map((row, i) => row.cpuUsPerFlow / algResults.RS256[i].cpuUsPerFlow)
    log(
      `  ${alg.padEnd(6)} ${fmt(med(rows, 'flowsPerSecond')).padStart(6)} flows/s   ${fmt(med(rows, 'cpuUsPerFlow') / 1000, 3)} ms CPU/flow (${range(rows, 'cpuUsPerFlow')} µs)   CPU ${fmt(median(ratios), 2)}x RS256`,
    )
    if (alg !== 'RS256') {
      record({
        bench: 'flow',
        scenario: `code flow CPU, ${alg} access tokens`,
        ratio: median(ratios),
        ratios,
        baseline: 'the same flow with RS256 access tokens',
        higherIsBetter: false,
      })
    }
  }
  for (const c of Object.values(algCases)) await c.close()
  log(`\n  load average at the end ${loadavg()}`)
}

/** This build's memory-store flow against the baseline build's, per round (CPU, flows/s). */
function logAgainstBaseline(log, rows, baseRows) {
  const cpu = rows.map((row, i) => row.cpuUsPerFlow / baseRows[i].cpuUsPerFlow)
  const rate = rows.map((row, i) => row.flowsPerSecond / baseRows[i].flowsPerSecond)
  log(
    `  memory, this build vs baseline build: CPU/flow ${fmt(median(cpu), 2)}x (${cpu.map((x) => fmt(x, 2)).join(' ')}), flows/s ${fmt(median(rate), 2)}x (${rate.map((x) => fmt(x, 2)).join(' ')})`,
  )
}

function loadavg() {
  return osLoadavg()
    .map((x) => x.toFixed(2))
    .join(' ')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runFlowBench()
