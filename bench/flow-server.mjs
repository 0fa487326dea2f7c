// A flow bench server (bench/flow.bench.mjs starts it as a child, pinned to its own core):
// `node bench/flow-server.mjs gatehouse-memory|gatehouse-sqlite|gatehouse-redis|sdk-demo [alg]`.
// Prints one JSON line { port } and serves until told 'close' over IPC; answers 'cpu' over IPC
// with its own process.cpuUsage(), so the bench divides the server's CPU, not its own, by flows.
import { createServer } from 'node:http'
import { createFlowGatehouse, createSdkDemo, openStore } from './flow-setup.mjs'

const { toNodeHandler } = await import(new URL('../dist/adapters/node.js', import.meta.url).href)
const [kind, alg] = process.argv.slice(2)

let handler
let close = async () => undefined
if (kind === 'sdk-demo') {
  handler = await createSdkDemo()
} else {
  const { store, cleanup } = await openStore(kind.replace('gatehouse-', ''))
  const gh = await createFlowGatehouse(store, alg ? { signingAlgorithm: alg } : {})
  handler = toNodeHandler(gh.fetch, { baseUrl: 'http://127.0.0.1:9' })
  close = async () => {
    await gh.close()
    await cleanup()
  }
}
const server = createServer(handler)
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
})
process.on('message', (message) => {
  if (message === 'cpu') process.send({ cpu: process.cpuUsage() })
  if (message === 'close') {
    server.closeAllConnections?.()
    server.close()
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
})
