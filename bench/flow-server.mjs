// A flow bench server (bench/flow.bench.mjs starts it as a child, pinned to its own core):
// `node bench/flow-server.mjs gatehouse-memory|gatehouse-sqlite|gatehouse-redis|sdk-demo [alg]`
// (FLOW_DIST=<another build's dist> to serve that build).
// Prints one JSON line { port } and serves until told 'close' over IPC; answers 'cpu' over IPC
// with its own process.cpuUsage(), so the bench divides the server's CPU, not its own, by flows.
import { pathToFileURL } from 'node:url'
import { serveChild } from './child-server.mjs'
import { createSdkDemo, loadBuild } from './flow-setup.mjs'

// FLOW_DIST: another build's dist/ (the bench's BASELINE_DIST).
const build = await loadBuild(
  process.env.FLOW_DIST ? pathToFileURL(`${process.env.FLOW_DIST}/`) : undefined,
)
const [kind, alg] = process.argv.slice(2)

let handler
let close = async () => undefined
if (kind === 'sdk-demo') {
  handler = await createSdkDemo()
} else {
  const { store, cleanup } = await build.openStore(kind.replace('gatehouse-', ''))
  const gh = await build.createFlowGatehouse(store, alg ? { signingAlgorithm: alg } : {})
  handler = build.toNodeHandler(gh.fetch, { baseUrl: 'http://127.0.0.1:9' })
  close = async () => {
    await gh.close()
    await cleanup()
  }
}
serveChild(handler, close)
