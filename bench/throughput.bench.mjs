// Protected vs unprotected requests per second on the same route, one server process, load from
// this process with autocannon. Bounded: a few seconds per round, then it stops the server.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'

function hasTaskset() {
  return spawnSync('taskset', ['-c', '0', 'true']).status === 0
}

function run(url, headers, seconds) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, method: 'POST', headers, connections: 16, duration: seconds, body: '{}' },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
  })
}

export async function runThroughputBench({ log = console.log, seconds = 3, rounds = 7 } = {}) {
  // The server gets core 1 and the load generator core 0 (when taskset exists), so the two do
  // not take turns on one core and the ratio measures the server alone.
  const server = new URL('./server.mjs', import.meta.url).pathname
  const [cmd, args] = hasTaskset()
    ? ['taskset', ['-c', '1', process.execPath, server]]
    : [process.execPath, [server]]
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    const [line] = await once(child.stdout, 'data')
    const { port, token } = JSON.parse(String(line).split('\n')[0])
    const base = `http://127.0.0.1:${port}`
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    // Warm-up: the server's JIT and caches settle before anything is counted.
    await run(`${base}/open`, { 'content-type': 'application/json' }, 2)
    await run(`${base}/mcp`, auth, 2)
    const open = []
    const guarded = []
    for (let r = 0; r < rounds; r++) {
      // Alternate which route goes first, so warm-up and drift favour neither.
      const order = r % 2 === 0 ? ['open', 'guarded'] : ['guarded', 'open']
      for (const which of order) {
        const result =
          which === 'open'
            ? await run(`${base}/open`, { 'content-type': 'application/json' }, seconds)
            : await run(`${base}/mcp`, auth, seconds)
        if (result.non2xx > 0) throw new Error('bench requests failed')
        ;(which === 'open' ? open : guarded).push(result.requests.average)
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    // The ratio is taken within each round (the two runs back to back), then the median.
    const ratios = guarded.map((g, i) => g / open[i])
    const figures = {
      openRps: median(open),
      protectedRps: median(guarded),
      ratio: median(ratios),
      ratios,
    }
    log('throughput (node:http, 16 connections, median of rounds)')
    log(`  unprotected   ${figures.openRps.toFixed(0)} req/s`)
    log(
      `  protected     ${figures.protectedRps.toFixed(0)} req/s   ${figures.ratio.toFixed(3)}x unprotected`,
    )
    log(`  per-round ratios: ${ratios.map((r) => r.toFixed(2)).join(' ')}`)
    return figures
  } finally {
    child.kill('SIGTERM')
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runThroughputBench()
