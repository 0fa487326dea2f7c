// What OpenTelemetry costs per request: Gatehouse with `tracing: false` (the same code path as
// when @opentelemetry/api is not installed), with the API installed but no SDK registered, and
// with an SDK recording every span (in-memory exporter). Two workloads through `gatehouse.fetch`
// and `gatehouse.protect`, in one process, interleaved rounds, median of the rounds.
// Run after `npm run build`: node bench/tracing.bench.mjs
import { trace } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { createBenchGatehouse, issueTokens } from './guard.bench.mjs'
import { record } from './report.mjs'

const { createTracing, NO_TRACING } = await import(
  new URL('../dist/ops/tracing.js', import.meta.url).href
)

const ROUNDS = 7
const PER_ROUND = 4000

async function setup(options) {
  const gh = await createBenchGatehouse(options)
  const [token] = await issueTokens(gh, 1)
  const mcp = gh.protect(async () => new Response('ok'))
  const health = () => gh.fetch(new Request('http://127.0.0.1:9/healthz'))
  const call = () =>
    mcp(
      new Request('http://127.0.0.1:9/mcp', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      }),
    )
  return { gh, health, call }
}

async function time(fn) {
  const start = performance.now()
  for (let i = 0; i < PER_ROUND; i++) await fn()
  return ((performance.now() - start) * 1000) / PER_ROUND // µs per request
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const off = await setup({ tracing: false })
const apiOnly = await setup({})
const exporter = new InMemorySpanExporter()
const sdk = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const results = {
  off: { health: [], call: [] },
  api: { health: [], call: [] },
  sdk: { health: [], call: [] },
}
for (let round = 0; round < ROUNDS; round++) {
  trace.disable()
  results.off.health.push(await time(off.health))
  results.off.call.push(await time(off.call))
  results.api.health.push(await time(apiOnly.health))
  results.api.call.push(await time(apiOnly.call))
  trace.setGlobalTracerProvider(sdk)
  results.sdk.health.push(await time(apiOnly.health))
  results.sdk.call.push(await time(apiOnly.call))
  exporter.reset()
}
trace.disable()
for (const [mode, label] of [
  ['off', 'tracing off (= API absent)'],
  ['api', 'API installed, no SDK'],
  ['sdk', 'SDK recording (in-memory)'],
]) {
  const h = median(results[mode].health)
  const c = median(results[mode].call)
  console.log(
    `${label.padEnd(28)} GET /healthz ${h.toFixed(2).padStart(7)} µs   guarded POST /mcp ${c.toFixed(2).padStart(7)} µs`,
  )
}
await off.gh.close()
await apiOnly.gh.close()

// For the chart: each mode against tracing off, per round (same moment, same load).
const perRound = (xs, base) => xs.map((x, r) => x / base[r])
for (const [mode, label] of [
  ['api', 'API installed, no SDK'],
  ['sdk', 'SDK recording (in-memory)'],
]) {
  for (const [workload, what] of [
    ['health', 'GET /healthz'],
    ['call', 'guarded POST /mcp'],
  ]) {
    const ratios = perRound(results[mode][workload], results.off[workload])
    record({
      bench: 'tracing',
      scenario: `${what}, ${label}`,
      ratio: median(ratios),
      ratios,
      baseline: 'the same request with tracing off (= API absent)',
      higherIsBetter: false,
    })
  }
}

// The wrapper alone: one span around an async no-op, per call.
const SPANS = 200_000
const work = async () => 1
async function perSpan(tracing) {
  const start = performance.now()
  for (let i = 0; i < SPANS; i++) await tracing.span('bench', {}, work)
  return ((performance.now() - start) * 1e6) / SPANS // ns
}
async function direct() {
  const start = performance.now()
  for (let i = 0; i < SPANS; i++) await work()
  return ((performance.now() - start) * 1e6) / SPANS
}
const withApi = await createTracing()
const wrapper = { direct: [], off: [], api: [], sdk: [] }
for (let round = 0; round < ROUNDS; round++) {
  trace.disable()
  wrapper.direct.push(await direct())
  wrapper.off.push(await perSpan(NO_TRACING))
  wrapper.api.push(await perSpan(withApi))
  trace.setGlobalTracerProvider(sdk)
  wrapper.sdk.push(await perSpan(withApi))
  exporter.reset()
}
trace.disable()
for (const [mode, label] of [
  ['off', 'tracing off'],
  ['api', 'API installed, no SDK'],
  ['sdk', 'SDK recording (in-memory)'],
]) {
  const ratios = perRound(wrapper[mode], wrapper.direct)
  record({
    bench: 'tracing',
    scenario: `one span around a no-op, ${label}`,
    ratio: median(ratios),
    ratios,
    baseline: 'the no-op called directly',
    higherIsBetter: false,
  })
}
console.log(
  `one span around an async no-op: direct call ${median(wrapper.direct).toFixed(0)} ns, ` +
    `tracing off ${median(wrapper.off).toFixed(0)} ns, API without SDK ${median(wrapper.api).toFixed(0)} ns, ` +
    `SDK recording ${median(wrapper.sdk).toFixed(0)} ns`,
)
