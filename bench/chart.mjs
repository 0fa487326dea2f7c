// Draws docs/bench/<bench>.svg from the JSON lines that `record()` (bench/report.mjs) writes: one
// row per scenario, the median ratio as a dot, the min–max over rounds and runs as a whisker, each
// run's median as a ring, a line at 1.00x (the scenario's baseline) and a mark at the target where
// the issue gives one. `npm run bench` calls it after the benches; to redraw without rerunning:
//
//   node bench/chart.mjs bench/results/<file>.jsonl [outDir=docs/bench]
//
// Hand-written SVG, no chart library: the chart is a few dozen lines, circles and labels (about
// 7-8 KB per bench), node_modules holds no chart package, and adding a dependency for this would be
// heavier than the code. The SVG carries its own background and a prefers-color-scheme style, so
// it reads on GitHub in light and dark mode. Every text is escaped for XML; test/bench/chart.test.ts
// reads the output back.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { median } from './report.mjs'

const WIDTH = 820
const PAD = 16
const ROW = 26
const VALUE_COLUMN = 170
const CHAR = 6.4 // average width of a 12 px sans-serif character, for the label column
const MAX_LABEL = 56

const STYLE = `
  text { font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 12px; fill: #1f2328 }
  .bg { fill: #ffffff } .stripe { fill: #f6f8fa }
  .title { font-size: 14px; font-weight: 600 } .muted { fill: #59636e; font-size: 11px }
  .grid { stroke: #d1d9e0; stroke-width: 1 } .base { stroke: #1f2328; stroke-width: 1.5 }
  .whisker { stroke: #59636e; stroke-width: 1.5 } .run { fill: none; stroke: #59636e; stroke-width: 1.2 }
  .target { stroke: #8250df; stroke-width: 2; stroke-dasharray: 3 2 }
  .dot.met { fill: #1a7f37 } .dot.partial { fill: #9a6700 } .dot.missed { fill: #cf222e } .dot.none { fill: #0969da }
  .verdict.met { fill: #1a7f37 } .verdict.partial { fill: #9a6700 } .verdict.missed { fill: #cf222e }
  @media (prefers-color-scheme: dark) {
    text { fill: #e6edf3 } .bg { fill: #0d1117 } .stripe { fill: #151b23 } .muted { fill: #9198a1 }
    .grid { stroke: #3d444d } .base { stroke: #e6edf3 } .whisker { stroke: #9198a1 } .run { stroke: #9198a1 }
    .target { stroke: #ab7df8 }
    .dot.met { fill: #3fb950 } .dot.partial { fill: #d29922 } .dot.missed { fill: #f85149 } .dot.none { fill: #4493f8 }
    .verdict.met { fill: #3fb950 } .verdict.partial { fill: #d29922 } .verdict.missed { fill: #f85149 }
  }`

/** Text and attribute values for XML: the five special characters, and no control characters. */
export function escapeXml(value) {
  return (
    String(value)
      // XML 1.0 forbids these characters even escaped.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&#39;')
  )
}

/** Reads a results file: one JSON object per line; names the line of a broken one. */
export function readResults(file) {
  const records = []
  const lines = readFileSync(file, 'utf8').split('\n')
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue
    let entry
    try {
      entry = JSON.parse(line)
    } catch {
      throw new Error(`${file}:${i + 1}: not a JSON line`)
    }
    if (typeof entry?.bench !== 'string' || typeof entry.scenario !== 'string') {
      throw new Error(`${file}:${i + 1}: a record needs "bench" and "scenario"`)
    }
    records.push(entry)
  }
  return records
}

const finite = (xs) => xs.filter((x) => typeof x === 'number' && Number.isFinite(x))

function meets(value, target) {
  switch (target.op) {
    case '>=':
      return value >= target.value
    case '>':
      return value > target.value
    case '<=':
      return value <= target.value
    case '<':
      return value < target.value
    default:
      throw new Error(`unknown target op ${JSON.stringify(target.op)}`)
  }
}

/**
 * Groups records into rows, bench by bench, scenarios in the order they first appear. A row's
 * figure is the median of its runs' ratios (each already a median of rounds); its spread is the
 * min–max of every round of every run; `met` counts the runs whose ratio meets the target.
 */
export function summarize(records) {
  const benches = new Map()
  for (const r of records) {
    if (!benches.has(r.bench)) benches.set(r.bench, new Map())
    const rows = benches.get(r.bench)
    if (!rows.has(r.scenario)) rows.set(r.scenario, [])
    rows.get(r.scenario).push(r)
  }
  const result = new Map()
  for (const [bench, rows] of benches) {
    result.set(
      bench,
      [...rows].map(([scenario, entries]) => {
        const last = entries.at(-1)
        const runs = finite(entries.map((e) => e.ratio))
        const all = finite([...runs, ...entries.flatMap((e) => e.ratios ?? [])])
        const target = last.target && Number.isFinite(last.target.value) ? last.target : undefined
        const met = target ? runs.filter((v) => meets(v, target)).length : undefined
        return {
          scenario,
          baseline: entries[0].baseline,
          higherIsBetter: last.higherIsBetter,
          target,
          runs,
          ratio: runs.length ? median(runs) : undefined,
          min: all.length ? Math.min(...all) : undefined,
          max: all.length ? Math.max(...all) : undefined,
          met,
          status:
            !target || !runs.length
              ? 'none'
              : met === runs.length
                ? 'met'
                : met
                  ? 'partial'
                  : 'missed',
          node: last.node,
          at: last.at,
        }
      }),
    )
  }
  return result
}

// The axis is logarithmic: ratios are multiplicative (2x and 0.5x sit as far from 1.00x), and one
// chart holds a cache hit at 0.02x, a cold verify at 1.3x and a peer at 5x; on a linear axis the
// gap between 1.00x and a 1.30x target would be a few pixels. Ratios below FLOOR sit at the edge.
const FLOOR = 0.001

/**
 * Tick values between `lo` and `hi` on a plot `width` px wide: the finest of 1-1.5-2-3-5-7, 1-2-5,
 * 1-3 or 1 per decade whose labels fit; linear steps when the range is too narrow for those.
 */
function ticks(lo, hi, width) {
  const perDecade = (steps) => {
    const out = []
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of steps) {
        const v = Number((m * 10 ** e).toPrecision(6))
        if (v >= lo && v <= hi) out.push(v)
      }
    }
    return out
  }
  const sets = [[1, 1.5, 2, 3, 5, 7], [1, 2, 5], [1, 3], [1]].map(perDecade)
  if (sets[0].length >= 4) return sets.find((t) => t.length * 44 <= width) ?? sets[3]
  const raw = (hi - lo) / 5
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((v) => v >= raw)
  const out = []
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(Number(v.toPrecision(6)))
  return out
}

const fmt = (v) => `${v >= 10 ? v.toFixed(1) : v >= 0.1 ? v.toFixed(2) : Number(v.toPrecision(2))}x`
const fmtTick = (v) => `${Number(v.toPrecision(3))}x`
const opText = { '>=': '≥', '>': '>', '<=': '≤', '<': '<' }

function shorten(label) {
  return label.length > MAX_LABEL ? `${label.slice(0, MAX_LABEL - 1)}…` : label
}

/** One bench's chart as an SVG document. */
export function renderChart(bench, rows) {
  const baselines = [...new Set(rows.map((r) => r.baseline).filter(Boolean))]
  const oneBaseline = baselines.length <= 1
  const directions = [...new Set(rows.map((r) => r.higherIsBetter).filter((d) => d !== undefined))]
  const runCount = Math.max(...rows.map((r) => r.runs.length), 0)
  const rowHeight = oneBaseline ? ROW : ROW + 12

  const labels = rows.map((r) => shorten(r.scenario))
  const sublabels = rows.map((r) => (oneBaseline ? '' : shorten(`vs ${r.baseline ?? '?'}`)))
  const longest = Math.max(...labels.map((l) => l.length), ...sublabels.map((l) => l.length * 0.92))
  const labelWidth = Math.min(Math.max(longest * CHAR + 12, 140), 360)
  const plotLeft = PAD + labelWidth
  const plotRight = WIDTH - PAD - VALUE_COLUMN
  const top = 62
  const plotBottom = top + rows.length * rowHeight
  const height = plotBottom + 86

  const extent = [1, ...rows.flatMap((r) => [r.min, r.max, r.target?.value])].filter(
    Number.isFinite,
  )
  const lo = Math.max(FLOOR, Math.min(...extent) / 1.15)
  const hi = Math.max(...extent) * 1.15
  const x = (v) =>
    plotLeft +
    ((Math.log(Math.max(v, lo)) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) *
      (plotRight - plotLeft)
  const n = (v) => Number(v.toFixed(1))

  const out = []
  const title = oneBaseline
    ? `${bench}: ratio to ${baselines[0] ?? 'the baseline'} (1.00x)`
    : `${bench}: ratio to each row's baseline (1.00x)`
  const direction =
    directions.length === 1 ? (directions[0] ? 'higher is better' : 'lower is better') : ''
  const subtitle = [
    runCount > 1 ? `dot: median of ${runCount} runs` : 'dot: median of rounds',
    'whisker: min–max over rounds and runs',
    'log scale',
    runCount > 1 ? 'ring: one run' : '',
    direction,
  ]
    .filter(Boolean)
    .join(' · ')
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeXml(title)}">`,
    `<title>${escapeXml(title)}</title>`,
    `<style>${STYLE}\n</style>`,
    `<rect class="bg" x="0" y="0" width="${WIDTH}" height="${height}" rx="6"/>`,
    `<text class="title" x="${PAD}" y="24">${escapeXml(title)}</text>`,
    `<text class="muted" x="${PAD}" y="42">${escapeXml(subtitle)}</text>`,
  )

  // Stripes first, then the grid over them, then the rows.
  rows.forEach((_, i) => {
    if (i % 2 === 0) {
      out.push(
        `<rect class="stripe" x="${PAD / 2}" y="${top + i * rowHeight}" width="${WIDTH - PAD}" height="${rowHeight}"/>`,
      )
    }
  })
  for (const v of ticks(lo, hi, plotRight - plotLeft)) {
    out.push(
      `<line class="grid" x1="${n(x(v))}" y1="${top}" x2="${n(x(v))}" y2="${plotBottom}"/>`,
      `<text class="muted tick" x="${n(x(v))}" y="${plotBottom + 14}" text-anchor="middle">${fmtTick(v)}</text>`,
    )
  }

  rows.forEach((row, i) => {
    const y0 = top + i * rowHeight
    const cy = n(y0 + rowHeight / 2)
    out.push(`<g class="row ${row.status}" data-scenario="${escapeXml(row.scenario)}">`)
    const fullLabel = row.scenario === labels[i] ? '' : `<title>${escapeXml(row.scenario)}</title>`
    const labelY = oneBaseline ? cy + 4 : cy - 2
    out.push(
      `<text x="${n(plotLeft - 10)}" y="${n(labelY)}" text-anchor="end">${fullLabel}${escapeXml(labels[i])}</text>`,
    )
    if (!oneBaseline) {
      out.push(
        `<text class="muted" x="${n(plotLeft - 10)}" y="${n(cy + 11)}" text-anchor="end">${escapeXml(sublabels[i])}</text>`,
      )
    }
    if (row.ratio === undefined) {
      out.push(
        `<text class="muted" x="${n(plotRight + 10)}" y="${n(cy + 4)}">no figure</text>`,
        '</g>',
      )
      return
    }
    if (row.target) {
      const tx = n(x(row.target.value))
      out.push(
        `<line class="target" x1="${tx}" y1="${n(y0 + 3)}" x2="${tx}" y2="${n(y0 + rowHeight - 3)}"><title>target ${escapeXml(opText[row.target.op] ?? row.target.op)} ${fmt(row.target.value)}</title></line>`,
      )
    }
    const x1 = n(x(row.min))
    const x2 = n(x(row.max))
    out.push(
      `<g class="spread"><line class="whisker" x1="${x1}" y1="${cy}" x2="${x2}" y2="${cy}"/>` +
        `<line class="whisker" x1="${x1}" y1="${cy - 5}" x2="${x1}" y2="${cy + 5}"/>` +
        `<line class="whisker" x1="${x2}" y1="${cy - 5}" x2="${x2}" y2="${cy + 5}"/></g>`,
    )
    if (row.runs.length > 1) {
      for (const v of row.runs) out.push(`<circle class="run" cx="${n(x(v))}" cy="${cy}" r="3.5"/>`)
    }
    out.push(
      `<circle class="dot ${row.status}" cx="${n(x(row.ratio))}" cy="${cy}" r="5"><title>${escapeXml(`${row.scenario}: ${fmt(row.ratio)} (${fmt(row.min)}–${fmt(row.max)})`)}</title></circle>`,
    )
    let value = `<tspan font-weight="600">${fmt(row.ratio)}</tspan>`
    if (row.target) {
      const goal = `${opText[row.target.op] ?? row.target.op}${fmt(row.target.value)}`
      const verdict =
        row.runs.length > 1 ? `${row.met}/${row.runs.length} runs` : row.met ? 'met' : 'missed'
      value += ` <tspan class="verdict ${row.status}" font-size="11">${escapeXml(`${goal}: ${verdict}`)}</tspan>`
    }
    out.push(
      `<text class="value" x="${n(plotRight + 10)}" y="${n(cy + 4)}">${value}</text>`,
      '</g>',
    )
  })

  // The baseline, drawn last so that it stays visible over the stripes.
  const bx = n(x(1))
  out.push(
    `<line class="base" x1="${bx}" y1="${top - 6}" x2="${bx}" y2="${plotBottom}"/>`,
    `<text class="muted" x="${bx}" y="${top - 10}" text-anchor="middle">1.00x</text>`,
  )

  // Legend and provenance.
  const ly = plotBottom + 38
  let lx = PAD
  const legend = (glyph, text) => {
    out.push(
      glyph(lx),
      `<text class="muted" x="${lx + 16}" y="${ly + 4}">${escapeXml(text)}</text>`,
    )
    lx += 16 + text.length * 6 + 18
  }
  legend((at) => `<circle class="dot none" cx="${at + 5}" cy="${ly}" r="5"/>`, 'median ratio')
  legend(
    (at) =>
      `<g><line class="whisker" x1="${at}" y1="${ly}" x2="${at + 12}" y2="${ly}"/><line class="whisker" x1="${at}" y1="${ly - 4}" x2="${at}" y2="${ly + 4}"/><line class="whisker" x1="${at + 12}" y1="${ly - 4}" x2="${at + 12}" y2="${ly + 4}"/></g>`,
    'min–max',
  )
  if (runCount > 1)
    legend((at) => `<circle class="run" cx="${at + 5}" cy="${ly}" r="3.5"/>`, 'one run')
  if (rows.some((r) => r.target)) {
    legend(
      (at) => `<line class="target" x1="${at + 5}" y1="${ly - 7}" x2="${at + 5}" y2="${ly + 7}"/>`,
      'target (green: met in every run, amber: in some, red: in none)',
    )
  }
  const at = rows
    .map((r) => r.at)
    .filter(Boolean)
    .sort()
  const nodes = [...new Set(rows.map((r) => r.node).filter(Boolean))]
  const provenance = [
    `bench/${bench}.bench.mjs`,
    `${runCount} run${runCount === 1 ? '' : 's'}`,
    nodes.length ? `Node ${nodes.join(', ')}` : '',
    at.length ? `recorded ${at.at(-1).slice(0, 10)}` : '',
    'regenerate: npm run bench -- --runs 3',
  ]
    .filter(Boolean)
    .join(' · ')
  out.push(
    `<text class="muted" x="${PAD}" y="${ly + 26}">${escapeXml(provenance)}</text>`,
    '</svg>',
  )
  return `${out.join('\n')}\n`
}

/** Writes `<outDir>/<bench>.svg` for every bench in the records; returns the paths written. */
export function writeCharts(
  records,
  outDir = fileURLToPath(new URL('../docs/bench/', import.meta.url)),
) {
  mkdirSync(outDir, { recursive: true })
  const written = []
  for (const [bench, rows] of summarize(records)) {
    const file = join(outDir, `${bench.replace(/[^A-Za-z0-9_-]/g, '_')}.svg`)
    writeFileSync(file, renderChart(bench, rows))
    written.push(file)
  }
  return written
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, outDir] = process.argv.slice(2)
  if (!file) {
    console.error('usage: node bench/chart.mjs <results.jsonl> [outDir=docs/bench]')
    process.exit(2)
  }
  try {
    for (const path of writeCharts(readResults(file), outDir)) console.log(`wrote ${path}`)
  } catch (error) {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  }
}
