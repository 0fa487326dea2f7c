// One place where a benchmark records its figures for the charts. Every bench prints its table as
// before and also calls `record(...)`; when `npm run bench` runs it, BENCH_RESULTS names a JSON-lines
// file that `bench/run.mjs` reads afterwards to draw docs/bench/*.svg. Run alone, it records nothing.
import { appendFileSync } from 'node:fs'

/**
 * Records one scenario's figure.
 * - `bench`: the script's short name (`guard`, `throughput`, ...).
 * - `scenario`: a label a reader understands ("own-token verify, cold").
 * - `ratio`: the median of the per-round ratios against this scenario's baseline.
 * - `ratios`: the per-round ratios (the spread the chart draws).
 * - `baseline`: what 1.00x is ("raw node:crypto RS256 verify").
 * - `target`: optional { op: '>=' | '<=', value } from the issue.
 * - `higherIsBetter`: whether a larger ratio is better (throughput) or worse (cost).
 * Each line also carries `run` (BENCH_RUN, set by `bench/run.mjs --runs N`; 1 otherwise), the Node
 * version and the time, so the charts can show the spread between runs.
 */
export function record({
  bench,
  scenario,
  ratio,
  ratios = [ratio],
  baseline,
  target,
  higherIsBetter,
}) {
  const file = process.env.BENCH_RESULTS
  if (!file) return
  const entry = {
    bench,
    scenario,
    ratio,
    ratios,
    baseline,
    target,
    higherIsBetter,
    run: Number(process.env.BENCH_RUN ?? 1),
    node: process.version,
    at: new Date().toISOString(),
  }
  appendFileSync(file, `${JSON.stringify(entry)}\n`)
}

/** The median of a list of numbers (the middle one; the mean of the two middle ones when even). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
