// Protected vs unprotected requests per second on the same route, one server process, load from
// this process with autocannon. Bounded: a few seconds per round, then it stops the server.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import autocannon from 'autocannon'

function run(url, headers, seconds) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, method: 'POST', headers, connections: 16, duration: seconds, body: '{}' },
      (err, result) => (err ? reject(err) : resolve(result)),
    )
  })
}

export async function runThroughputBench({ log = console.log, seconds = 4, rounds = 3 } = {}) {
  const child = spawn(process.execPath, [new URL('./server.mjs', import.meta.url).pathname], {
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
      const o = await run(`${base}/open`, { 'content-type': 'application/json' }, seconds)
      const g = await run(`${base}/mcp`, auth, seconds)
      if (g.non2xx > 0 || o.non2xx > 0) throw new Error('bench requests failed')
      open.push(o.requests.average)
      guarded.push(g.requests.average)
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    const figures = {
      openRps: median(open),
      protectedRps: median(guarded),
      ratio: median(guarded) / median(open),
    }
    log('throughput (node:http, 16 connections, median of rounds)')
    log(`  unprotected   ${figures.openRps.toFixed(0)} req/s`)
    log(
      `  protected     ${figures.protectedRps.toFixed(0)} req/s   ${figures.ratio.toFixed(3)}x unprotected`,
    )
    return figures
  } finally {
    child.kill('SIGTERM')
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runThroughputBench()
