// What the Node adapter (`toNodeHandler`: node:http → Web `Request` → handler → Web `Response` →
// node:http) costs per request, against node:http by hand doing the same work (the physical limit
// of a Node server) and against the peers: Hono's own Node adapter (@hono/node-server) serving
// the same Web handler, and Express with its form parser (the MCP SDK demo authorization server's
// stack). The requests are the two of an OAuth sign-in: `GET /authorize` → 302 and `POST /token`
// with a form → JSON. Every server is a child on core 1 (when taskset exists) and reports its own
// CPU; autocannon (16 connections) runs here. Rounds interleave the kinds and alternate their
// order; ratios are medians of per-round ratios of server CPU per request to raw node:http's.
// The adapter runs three times: as by default, with `holdSmallBody`, and with `lightRequest` (as
// `gatehouse serve` sets it, with both).
// BASELINE_DIST=<another build's dist/> adds that build's adapter to the same rounds.
// Run after `npm run build`: node bench/adapter.bench.mjs [seconds] [rounds]
import { spawnSync } from 'node:child_process'
import autocannon from 'autocannon'
import { startChild } from './child-server.mjs'
import { median, record } from './report.mjs'

const SECONDS = Number(process.argv[2] ?? 3)
const ROUNDS = Number(process.argv[3] ?? 5)
const BASELINE_DIST = process.env.BASELINE_DIST
const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0

const KINDS = [
  'raw',
  'gatehouse',
  'gatehouse-held',
  'gatehouse-light',
  ...(BASELINE_DIST ? ['baseline'] : []),
  'hono',
  'hono-plain',
  'express',
]
const LABEL = {
  raw: 'node:http by hand',
  gatehouse: 'Gatehouse toNodeHandler',
  'gatehouse-held': 'Gatehouse toNodeHandler, holdSmallBody',
  'gatehouse-light': 'Gatehouse toNodeHandler, lightRequest',
  baseline: 'Gatehouse toNodeHandler, baseline build',
  hono: '@hono/node-server',
  'hono-plain': '@hono/node-server, globals kept',
  express: 'Express + urlencoded',
}
const FORM =
  'grant_type=authorization_code&code=' +
  'c'.repeat(43) +
  '&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&client_id=' +
  'i'.repeat(22) +
  '&code_verifier=' +
  'v'.repeat(43)

function startServer(kind) {
  const script = new URL('./adapter-server.mjs', import.meta.url).pathname
  return startChild(script, [kind], BASELINE_DIST ? { ADAPTER_DIST: BASELINE_DIST } : {})
}

/** One sign-in's two requests, answered as every kind must answer them. */
async function check(kind, server) {
  const base = `http://127.0.0.1:${server.port}`
  const authorize = await fetch(`${base}/authorize?client_id=abc`, { redirect: 'manual' })
  const token = await fetch(`${base}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: FORM,
  })
  const answer = await token.json()
  if (authorize.status !== 302 || !authorize.headers.get('location')?.includes('code=')) {
    throw new Error(`adapter bench: ${kind} answered /authorize ${authorize.status}`)
  }
  if (token.status !== 200 || answer.token_type !== 'Bearer') {
    throw new Error(`adapter bench: ${kind} answered /token ${token.status}`)
  }
}

/** `seconds` of load: requests/s and the server's CPU (µs) per request. */
async function load(server, seconds) {
  const before = await server.cpu()
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}`,
    connections: 16,
    duration: seconds,
    requests: [
      { method: 'GET', path: '/authorize?response_type=code&client_id=abc&state=xyz' },
      {
        method: 'POST',
        path: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: FORM,
      },
    ],
  })
  const used = (await server.cpu()) - before
  const done = result.requests.total
  if (result.errors > 0 || result['4xx'] > 0 || result['5xx'] > 0 || result['3xx'] === 0) {
    throw new Error(`adapter bench: unexpected answers ${JSON.stringify(result.statusCodeStats)}`)
  }
  return { rps: result.requests.average, cpuUs: used / done }
}

export async function runAdapterBench({ log = console.log } = {}) {
  const servers = {}
  for (const kind of KINDS) servers[kind] = await startServer(kind)
  try {
    for (const kind of KINDS) await check(kind, servers[kind])
    for (const kind of KINDS) await load(servers[kind], 1) // warm up
    const rows = Object.fromEntries(KINDS.map((kind) => [kind, []]))
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...KINDS].reverse() : KINDS
      for (const kind of order) rows[kind].push(await load(servers[kind], SECONDS))
    }
    log(
      `adapter: GET /authorize → 302 and POST /token (form) → JSON, 16 connections, ` +
        `${ROUNDS} rounds of ${SECONDS} s, server on ${pinned ? 'core 1' : 'any core'}; Node ${process.version}`,
    )
    log(
      `  ${'server'.padEnd(40)} ${'req/s'.padStart(7)} ${'CPU/request'.padStart(12)}  ratio to raw`,
    )
    for (const kind of KINDS) {
      const ratios = rows[kind].map((row, i) => row.cpuUs / rows.raw[i].cpuUs)
      const ratio = median(ratios)
      log(
        `  ${LABEL[kind].padEnd(40)} ${median(rows[kind].map((r) => r.rps))
          .toFixed(0)
          .padStart(7)} ` +
          `${median(rows[kind].map((r) => r.cpuUs))
            .toFixed(1)
            .padStart(9)} µs  ${ratio.toFixed(2)}x ` +
          `(${ratios.map((r) => r.toFixed(2)).join(' ')})`,
      )
      if (kind !== 'raw') {
        record({
          bench: 'adapter',
          scenario: `${LABEL[kind]}: server CPU per request`,
          ratio,
          ratios,
          baseline: 'node:http by hand, same work',
          higherIsBetter: false,
        })
      }
    }
    for (const peer of ['hono', 'express']) {
      const ratios = rows.gatehouse.map((row, i) => row.cpuUs / rows[peer][i].cpuUs)
      log(
        `  Gatehouse ÷ ${LABEL[peer]}: CPU per request ${median(ratios).toFixed(2)}x ` +
          `(${ratios.map((r) => r.toFixed(2)).join(' ')})`,
      )
    }
    for (const [kind, over, what] of [
      ['gatehouse-held', 'gatehouse', 'holdSmallBody ÷ default'],
      ['gatehouse-light', 'gatehouse-held', 'lightRequest ÷ holdSmallBody'],
      ['gatehouse-light', 'hono-plain', 'lightRequest ÷ @hono/node-server, globals kept'],
    ]) {
      const ratios = rows[kind].map((row, i) => row.cpuUs / rows[over][i].cpuUs)
      log(
        `  ${what}: CPU per request ${median(ratios).toFixed(2)}x ` +
          `(${ratios.map((r) => r.toFixed(2)).join(' ')})`,
      )
    }
    if (BASELINE_DIST) {
      const ratios = rows.gatehouse.map((row, i) => row.cpuUs / rows.baseline[i].cpuUs)
      log(`  this build ÷ baseline build: CPU per request ${median(ratios).toFixed(2)}x`)
    }
  } finally {
    for (const { child } of Object.values(servers)) child.kill()
  }
}

await runAdapterBench()
