// What a bench's server child does besides serving (bench/flow-server.mjs,
// bench/adapter-server.mjs, bench/protect-server.mjs): listen on 127.0.0.1, print one JSON line
// { port }, answer 'cpu' over IPC with its own process.cpuUsage() (so a bench divides the server's
// CPU, not its own), and on 'close' drop its connections, run `close` and exit. `startChild` is the
// bench's side: start one on core 1 (where taskset exists) and ask it for its CPU.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'

const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0

/**
 * Starts `script` (a path) with `args` as a server child on core 1, with `env` added to this
 * process's environment. Resolves to its port, `cpu()` (its user + system CPU in µs) and `close()`.
 */
export async function startChild(script, args = [], env = {}) {
  const argv = [process.execPath, script, ...args]
  const [cmd, rest] = pinned ? ['taskset', ['-c', '1', ...argv]] : [argv[0], argv.slice(1)]
  const child = spawn(cmd, rest, {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  })
  const [line] = await once(child.stdout, 'data')
  const { port } = JSON.parse(String(line).split('\n')[0])
  const cpu = async () => {
    child.send('cpu')
    const [{ cpu: used }] = await once(child, 'message')
    return used.user + used.system
  }
  const close = async () => {
    child.send('close')
    await once(child, 'exit')
  }
  return { child, port, cpu, close }
}

export function serveChild(handler, close = async () => undefined) {
  const server = createServer(handler)
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
  })
  process.on('message', (message) => {
    if (message === 'cpu') process.send({ cpu: process.cpuUsage() })
    if (message === 'close') {
      server.closeAllConnections()
      server.close()
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    }
  })
}
