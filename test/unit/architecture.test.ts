/**
 * The module table is enforced: .dependency-cruiser.cjs fails a fixture tree with a bad import, a
 * cycle, a Node built-in in the core and a dynamic import of our own code, and src/ has no violation
 * beyond the documented baseline (.dependency-cruiser-known-violations.json).
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser'
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const configFile = `${root}.dependency-cruiser.cjs`

async function cruiseTree(baseDir: string, knownViolations?: IViolation[]): Promise<ICruiseResult> {
  const options = await extractDepcruiseOptions(configFile)
  const result = await cruise(
    ['src'],
    {
      ...options,
      baseDir,
      validate: true,
      ...(knownViolations ? { knownViolations } : {}),
      tsConfig: { fileName: `${root}tsconfig.json` },
    },
    { extensions: ['.ts', '.js'] },
  )
  if (typeof result.output === 'string') throw new Error('expected a cruise result object')
  return result.output
}

const describeViolation = (v: IViolation) =>
  `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' -> ')})` : ''}`

describe('module table (dependency-cruiser)', () => {
  it('fails a bad import, a cycle, a Node built-in in the core and a dynamic import', async () => {
    const result = await cruiseTree(`${root}test/fixtures/architecture`)
    const found = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`)
    // Exactly these: what the table allows (resource/good.ts importing jwt/) is not reported.
    expect(found.sort()).toEqual([
      'no-circular: src/config/first.ts -> src/config/second.ts',
      'no-dynamic-import-of-own-modules: src/resource/lazy.ts -> src/http/ok.ts',
      'runtime-neutral-core: src/http/uses-node.ts -> fs',
      'table-jwt: src/jwt/bad.ts -> src/oauth/endpoint.ts',
    ])
    expect(result.summary.error).toBe(4)
  }, 60_000)

  it('src/ has no violation beyond the known baseline, and the baseline is not stale', async () => {
    const known = JSON.parse(
      readFileSync(`${root}.dependency-cruiser-known-violations.json`, 'utf8'),
    ) as IViolation[]
    const result = await cruiseTree(root, known)
    const fresh = result.summary.violations.filter((v) => v.rule.severity !== 'ignore')
    expect(fresh.map(describeViolation)).toEqual([])
    // Each listed violation still exists: a fixed one must leave the baseline (npm run arch:baseline).
    expect(result.summary.ignore).toBe(known.length)
  }, 120_000)
})
