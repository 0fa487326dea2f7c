// `npm run bench`: every benchmark, each in its own process, each printing ratios against a
// baseline measured in the same process. `npm run bench -- guard` runs one.
import { spawnSync } from 'node:child_process'

const all = [
  'guard',
  'jwt',
  'token-cache',
  'signing',
  'throughput',
  'id-jag',
  'store',
  'gateway',
  'tracing',
  'flow',
]
const chosen = process.argv[2] ? [process.argv[2]] : all
for (const name of chosen) {
  if (!all.includes(name)) throw new Error(`unknown bench ${name}; one of ${all.join(', ')}`)
  const script = new URL(`./${name}.bench.mjs`, import.meta.url).pathname
  // Pinned to core 0 where taskset exists (the throughput bench puts its server on core 1).
  const pinned = spawnSync('taskset', ['-c', '0', 'true']).status === 0
  const [cmd, args] = pinned
    ? ['taskset', ['-c', '0', process.execPath, script]]
    : [process.execPath, [script]]
  const { status } = spawnSync(cmd, args, { stdio: 'inherit', timeout: 300_000 })
  if (status !== 0) process.exit(status ?? 1)
  console.log('')
}
