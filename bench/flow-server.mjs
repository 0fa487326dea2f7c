// A flow bench server (bench/flow.bench.mjs starts it as a child, pinned to its own core):
// `node bench/flow-server.mjs gatehouse-memory|gatehouse-sqlite|gatehouse-redis|sdk-demo [alg]`
// (FLOW_DIST=<another build's dist> to serve that build). Gatehouse is served through the Node
// adapter with `holdSmallBody` and `lightRequest`, as `gatehouse serve` serves it (FLOW_ADAPTER=default:
// with the adapter's defaults; a build without `lightRequest` ignores it).
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
  // As `gatehouse serve` serves `gatehouse.fetch`; FLOW_ADAPTER=default for the adapter's defaults.
  const fast =
    process.env.FLOW_ADAPTER === 'default' ? {} : { holdSmallBody: true, lightRequest: true }
  handler = build.toNodeHandler(gh.fetch, { baseUrl: 'http://127.0.0.1:9', ...fast })
  close = async () => {
    await gh.close()
    await cleanup()
  }
}
serveChild(handler, close)
