// `gatehouse serve`'s gateway against the same MCP server reached directly (issue 13):
//   1. throughput of `tools/call` to a Streamable HTTP server (target: at least 0.9x direct);
//   1b. CPU per proxied call of the gateway and of the server (from /proc, Linux): steadier than
//       req/s on a shared machine;
//   2. added latency of one request at a time, p50 and p99 (target: p50 at most 0.3 ms added);
//   3. SSE: how much later each event of a streamed answer arrives (target: at most 1 ms added);
//   4. a stdio route against the same server on its own HTTP transport (target: at least 0.8x);
//   4b. on that stdio route, MCP 2026-07-28 clients (no session; translated onto the 2025 protocol
//       the server speaks) against 2025 sessions: what translation costs (no target);
//   5. memory per idle session (shared stdio route) and per stdio process (session mode).
// The upstream is the official MCP SDK 1.x server (bench/mcp-echo-server.mjs), not a stub: a
// gateway is judged against what it fronts. Placement on the 2-core machine, when taskset exists:
// every upstream (HTTP, and each stdio child) on core 1; the gateway and the load generator (this
// process) on core 0. Direct and through therefore give the upstream the same core, and the
// question each ratio answers is whether the gateway, on the other core, keeps up with it.
// Rounds interleave direct and through and alternate which goes first; ratios are medians of
// per-round ratios. A hand-written node:http pass-through (bench/raw-proxy.mjs), placed like the
// gateway, is measured beside it: the hop itself, the physical limit of any gateway here.
// Bounded: every child is killed at the end.
// BASELINE_DIST=<another build's dist/> adds that build's gateway, in interleaved rounds with this
// one: the ratio of their CPU per call (what a change to the gateway is worth, on a machine whose
// whole-run figures move more than the change).
// Run after `npm run build`: node bench/gateway.bench.mjs [seconds] [rounds]
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'
import { Agent, request } from 'undici'
import { median, record } from './report.mjs'

const PROTOCOL = '2025-06-18'
const here = (f) => new URL(`./${f}`, import.meta.url).pathname
const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0
const onCore = (core, argv) =>
  pinned ? ['taskset', ['-c', String(core), ...argv]] : [argv[0], argv.slice(1)]

async function start(core, argv, env = process.env) {
  const [cmd, args] = onCore(core, argv)
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env })
  const [line] = await once(child.stdout, 'data')
  return { child, ...JSON.parse(String(line).split('\n')[0]) }
}

const upstreamServer = (mode) => start(1, [process.execPath, here('mcp-echo-server.mjs'), mode])
const rawProxy = (url) => start(0, [process.execPath, here('raw-proxy.mjs'), url])
const gatewayServer = (routes, dist) =>
  start(
    0,
    [process.execPath, '--expose-gc', here('gateway-server.mjs'), JSON.stringify(routes)],
    dist ? { ...process.env, GATEHOUSE_DIST: dist } : process.env,
  )
// BASELINE_DIST=<another build's dist/>: that build's gateway beside this one, in the same rounds.
const BASELINE_DIST = process.env.BASELINE_DIST
// The stdio server the gateway starts: the same script, placed on core 1 like the HTTP upstream.
const stdioUpstream = (mode) => ({
  kind: 'stdio',
  mode,
  ...(pinned
    ? {
        command: 'taskset',
        args: ['-c', '1', process.execPath, here('mcp-echo-server.mjs'), 'stdio'],
      }
    : { command: process.execPath, args: [here('mcp-echo-server.mjs'), 'stdio'] }),
})

const headers = (token, session) => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': PROTOCOL,
  ...(token ? { authorization: `Bearer ${token}` } : {}),
  ...(session ? { 'mcp-session-id': session } : {}),
})
const call = (id, name, args) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })
const ECHO = call(1, 'echo', { message: 'hi' })
// MCP basic §Requests: a request id is never reused within a session, and a gateway may refuse one
// still in flight; under load every call gets its own.
let nextID = 1
const uniqueID = (req) => ({ ...req, body: call(nextID++, 'echo', { message: 'hi' }) })

/** A 2026-07-28 `tools/call`: no session; the version, method and name in headers and `_meta`. */
const MODERN = '2026-07-28'
const modernHeaders = (token) => ({
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': MODERN,
  'mcp-method': 'tools/call',
  'mcp-name': 'echo',
  authorization: `Bearer ${token}`,
})
const modernCall = (id) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: 'echo',
      arguments: { message: 'hi' },
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  })

/** Requests per second of 2026-07-28 calls with 16 connections. */
function loadModern(url, token, seconds) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: 16,
        duration: seconds,
        requests: [
          {
            method: 'POST',
            headers: modernHeaders(token),
            setupRequest: (req) => ({ ...req, body: modernCall(nextID++) }),
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err)
        if (result.non2xx > 0 || result.errors > 0)
          return reject(new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`))
        resolve(result.requests.average)
      },
    )
  })
}

/** Opens an MCP session (initialize + initialized) and returns its id. */
async function openSession(url, token) {
  const res = await fetch(url, {
    method: 'POST',
    headers: headers(token),
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: {
        protocolVersion: PROTOCOL,
        capabilities: {},
        clientInfo: { name: 'bench', version: '1' },
      },
    }),
  })
  const session = res.headers.get('mcp-session-id')
  await res.text()
  if (!res.ok || !session) throw new Error(`initialize at ${url}: ${res.status}`)
  const ack = await fetch(url, {
    method: 'POST',
    headers: headers(token, session),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  })
  await ack.text()
  return session
}

/**
 * Requests per second with 16 connections; `sessions` spreads the calls over open sessions.
 * `seen` (optional) is given the number of requests answered.
 */
function load(url, token, seconds, sessions = [undefined], seen = () => undefined) {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: 16,
        duration: seconds,
        requests: sessions.map((s) => ({
          method: 'POST',
          headers: headers(token, s),
          setupRequest: uniqueID,
        })),
      },
      (err, result) => {
        if (err) return reject(err)
        if (result.non2xx > 0 || result.errors > 0)
          return reject(new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`))
        seen(result.requests.total)
        resolve(result.requests.average)
      },
    )
  })
}

/** Interleaved rounds of two loads; returns both medians and the per-round ratios b/a. */
async function compare(rounds, a, b) {
  const as = []
  const bs = []
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      as.push(await a())
      bs.push(await b())
    } else {
      bs.push(await b())
      as.push(await a())
    }
  }
  const ratios = bs.map((x, i) => x / as[i])
  return { a: median(as), b: median(bs), ratios, ratio: median(ratios) }
}

/** Milliseconds per request, one request at a time on one keep-alive connection. */
async function sequential(url, token, n, dispatcher) {
  const times = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    const res = await request(url, {
      method: 'POST',
      headers: headers(token),
      body: ECHO,
      dispatcher,
    })
    await res.body.text()
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode}`)
    times.push(performance.now() - t0)
  }
  return times
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK']).stdout) || 100

/** CPU time (user + system, µs) a process has used so far, from /proc (Linux only). */
function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS
}

/** CPU µs per answered request of each process in `pids`, over one load through `url`. */
async function cpuPerCall(pids, url, token, seconds) {
  const before = pids.map(cpuOf)
  let total = 0
  await load(url, token, seconds, [undefined], (n) => (total = n))
  return pids.map((pid, i) => (cpuOf(pid) - before[i]) / total)
}

/**
 * BASELINE_DIST: this build's gateway and another build's on the same upstream, each in its own
 * process placed alike, in interleaved rounds (twice `rounds`) with the order alternating: the
 * median of per-round ratios of gateway CPU per call, and of requests per second.
 */
async function againstBaseline({ gw, http, token, rounds, seconds, log }) {
  const base = await gatewayServer(
    [{ path: '/mcp', upstream: { kind: 'http', url: http.url } }],
    BASELINE_DIST,
  )
  try {
    const baseToken = (await (await fetch(`${base.base}/__bench/token?path=%2Fmcp`)).json()).token
    await load(`${base.base}/mcp`, baseToken, seconds)
    const cpu = []
    const rps = []
    for (let r = 0; r < 2 * rounds; r++) {
      const measure = async (server, t) => {
        const before = cpuOf(server.child.pid)
        let total = 0
        const perSecond = await load(
          `${server.base}/mcp`,
          t,
          seconds,
          [undefined],
          (n) => (total = n),
        )
        return { cpu: (cpuOf(server.child.pid) - before) / total, rps: perSecond }
      }
      const pair =
        r % 2 === 0
          ? [await measure(gw, token), await measure(base, baseToken)]
          : [await measure(base, baseToken), await measure(gw, token)].reverse()
      cpu.push(pair[0].cpu / pair[1].cpu)
      rps.push(pair[0].rps / pair[1].rps)
    }
    const fmt = (xs) => xs.map((x) => x.toFixed(2)).join(' ')
    log(
      `  this build ÷ baseline build (${BASELINE_DIST}): gateway CPU per call ${median(cpu).toFixed(2)}x, req/s ${median(rps).toFixed(2)}x`,
    )
    log(`    per-round CPU ratios: ${fmt(cpu)}`)
    log(`    per-round req/s ratios: ${fmt(rps)}`)
  } finally {
    base.child.kill()
  }
}

const quantile = (xs, q) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]

/** Per-event delay (ms) of a streamed answer: arrival minus the upstream's send time. */
async function streamDelays(url, token, count) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...headers(token), accept: 'text/event-stream, application/json' },
    body: call(7, 'stream', { count }),
  })
  if (!res.ok || !res.headers.get('content-type')?.startsWith('text/event-stream'))
    throw new Error(`${url}: ${res.status} ${res.headers.get('content-type')}`)
  const delays = []
  const decoder = new TextDecoder()
  let buffered = ''
  for await (const chunk of res.body) {
    const arrived = performance.timeOrigin + performance.now()
    buffered += decoder.decode(chunk, { stream: true })
    let end
    while ((end = buffered.indexOf('\n\n')) !== -1) {
      const event = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n')
      if (!data) continue
      const message = JSON.parse(data)
      if (message.method === 'notifications/message')
        delays.push(arrived - message.params.data.sentAt)
    }
  }
  if (delays.length !== count) throw new Error(`${url}: ${delays.length} of ${count} events`)
  return delays
}

export async function runGatewayBench({ log = console.log, seconds = 3, rounds = 5 } = {}) {
  const children = []
  const keep = (s) => (children.push(s.child), s)
  const fmt = (x) => x.toFixed(0).padStart(6)
  try {
    log(`gateway (issue 13): ${rounds} interleaved rounds of ${seconds} s, 16 connections`)
    log(
      `  placement: ${pinned ? 'upstreams on core 1, gateway and load on core 0' : 'unpinned (no taskset)'}`,
    )

    // 1-3: a Streamable HTTP upstream (stateless, JSON answers), and one answering with SSE.
    const http = keep(await upstreamServer('http-stateless'))
    const sse = keep(await upstreamServer('http-sse'))
    const gw = keep(
      await gatewayServer([
        { path: '/mcp', upstream: { kind: 'http', url: http.url } },
        { path: '/sse', upstream: { kind: 'http', url: sse.url } },
      ]),
    )
    // Two routes, two resources: a token for each (the default audience is the only resource).
    const tokenFor = async (path) => {
      const t = await fetch(`${gw.base}/__bench/token?path=${encodeURIComponent(path)}`)
      if (!t.ok) throw new Error(`token for ${path}: ${t.status}`)
      return (await t.json()).token
    }
    const mcpToken = await tokenFor('/mcp')
    const sseToken = await tokenFor('/sse')
    // The physical limit of a gateway here: a node:http pass-through, placed like the gateway.
    const raw = keep(await rawProxy(http.url))
    const rawUrl = `${raw.base}/mcp`
    await load(http.url, undefined, 1)
    await load(`${gw.base}/mcp`, mcpToken, 1)
    await load(rawUrl, undefined, 1)
    const t = await compare(
      rounds,
      () => load(http.url, undefined, seconds),
      () => load(`${gw.base}/mcp`, mcpToken, seconds),
    )
    log(
      `  HTTP tools/call   direct ${fmt(t.a)} req/s   through ${fmt(t.b)} req/s   ${t.ratio.toFixed(2)}x (target >= 0.9)`,
    )
    log(`    per-round ratios: ${t.ratios.map((r) => r.toFixed(2)).join(' ')}`)
    const tr = await compare(
      rounds,
      () => load(http.url, undefined, seconds),
      () => load(rawUrl, undefined, seconds),
    )
    log(
      `  the same through a node:http pass-through (no checks): ${fmt(tr.b)} req/s, ${tr.ratio.toFixed(2)}x direct`,
    )
    record({
      bench: 'gateway',
      scenario: 'HTTP tools/call through a node:http pass-through',
      ratio: tr.ratio,
      ratios: tr.ratios,
      baseline: 'the same MCP server called directly',
      higherIsBetter: true,
    })
    record({
      bench: 'gateway',
      scenario: 'HTTP tools/call through the gateway',
      ratio: t.ratio,
      ratios: t.ratios,
      baseline: 'the same MCP server called directly',
      target: { op: '>=', value: 0.9 },
      higherIsBetter: true,
    })

    // CPU per call is steadier than req/s on a shared machine: the gateway's against the server's.
    if (existsSync(`/proc/${gw.child.pid}/stat`)) {
      const [gwCPU, upCPU] = await cpuPerCall(
        [gw.child.pid, http.child.pid],
        `${gw.base}/mcp`,
        mcpToken,
        seconds,
      )
      const [rawCPU] = await cpuPerCall([raw.child.pid], rawUrl, undefined, seconds)
      log(
        `  CPU per proxied call   gateway ${gwCPU.toFixed(0)} µs   the MCP server ${upCPU.toFixed(0)} µs   gateway ÷ server ${(gwCPU / upCPU).toFixed(2)}`,
      )
      log(
        `    node:http pass-through ${rawCPU.toFixed(0)} µs: the gateway costs ${(gwCPU - rawCPU).toFixed(0)} µs more per call (${(gwCPU / rawCPU).toFixed(2)}x)`,
      )
      if (BASELINE_DIST) await againstBaseline({ gw, http, token: mcpToken, rounds, seconds, log })
    }

    const direct = new Agent({ connections: 1 })
    const through = new Agent({ connections: 1 })
    const passing = new Agent({ connections: 1 })
    const N = 1500
    await sequential(http.url, undefined, 200, direct)
    await sequential(`${gw.base}/mcp`, mcpToken, 200, through)
    await sequential(rawUrl, undefined, 200, passing)
    const d = []
    const g = []
    const p = []
    for (let r = 0; r < rounds; r++) {
      d.push(...(await sequential(http.url, undefined, N, direct)))
      g.push(...(await sequential(`${gw.base}/mcp`, mcpToken, N, through)))
      p.push(...(await sequential(rawUrl, undefined, N, passing)))
    }
    const added50 = quantile(g, 0.5) - quantile(d, 0.5)
    const added99 = quantile(g, 0.99) - quantile(d, 0.99)
    const rawAdded50 = quantile(p, 0.5) - quantile(d, 0.5)
    log(
      `  latency, 1 at a time   direct p50 ${quantile(d, 0.5).toFixed(3)} ms p99 ${quantile(d, 0.99).toFixed(3)} ms   through p50 ${quantile(g, 0.5).toFixed(3)} ms p99 ${quantile(g, 0.99).toFixed(3)} ms`,
    )
    log(
      `    added p50 ${added50.toFixed(3)} ms (target <= 0.3), added p99 ${added99.toFixed(3)} ms`,
    )
    log(
      `    node:http pass-through: added p50 ${rawAdded50.toFixed(3)} ms (the hop itself); the gateway ${(added50 - rawAdded50).toFixed(3)} ms beyond it`,
    )
    await direct.close()
    await through.close()
    await passing.close()

    // The same stream through the node:http pass-through, placed like the gateway: a hop on core
    // 0 shares that core with this process, which reads the events, so part of any hop's delay
    // is the two taking turns on one core, not work the hop does.
    const COUNT = 200
    const rawSSE = keep(await rawProxy(sse.url))
    await streamDelays(sse.url, undefined, 20)
    await streamDelays(`${gw.base}/sse`, sseToken, 20)
    await streamDelays(rawSSE.base, undefined, 20)
    const sd = []
    const sg = []
    const sp = []
    for (let r = 0; r < rounds; r++) {
      sd.push(...(await streamDelays(sse.url, undefined, COUNT)))
      sg.push(...(await streamDelays(`${gw.base}/sse`, sseToken, COUNT)))
      sp.push(...(await streamDelays(rawSSE.base, undefined, COUNT)))
    }
    const sseAdded = quantile(sg, 0.5) - quantile(sd, 0.5)
    const rawSSEAdded = quantile(sp, 0.5) - quantile(sd, 0.5)
    log(
      `  SSE events   direct p50 ${quantile(sd, 0.5).toFixed(3)} ms   through p50 ${quantile(sg, 0.5).toFixed(3)} ms p99 ${quantile(sg, 0.99).toFixed(3)} ms   added p50 ${sseAdded.toFixed(3)} ms (target <= 1)`,
    )
    log(
      `    node:http pass-through: added p50 ${rawSSEAdded.toFixed(3)} ms (the hop itself); the gateway ${(sseAdded - rawSSEAdded).toFixed(3)} ms beyond it`,
    )
    for (const s of [gw, http, sse, rawSSE]) s.child.kill('SIGTERM')

    // 4: a stdio route (shared process) against the same server on its own HTTP transport, both
    // with sessions (16 open, calls spread over them).
    const stateful = keep(await upstreamServer('http-stateful'))
    const sgw = keep(await gatewayServer([{ path: '/mcp', upstream: stdioUpstream('shared') }]))
    const directSessions = await Promise.all(
      Array.from({ length: 16 }, () => openSession(stateful.url)),
    )
    const gwSessions = await Promise.all(
      Array.from({ length: 16 }, () => openSession(`${sgw.base}/mcp`, sgw.token)),
    )
    await load(stateful.url, undefined, 1, directSessions)
    await load(`${sgw.base}/mcp`, sgw.token, 1, gwSessions)
    const s = await compare(
      rounds,
      () => load(stateful.url, undefined, seconds, directSessions),
      () => load(`${sgw.base}/mcp`, sgw.token, seconds, gwSessions),
    )
    log(
      `  stdio route   server on its HTTP ${fmt(s.a)} req/s   through stdio ${fmt(s.b)} req/s   ${s.ratio.toFixed(2)}x (target >= 0.8)`,
    )
    log(`    per-round ratios: ${s.ratios.map((r) => r.toFixed(2)).join(' ')}`)
    record({
      bench: 'gateway',
      scenario: 'stdio route vs the server on its own HTTP transport',
      ratio: s.ratio,
      ratios: s.ratios,
      baseline: 'the same MCP server over Streamable HTTP',
      target: { op: '>=', value: 0.8 },
      higherIsBetter: true,
    })

    // 4b: the same route and server, MCP 2026-07-28 clients (translated) against 2025 sessions.
    await loadModern(`${sgw.base}/mcp`, sgw.token, 1)
    const translated = await compare(
      rounds,
      () => load(`${sgw.base}/mcp`, sgw.token, seconds, gwSessions),
      () => loadModern(`${sgw.base}/mcp`, sgw.token, seconds),
    )
    log(
      `  stdio route, 2026-07-28 clients translated ${fmt(translated.b)} req/s   2025 sessions ${fmt(translated.a)} req/s   ${translated.ratio.toFixed(2)}x`,
    )
    log(`    per-round ratios: ${translated.ratios.map((r) => r.toFixed(2)).join(' ')}`)
    record({
      bench: 'gateway',
      scenario: 'stdio route: 2026-07-28 clients translated vs 2025 sessions',
      ratio: translated.ratio,
      ratios: translated.ratios,
      baseline: '2025 sessions on the same stdio route',
      higherIsBetter: true,
    })

    sgw.child.kill('SIGTERM')

    // 5: memory, in a fresh gateway: idle sessions on a shared stdio route (each an SDK transport
    // in the gateway plus its binding) and on an HTTP route (the binding only: the upstream keeps
    // its own session state), measured after a warm-up so the first-use allocations are not
    // counted; then processes in session mode.
    const memory = async (base) => (await fetch(`${base}/__bench/memory`)).json()
    const mgw = keep(
      await gatewayServer([
        { path: '/mcp', upstream: stdioUpstream('shared') },
        { path: '/http', upstream: { kind: 'http', url: stateful.url } },
      ]),
    )
    const httpToken = (await (await fetch(`${mgw.base}/__bench/token?path=/http`)).json()).token
    const IDLE = 500
    const open = async (path, token, n) => {
      for (let i = 0; i < n; i++) await openSession(`${mgw.base}${path}`, token)
    }
    await open('/mcp', mgw.token, 50)
    await open('/http', httpToken, 50)
    const m0 = await memory(mgw.base)
    await open('/mcp', mgw.token, IDLE)
    const m1 = await memory(mgw.base)
    await open('/http', httpToken, IDLE)
    const m2 = await memory(mgw.base)
    const kib = (a, b, key) => ((b[key] - a[key]) / IDLE / 1024).toFixed(1)
    log(
      `  memory per idle session (${IDLE} each, after a warm-up): stdio route ${kib(m0, m1, 'heapUsed')} KiB heap, ${kib(m0, m1, 'rss')} KiB RSS; HTTP route ${kib(m1, m2, 'heapUsed')} KiB heap, ${kib(m1, m2, 'rss')} KiB RSS`,
    )
    for (const x of [mgw, stateful]) x.child.kill('SIGTERM')

    const pgw = keep(await gatewayServer([{ path: '/mcp', upstream: stdioUpstream('session') }]))
    const PROCS = 8
    for (let i = 0; i < PROCS; i++) await openSession(`${pgw.base}/mcp`, pgw.token)
    const m = await memory(pgw.base)
    const rss = m.children.map((c) => c.rss).filter((x) => x > 0)
    log(
      `  memory per stdio process (session mode, the SDK echo server on Node): ${rss.length} processes, median ${(median(rss) / 2 ** 20).toFixed(1)} MiB RSS each`,
    )
  } finally {
    for (const c of children) c.kill('SIGTERM')
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await runGatewayBench({
    seconds: Number(process.argv[2] ?? 3),
    rounds: Number(process.argv[3] ?? 5),
  })
}
