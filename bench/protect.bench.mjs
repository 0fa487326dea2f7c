// What `gatehouse.protect` adds to a request served over HTTP: the same handler served open and
// inside `protect`, through the Node adapter, with a real access token (a verified-token cache
// hit, as every request after a client's first). Two handlers: one that answers at once (what the
// guard itself costs, with nothing else running) and the MCP SDK's stateless `tools/call` (the
// guard's code running between the SDK's own work, where it costs more than in a loop; issue 17).
// Each server is a child on core 1 (when taskset exists) and reports its own CPU; autocannon (16
// connections) runs here. Rounds interleave the variants and alternate their order; figures are
// medians of per-round values: the server CPU µs that `protect` adds per request and the req/s
// ratio protected / open.
// BASELINE_DIST=<another build's dist/> serves that build beside this one in the same rounds.
// Run after `npm run build`: node bench/protect.bench.mjs [seconds] [rounds]
import autocannon from 'autocannon'
import { startChild } from './child-server.mjs'
import { median, record } from './report.mjs'

const SECONDS = Number(process.argv[2] ?? 2)
const ROUNDS = Number(process.argv[3] ?? 8)
const BASELINE_DIST = process.env.BASELINE_DIST
const BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hello' } },
})
const HANDLERS = {
  answer: 'a handler that answers at once',
  mcp: 'MCP SDK 1.x stateless tools/call',
}

async function startServer(handler, dist) {
  const script = new URL('./protect-server.mjs', import.meta.url).pathname
  const server = await startChild(script, [handler], dist ? { GATEHOUSE_DIST: dist } : {})
  const base = `http://127.0.0.1:${server.port}`
  const { token } = await (await fetch(`${base}/bench-token`)).json()
  return { ...server, base, token }
}

/** `seconds` of load on `path`: requests/s and the server's CPU (µs) per request. */
async function load(server, path, seconds) {
  const before = await server.cpu()
  const result = await autocannon({
    url: `${server.base}${path}`,
    method: 'POST',
    connections: 16,
    duration: seconds,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${server.token}`,
    },
    body: BODY,
  })
  const used = (await server.cpu()) - before
  if (result.errors > 0 || result.non2xx > 0) {
    throw new Error(`protect bench: ${path} answered ${JSON.stringify(result.statusCodeStats)}`)
  }
  return { rps: result.requests.average, cpuUs: used / result.requests.total }
}

export async function runProtectBench({ log = console.log } = {}) {
  log(
    `protect: the same handler open and inside gatehouse.protect over HTTP (Node adapter), ` +
      `16 connections, ${ROUNDS} rounds of ${SECONDS} s`,
  )
  for (const [handler, label] of Object.entries(HANDLERS)) {
    const builds = { this: undefined, ...(BASELINE_DIST ? { baseline: BASELINE_DIST } : {}) }
    const servers = {}
    for (const [name, dist] of Object.entries(builds))
      servers[name] = await startServer(handler, dist)
    try {
      const variants = Object.keys(servers).flatMap((build) =>
        ['/open', '/mcp'].map((path) => ({ build, path })),
      )
      // Warm-up: the SDK handler needs a few seconds before its cost settles (its first round ran
      // 100 µs dearer than the rest with one second of warm-up).
      for (const v of variants) await load(servers[v.build], v.path, 3)
      const rows = Object.fromEntries(variants.map((v) => [`${v.build}${v.path}`, []]))
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 ? [...variants].reverse() : variants
        for (const v of order) {
          rows[`${v.build}${v.path}`].push(await load(servers[v.build], v.path, SECONDS))
        }
      }
      log(`  ${label}`)
      for (const build of Object.keys(servers)) {
        const open = rows[`${build}/open`]
        const guarded = rows[`${build}/mcp`]
        const added = guarded.map((g, i) => g.cpuUs - open[i].cpuUs)
        const ratios = guarded.map((g, i) => g.rps / open[i].rps)
        log(
          `    ${build === 'this' ? 'this build' : 'baseline'}: open ${median(open.map((r) => r.cpuUs)).toFixed(1)} µs, ` +
            `protected ${median(guarded.map((r) => r.cpuUs)).toFixed(1)} µs CPU per request; ` +
            `protect adds ${median(added).toFixed(1)} µs (${added.map((a) => a.toFixed(0)).join(' ')}); ` +
            `req/s protected/open ${median(ratios).toFixed(3)}`,
        )
        if (build === 'this') {
          record({
            bench: 'protect',
            scenario: `protect around ${label}, req/s`,
            ratio: median(ratios),
            ratios,
            baseline: 'the same handler served open',
            higherIsBetter: true,
          })
        }
      }
      if (BASELINE_DIST) {
        const ratios = rows['this/mcp'].map((r, i) => r.cpuUs / rows['baseline/mcp'][i].cpuUs)
        log(
          `    protected CPU per request, this build / baseline: ${median(ratios).toFixed(3)} ` +
            `(${ratios.map((r) => r.toFixed(2)).join(' ')})`,
        )
      }
    } finally {
      for (const server of Object.values(servers)) await server.close()
    }
  }
}

await runProtectBench()
