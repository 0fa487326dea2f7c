// `npm run bench`: every benchmark, each in its own process, each printing ratios against a
// baseline measured in the same process. `npm run bench -- guard` runs one (several names run
// several); `--runs N` runs the chosen benches N times over, because a target counts as met only
// when it holds run after run, not in one lucky run.
//
// Every bench's `record()` calls (bench/report.mjs) go to a fresh bench/results/<time>.jsonl
// (git-ignored), each line tagged with its run; afterwards bench/chart.mjs draws
// docs/bench/<bench>.svg from it. `node bench/chart.mjs <that file>` redraws without rerunning.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { readResults, writeCharts } from './chart.mjs'

const all = [
  'guard',
  'jwt',
  'token-cache',
  'signing',
  'throughput',
  'protect',
  'id-jag',
  'store',
  'gateway',
  'adapter',
  'tracing',
  'flow',
]

function usage(message) {
  console.error(`${message}\nusage: node bench/run.mjs [bench ...] [--runs N]`)
  process.exit(2)
}

function parseArgs(argv) {
  const names = []
  let runs = 1
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const inline = /^--runs=(.*)$/.exec(arg)
    if (arg === '--runs' || inline) {
      const value = inline ? inline[1] : argv[++i]
      runs = Number(value)
      if (!Number.isInteger(runs) || runs < 1) usage('--runs needs a whole number >= 1')
    } else if (arg.startsWith('-')) {
      usage(`unknown option ${arg}`)
    } else {
      names.push(arg)
    }
  }
  return { names, runs }
}

const { names, runs } = parseArgs(process.argv.slice(2))
const script = (name) => fileURLToPath(new URL(`./${name}.bench.mjs`, import.meta.url))
for (const name of names) {
  if (!all.includes(name) || !existsSync(script(name))) {
    usage(`unknown bench ${name}; one of ${all.filter((n) => existsSync(script(n))).join(', ')}`)
  }
}
// Benches listed here whose script is not in this checkout yet are skipped in a full run.
const chosen = names.length ? names : all.filter((name) => existsSync(script(name)))

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
mkdirSync(resultsDir, { recursive: true })
const results = `${resultsDir}${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`
writeFileSync(results, '')

// Pinned to core 0 where taskset exists (the throughput bench puts its server on core 1).
const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0
for (let run = 1; run <= runs; run++) {
  for (const name of chosen) {
    if (runs > 1) console.log(`--- run ${run} of ${runs}: ${name}`)
    const [cmd, args] = pinned
      ? ['taskset', ['-c', '0', process.execPath, script(name)]]
      : [process.execPath, [script(name)]]
    const { status } = spawnSync(cmd, args, {
      stdio: 'inherit',
      timeout: 300_000,
      env: { ...process.env, BENCH_RESULTS: results, BENCH_RUN: String(run) },
    })
    if (status !== 0) {
      // No charts from a partial run: they would replace the committed ones with fewer figures.
      console.error(`${name} failed (status ${status}); figures so far in ${results}`)
      process.exit(status ?? 1)
    }
    console.log('')
  }
}

const records = readResults(results)
console.log(`results: ${results} (${records.length} figures)`)
for (const path of writeCharts(records)) console.log(`chart: ${path}`)
