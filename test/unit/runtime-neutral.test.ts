import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const NODE_ONLY = /^(node:|express$|better-sqlite3$|ioredis$|fs$|path$|crypto$|http$)/

/** Every bare module specifier reachable from `entry` through relative imports. */
function reachableImports(entry: string): Map<string, string> {
  const seen = new Set<string>()
  const found = new Map<string, string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(
      /^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm,
    )) {
      const spec = m[1] ?? m[2]!
      if (/^import\s+type\s/.test(m[0].trim()) || /^export\s+type\s/.test(m[0].trim())) continue
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      else found.set(spec, file)
    }
  }
  visit(entry)
  return found
}

describe('runtime neutrality', () => {
  it('the public entry point reaches no Node-only module', () => {
    const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url))
    const imports = reachableImports(entry)
    const offenders = [...imports].filter(([spec]) => NODE_ONLY.test(spec))
    expect(offenders).toEqual([])
    expect([...imports.keys()].sort()).toEqual(expect.arrayContaining(['jose', 'zod']))
  })
})
