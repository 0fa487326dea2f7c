/**
 * Signing and verification cost per algorithm: jose (Web Crypto) against raw node:crypto.
 *
 * Figures are microseconds per operation, run one after another (latency, not throughput), on keys
 * imported once. Iterations are bounded by a count and a time budget per measurement, split over
 * interleaved rounds (jose and node:crypto back to back) so that each round gives a jose/node:crypto
 * ratio taken under the same load; the charts draw those ratios (Gatehouse issues with jose).
 *
 *   node bench/signing.bench.mjs [iterations] [maxMsPerMeasurement] [rounds]
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { pathToFileURL } from 'node:url'

import { SignJWT, exportJWK, generateKeyPair, jwtVerify } from 'jose'
import { median, record } from './report.mjs'

const ALGORITHMS = ['RS256', 'ES256', 'EdDSA']

/** node:crypto parameters that produce JWS-compatible signatures for each algorithm. */
const NODE_SIGN = {
  RS256: { digest: 'sha256', options: {} },
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { digest: null, options: {} },
}

/** Median µs per call of `fn` over up to `iterations` calls or `maxMs`, after a short warm-up. */
async function measure(fn, { iterations, maxMs }) {
  for (let i = 0; i < Math.min(50, iterations); i++) await fn()
  const samples = []
  const deadline = performance.now() + maxMs
  // Batches of 10 keep timer overhead out of the sub-10 µs figures.
  while (samples.length * 10 < iterations && performance.now() < deadline) {
    const start = performance.now()
    for (let i = 0; i < 10; i++) await fn()
    samples.push(((performance.now() - start) * 1000) / 10)
  }
  samples.sort((a, b) => a - b)
  return { median: samples[Math.floor(samples.length / 2)], ops: samples.length * 10 }
}

/**
 * Measures sign and verify for RS256, ES256 and EdDSA with jose and node:crypto.
 *
 * Defaults: 2,000 operations and 3 s per measurement, split over 5 rounds. Returns one row per
 * algorithm: µs per op (median of the rounds) and the per-round jose/node:crypto ratios.
 */
export async function runSigningBench({ iterations = 2000, maxMs = 3000, rounds = 5 } = {}) {
  const budget = { iterations: Math.max(10, iterations / rounds), maxMs: maxMs / rounds }
  const payload = {
    iss: 'https://as.example',
    sub: 'user-1',
    aud: 'https://mcp.example/mcp',
    client_id: 'client-1',
    scope: 'files:read files:write',
    jti: 'AAAAAAAAAAAAAAAAAAAAAA',
    gid: 'grant-1',
  }
  const rows = []
  for (const alg of ALGORITHMS) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
    const nodePrivate = createPrivateKey({ key: await exportJWK(privateKey), format: 'jwk' })
    const nodePublic = createPublicKey({ key: await exportJWK(publicKey), format: 'jwk' })
    const { digest, options } = NODE_SIGN[alg]

    const signJose = () =>
      new SignJWT(payload)
        .setProtectedHeader({ alg, kid: 'k1', typ: 'at+jwt' })
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey)
    const token = await signJose()
    const [header, body] = token.split('.')
    const data = Buffer.from(`${header}.${body}`)
    const signature = sign(digest, data, { key: nodePrivate, ...options })
    if (!verify(digest, data, { key: nodePublic, ...options }, signature)) {
      throw new Error(`${alg}: node:crypto signature does not verify`)
    }

    const ops = {
      joseSignUs: signJose,
      joseVerifyUs: () => jwtVerify(token, publicKey),
      nodeSignUs: () => sign(digest, data, { key: nodePrivate, ...options }),
      nodeVerifyUs: () => verify(digest, data, { key: nodePublic, ...options }, signature),
    }
    const samples = Object.fromEntries(Object.keys(ops).map((name) => [name, []]))
    for (let r = 0; r < rounds; r++) {
      for (const [name, fn] of Object.entries(ops)) {
        samples[name].push((await measure(fn, budget)).median)
      }
    }
    const perRound = (a, b) => samples[a].map((us, r) => us / samples[b][r])
    rows.push({
      alg,
      ...Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs)])),
      signRatios: perRound('joseSignUs', 'nodeSignUs'),
      verifyRatios: perRound('joseVerifyUs', 'nodeVerifyUs'),
    })
  }
  return { node: process.version, rows }
}

function printTable({ node, rows }) {
  const cell = (value) => value.toFixed(1).padStart(12)
  console.log(`signing bench, ${node}, µs per op (median)`)
  console.log(
    `${'alg'.padEnd(6)}${'jose sign'.padStart(12)}${'jose verify'.padStart(12)}` +
      `${'node sign'.padStart(12)}${'node verify'.padStart(12)}`,
  )
  for (const row of rows) {
    console.log(
      `${row.alg.padEnd(6)}${cell(row.joseSignUs)}${cell(row.joseVerifyUs)}` +
        `${cell(row.nodeSignUs)}${cell(row.nodeVerifyUs)}`,
    )
  }
}

/** For the chart: jose (what Gatehouse signs and verifies with) against raw node:crypto. */
function recordRatios({ rows }) {
  for (const row of rows) {
    for (const [op, ratios] of [
      ['sign', row.signRatios],
      ['verify', row.verifyRatios],
    ]) {
      record({
        bench: 'signing',
        scenario: `${row.alg} ${op}, jose`,
        ratio: median(ratios),
        ratios,
        baseline: 'raw node:crypto, same algorithm and operation',
        higherIsBetter: false,
      })
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [iterations, maxMs, rounds] = process.argv.slice(2).map(Number)
  const options = {}
  if (iterations > 0) options.iterations = iterations
  if (maxMs > 0) options.maxMs = maxMs
  if (rounds > 0) options.rounds = rounds
  const result = await runSigningBench(options)
  printTable(result)
  recordRatios(result)
}
