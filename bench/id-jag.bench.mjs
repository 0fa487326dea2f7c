// The SEP-990 exchange's cost: POST /token with an ID-JAG, end to end through `gatehouse.fetch`
// (client authentication, every ID-JAG check, the jti claim in the store, a grant, an RS256 access
// token), against the irreducible crypto of the same exchange run in the same process: one jose
// ES256 verify of the ID-JAG plus one node:crypto RS256 signature of an access token.
// Run after `npm run build`: node bench/id-jag.bench.mjs [exchanges] [rounds]
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto'
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose'
import { median, record } from './report.mjs'

const dist = new URL('../dist/', import.meta.url)
const { createGatehouse } = await import(new URL('index.js', dist).href)
const { createMemoryStore } = await import(new URL('storage/memory.js', dist).href)
const { nodeSignatureVerifier } = await import(new URL('adapters/node.js', dist).href)

const ISSUER = 'http://127.0.0.1:9'
const RESOURCE = `${ISSUER}/mcp`
const IDP = 'https://idp.bench'
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
const SECRET = 'bench-client-secret-that-is-long-enough'
const exchanges = Number(process.argv[2] ?? 1000)
const rounds = Number(process.argv[3] ?? 5)

const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }
const gh = await createGatehouse({
  config: {
    issuer: ISSUER,
    secret: 'b'.repeat(32),
    resources: [{ url: RESOURCE, scopes: ['mcp:read'] }],
    clients: [{ clientId: 'agent', clientSecret: SECRET, grantTypes: [JWT_BEARER] }],
    identityAssertion: { trustedIssuers: [{ issuer: IDP, jwks: { keys: [jwk] } }] },
  },
  store: createMemoryStore(),
  signatureVerifier: nodeSignatureVerifier,
})
const authorization = `Basic ${Buffer.from(`agent:${SECRET}`).toString('base64')}`

function mint() {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({
    sub: 'u1',
    client_id: 'agent',
    resource: RESOURCE,
    scope: 'mcp:read',
    jti: randomUUID(),
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'oauth-id-jag+jwt' })
    .setIssuer(IDP)
    .setAudience(ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(privateKey)
}

async function exchange(assertion) {
  const res = await gh.fetch(
    new Request(`${ISSUER}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
      body: new URLSearchParams({ grant_type: JWT_BEARER, assertion }).toString(),
    }),
  )
  if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${await res.text()}`)
  await res.arrayBuffer()
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const atBody = Buffer.from('eyJhbGciOiJSUzI1NiJ9.' + 'x'.repeat(400))
async function baseline(assertion) {
  await jwtVerify(assertion, publicKey, { issuer: IDP, audience: ISSUER })
  sign('sha256', atBody, rsa.privateKey)
}

async function perOp(fn, list) {
  const start = performance.now()
  for (const item of list) await fn(item)
  return ((performance.now() - start) * 1000) / list.length
}

console.log(`ID-JAG exchange: ${exchanges} exchanges per round, ${rounds} rounds (µs per exchange)`)
const ratios = []
for (let round = 0; round < rounds; round++) {
  const jags = await Promise.all(Array.from({ length: exchanges }, mint))
  const base = await perOp(baseline, jags)
  const ours = await perOp(exchange, jags)
  ratios.push(ours / base)
  console.log(
    `round ${round + 1}: gatehouse ${ours.toFixed(0)} µs, crypto baseline ${base.toFixed(0)} µs, ratio ${(ours / base).toFixed(2)}`,
  )
}
const ratio = median(ratios)
console.log(`median ratio ${ratio.toFixed(2)} (gatehouse / crypto)`)
record({
  bench: 'id-jag',
  scenario: 'POST /token with an ID-JAG, end to end',
  ratio,
  ratios,
  baseline: 'its crypto: jose ES256 verify + node:crypto RS256 sign',
  higherIsBetter: false,
})
await gh.close()
