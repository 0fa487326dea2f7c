/**
 * bench/chart.mjs through its command line, as `npm run bench` and a maintainer redrawing a chart
 * use it: a small synthetic results file in, one SVG per bench out. No benchmark runs. The SVG is
 * read back with a minimal XML reader (well-formedness: nesting, quoted attributes, no stray `<`
 * or `&`), then the rows, whiskers, run rings and target marks are checked against the figures,
 * positions included, so that a chart drawing the wrong thing fails here.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CHART = join(ROOT, 'bench', 'chart.mjs')
const HOSTILE = 'Gatehouse cold <cache> & "friends" \'quoted\''
const BASE = 'raw node:crypto RS256 verify'

const records = [
  // Two runs of a bench with a target met in one run only, a peer and a single-run row.
  {
    bench: 'demo',
    scenario: HOSTILE,
    ratio: 1.35,
    ratios: [1.3, 1.35, 1.5],
    baseline: BASE,
    target: { op: '<=', value: 1.3 },
    higherIsBetter: false,
    run: 1,
  },
  {
    bench: 'demo',
    scenario: 'jose, peer',
    ratio: 5.6,
    ratios: [5.5, 5.6, 5.8],
    baseline: BASE,
    run: 1,
  },
  {
    bench: 'demo',
    scenario: HOSTILE,
    ratio: 1.25,
    ratios: [1.2, 1.25, 1.28],
    baseline: BASE,
    target: { op: '<=', value: 1.3 },
    higherIsBetter: false,
    run: 2,
  },
  {
    bench: 'demo',
    scenario: 'jose, peer',
    ratio: 5.4,
    ratios: [5.3, 5.4, 5.9],
    baseline: BASE,
    run: 2,
  },
  {
    bench: 'demo',
    scenario: 'cache hit',
    ratio: 0.02,
    ratios: [0.02, 0.03],
    baseline: BASE,
    run: 2,
  },
  // A throughput bench: higher is better, one baseline per row.
  {
    bench: 'tp',
    scenario: 'protected',
    ratio: 0.93,
    ratios: [0.9, 0.93, 1.01],
    baseline: 'unprotected',
    target: { op: '>=', value: 0.95 },
    higherIsBetter: true,
    run: 1,
  },
  {
    bench: 'tp',
    scenario: 'gateway',
    ratio: 0.97,
    ratios: [0.92, 0.97, 1.01],
    baseline: 'direct',
    target: { op: '>=', value: 0.9 },
    higherIsBetter: true,
    run: 1,
  },
]

interface XMLElement {
  name: string
  attrs: Record<string, string>
  children: XMLElement[]
  text: string
}

const decode = (s: string) =>
  s.replace(/&(lt|gt|quot|apos|amp|#\d+);/g, (_, e: string) =>
    e === 'lt'
      ? '<'
      : e === 'gt'
        ? '>'
        : e === 'quot'
          ? '"'
          : e === 'apos'
            ? "'"
            : e === 'amp'
              ? '&'
              : String.fromCharCode(Number(e.slice(1))),
  )

/** Parses well-formed XML into elements; throws on anything a strict XML parser would refuse here. */
function parseXML(xml: string): XMLElement {
  const bareAmp = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/
  const token =
    /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)|(<)/g
  const root: XMLElement = { name: '#document', attrs: {}, children: [], text: '' }
  const stack = [root]
  for (const m of xml.matchAll(token)) {
    const [whole, closing, name, attrText, selfClosing, text, stray] = m
    const top = stack.at(-1)!
    if (stray !== undefined)
      throw new Error(`stray '<' at ${m.index}: ${xml.slice(m.index, m.index + 40)}`)
    if (text !== undefined) {
      if (bareAmp.test(text)) throw new Error(`bare '&' in text: ${text}`)
      if (stack.length === 1 && text.trim()) throw new Error('text outside the root element')
      top.text += decode(text)
      continue
    }
    if (name === undefined) continue // comment or processing instruction
    if (closing) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`)
      stack.pop()
      continue
    }
    const attrs: Record<string, string> = {}
    for (const a of (attrText ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
      const value = a[2] ?? a[3] ?? ''
      if (bareAmp.test(value)) throw new Error(`bare '&' in attribute ${a[1]}: ${whole}`)
      if (a[1]! in attrs) throw new Error(`attribute ${a[1]} twice: ${whole}`)
      attrs[a[1]!] = decode(value)
    }
    const element: XMLElement = { name, attrs, children: [], text: '' }
    if (stack.length === 1 && root.children.length) throw new Error('a second root element')
    top.children.push(element)
    if (!selfClosing) stack.push(element)
  }
  if (stack.length !== 1) throw new Error(`<${stack.at(-1)!.name}> never closed`)
  const [svg] = root.children
  if (!svg) throw new Error('no root element')
  return svg
}

function findAll(node: XMLElement, test: (e: XMLElement) => boolean): XMLElement[] {
  return node.children.flatMap((c) => [...(test(c) ? [c] : []), ...findAll(c, test)])
}
const hasClass = (e: XMLElement, c: string) => (e.attrs.class ?? '').split(/\s+/).includes(c)
const textOf = (e: XMLElement): string => e.text + e.children.map(textOf).join('')
const num = (e: XMLElement, attr: string) => Number(e.attrs[attr])

let outDir: string
let demo: XMLElement
let demoText: string
let tp: XMLElement

/**
 * Maps x positions back to ratios through the axis (logarithmic): the 1.00x baseline line and the
 * tick label farthest from it.
 */
function scaleOf(svg: XMLElement) {
  const base = num(findAll(svg, (e) => e.name === 'line' && hasClass(e, 'base'))[0]!, 'x1')
  const ticks = findAll(svg, (e) => e.name === 'text' && hasClass(e, 'tick')).map((e) => ({
    x: num(e, 'x'),
    value: Number(/^([\d.]+)x$/.exec(textOf(e))![1]),
  }))
  const far = ticks.sort((a, b) => Math.abs(b.x - base) - Math.abs(a.x - base))[0]!
  return (x: number) => far.value ** ((x - base) / (far.x - base))
}
/** Positions are rounded to 0.1 px: a ratio read back is within 0.02 of the figure. */
function expectRatio(actual: number, expected: number) {
  expect(Math.abs(actual - expected)).toBeLessThan(0.02)
}
const rowsOf = (svg: XMLElement) => findAll(svg, (e) => e.name === 'g' && hasClass(e, 'row'))

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-chart-'))
  const results = join(dir, 'results.jsonl')
  writeFileSync(results, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`)
  outDir = join(dir, 'out')
  execFileSync(process.execPath, [CHART, results, outDir], { cwd: ROOT })
  demoText = readFileSync(join(outDir, 'demo.svg'), 'utf8')
  demo = parseXML(demoText)
  tp = parseXML(readFileSync(join(outDir, 'tp.svg'), 'utf8'))
})

describe('bench/chart.mjs', () => {
  it('writes one well-formed SVG per bench, with its own background and a dark-mode style', () => {
    expect(readdirSync(outDir).sort()).toEqual(['demo.svg', 'tp.svg'])
    for (const svg of [demo, tp]) {
      expect(svg.name).toBe('svg')
      expect(svg.attrs.xmlns).toBe('http://www.w3.org/2000/svg')
      expect(findAll(svg, (e) => e.name === 'rect' && hasClass(e, 'bg'))).toHaveLength(1)
      expect(textOf(findAll(svg, (e) => e.name === 'style')[0]!)).toContain(
        'prefers-color-scheme: dark',
      )
    }
  })

  it('draws one row per scenario, in the order the bench recorded them', () => {
    expect(rowsOf(demo).map((r) => r.attrs['data-scenario'])).toEqual([
      HOSTILE,
      'jose, peer',
      'cache hit',
    ])
    expect(rowsOf(tp).map((r) => r.attrs['data-scenario'])).toEqual(['protected', 'gateway'])
  })

  it('escapes labels for XML and shows them unchanged', () => {
    expect(demoText).not.toContain('<cache>')
    expect(demoText).toContain(
      'Gatehouse cold &lt;cache&gt; &amp; &quot;friends&quot; &#39;quoted&#39;',
    )
    const [row] = rowsOf(demo)
    expect(findAll(row!, (e) => e.name === 'text').map(textOf)).toContain(HOSTILE)
  })

  it('puts the whisker on the min–max of every round of every run and the dot on the median of the runs', () => {
    const ratio = scaleOf(demo)
    const [hostile, jose] = rowsOf(demo)
    for (const [row, min, max, median] of [
      [hostile!, 1.2, 1.5, 1.3],
      [jose!, 5.3, 5.9, 5.5],
    ] as const) {
      const whisker = findAll(row, (e) => e.name === 'g' && hasClass(e, 'spread'))
      expect(whisker).toHaveLength(1)
      const [bar] = whisker[0]!.children
      expectRatio(ratio(num(bar!, 'x1')), min)
      expectRatio(ratio(num(bar!, 'x2')), max)
      const dot = findAll(row, (e) => e.name === 'circle' && hasClass(e, 'dot'))
      expect(dot).toHaveLength(1)
      expectRatio(ratio(num(dot[0]!, 'cx')), median)
    }
  })

  it('rings each run where a scenario ran more than once', () => {
    const rings = rowsOf(demo).map(
      (row) => findAll(row, (e) => e.name === 'circle' && hasClass(e, 'run')).length,
    )
    expect(rings).toEqual([2, 2, 0])
  })

  it('marks the target where one is given and says in how many runs it was met', () => {
    const ratio = scaleOf(demo)
    const targets = rowsOf(demo).map((row) =>
      findAll(row, (e) => e.name === 'line' && hasClass(e, 'target')),
    )
    expect(targets.map((t) => t.length)).toEqual([1, 0, 0])
    expectRatio(ratio(num(targets[0]![0]!, 'x1')), 1.3)
    const [hostile] = rowsOf(demo)
    expect(hasClass(hostile!, 'partial')).toBe(true)
    expect(textOf(hostile!)).toContain('≤1.30x: 1/2 runs')

    // Higher is better: 0.93 misses ≥0.95, 0.97 meets ≥0.90.
    const [protectedRow, gateway] = rowsOf(tp)
    expect(hasClass(protectedRow!, 'missed')).toBe(true)
    expect(textOf(protectedRow!)).toContain('≥0.95x: missed')
    expect(hasClass(gateway!, 'met')).toBe(true)
    expectRatio(scaleOf(tp)(num(findAll(gateway!, (e) => hasClass(e, 'target'))[0]!, 'x1')), 0.9)
  })

  it('names each row its baseline when a bench has several', () => {
    const sub = rowsOf(tp).map((row) =>
      findAll(row, (e) => e.name === 'text' && hasClass(e, 'muted')).map(textOf),
    )
    expect(sub).toEqual([['vs unprotected'], ['vs direct']])
    expect(textOf(demo)).toContain(`ratio to ${BASE} (1.00x)`)
  })

  it('refuses a results file with a broken line, naming the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-chart-'))
    const results = join(dir, 'broken.jsonl')
    writeFileSync(results, `${JSON.stringify(records[0])}\n{"bench": "demo", \n`)
    const run = spawnSync(process.execPath, [CHART, results, join(dir, 'out')], {
      encoding: 'utf8',
    })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('broken.jsonl:2: not a JSON line')
  })
})
