// `npm run bench`: every benchmark, each printing ratios against a baseline measured in the same run.
import { runGuardBench } from './guard.bench.mjs'
import { runThroughputBench } from './throughput.bench.mjs'

const only = process.argv[2]
const results = {}
if (!only || only === 'guard') results.guard = await runGuardBench()
if (!only || only === 'throughput') results.throughput = await runThroughputBench()
if (!only || only === 'jwt') {
  const { runJwtBench } = await import('./jwt.bench.mjs')
  results.jwt = await runJwtBench()
}
if (!only || only === 'signing') {
  const { runSigningBench } = await import('./signing.bench.mjs')
  results.signing = await runSigningBench()
}
if (process.env.BENCH_JSON) console.log(JSON.stringify(results))
