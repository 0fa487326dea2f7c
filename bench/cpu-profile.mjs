// Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): the functions with the most self time,
// and the share of time under a few subsystems, so a throughput profile reads in one screen.
//   node bench/cpu-profile.mjs <file.cpuprofile> [top]
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

export function summarizeProfile(file, { log = console.log, top = 25 } = {}) {
  const profile = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  // Self time per node from the sample intervals.
  const self = new Map()
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt)
    total += dt
  }
  const label = (n) => {
    const { functionName, url, lineNumber } = n.callFrame
    const short = url.includes('/node_modules/')
      ? url.replace(/^.*\/node_modules\//, '')
      : url.replace(/^.*\/(dist|bench)\//, '$1/')
    const where = url ? `${short}:${lineNumber + 1}` : ''
    return `${functionName || '(anonymous)'} ${where}`.trim()
  }
  const perFunction = new Map()
  for (const [id, t] of self) {
    const key = label(byId.get(id))
    perFunction.set(key, (perFunction.get(key) ?? 0) + t)
  }
  const idle = [...self]
    .filter(([id]) => byId.get(id).callFrame.functionName === '(idle)')
    .reduce((a, [, t]) => a + t, 0)
  const busy = total - idle
  log(
    `  ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy; top self time (share of busy):`,
  )
  for (const [key, t] of [...perFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (key.startsWith('(idle)')) continue
    log(`  ${((100 * t) / busy).toFixed(1).padStart(5)}%  ${key}`)
  }
  // Self time by where the sampled frame's code lives.
  const home = (n) => {
    const { url, functionName } = n.callFrame
    if (functionName === '(garbage collector)') return 'GC'
    if (!url) return 'native/V8 (writev, parser, builtins)'
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
    if (pkg) return pkg[1]
    if (url.startsWith('node:')) return 'node internals'
    if (url.includes('/dist/')) return 'gatehouse'
    if (url.includes('/bench/')) return 'bench'
    return 'other'
  }
  const shares = new Map()
  for (const [id, t] of self) {
    const n = byId.get(id)
    if (n.callFrame.functionName === '(idle)') continue
    const h = home(n)
    shares.set(h, (shares.get(h) ?? 0) + t)
  }
  log(
    `  self time by home: ${[...shares]
      .sort((a, b) => b[1] - a[1])
      .map(([h, t]) => `${h} ${((100 * t) / busy).toFixed(1)}%`)
      .join(', ')}`,
  )
  const gatehouse = [...perFunction]
    .filter(([k]) => k.includes(' dist/') && !k.includes('node_modules'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
  log(
    `  gatehouse functions: ${gatehouse.map(([k, t]) => `${k} ${((100 * t) / busy).toFixed(1)}%`).join('; ')}`,
  )
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  summarizeProfile(process.argv[2], { top: Number(process.argv[3] ?? 25) })
}
