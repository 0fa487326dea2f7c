/**
 * The official MCP conformance runner's authorization-server scenarios (pre-release 0.2.0-alpha.12,
 * installed as `mcp-conformance-next`) against a real Gatehouse on 127.0.0.1: Gatehouse signs users
 * in at the embedded dev IdP (OIDC proxy, consent page), Client ID Metadata Documents are enabled,
 * and a public client is pre-registered with the runner's callback. The runner's `authorization`
 * command runs every AS scenario in order (the authorization-code scenario reads the metadata the
 * first one fetched), prints the authorization URL and waits for a browser; the scripted user agent
 * (test/helpers/user-agent.ts) plays the user: consent, the IdP's login form, back to the runner.
 *
 * Every scenario of the runner that tests an authorization server, or an OAuth flow against one,
 * is listed here: run, or not applicable with the reason in the title. docs/conformance.md has the
 * results table.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { createNodeTransport } from '../../src/adapters/node-transport.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/server.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { closeServer, listenLoopback } from '../helpers/browser.js'
import { approveAndSignIn, UserAgent } from '../helpers/user-agent.js'

const RUNNER = fileURLToPath(
  new URL('../../node_modules/mcp-conformance-next/dist/index.js', import.meta.url),
)
const PRELOAD = fileURLToPath(new URL('./runner/preload.mjs', import.meta.url))
const CLIENT_ID = 'conformance-runner'
const ALICE = { username: 'alice', password: 'wonderland' }
const UPSTREAM_SECRET = 'upstream-secret-value-for-the-dev-idp'

/** Authorization-server scenarios run against Gatehouse. */
const RUN = ['authorization-server-metadata-endpoint', 'authorization-code-grant'] as const

const CLIENT_SCENARIO =
  'client scenario: the runner plays the authorization server (and resource server) itself and tests an MCP client (Gatehouse is not one)'

/**
 * The runner's client scenarios about authorization (`auth/*`), including the ones for grants
 * Gatehouse serves (client credentials, ID-JAG, DPoP, jwt-bearer): in all of them the runner's
 * own mock authorization server answers, so they cannot exercise Gatehouse.
 */
const NOT_APPLICABLE: Record<string, string> = Object.fromEntries(
  [
    'auth/metadata-default',
    'auth/metadata-var1',
    'auth/metadata-var2',
    'auth/metadata-var3',
    'auth/basic-cimd',
    'auth/scope-from-www-authenticate',
    'auth/scope-from-scopes-supported',
    'auth/scope-omitted-when-undefined',
    'auth/scope-step-up',
    'auth/scope-retry-limit',
    'auth/token-endpoint-auth-basic',
    'auth/token-endpoint-auth-post',
    'auth/token-endpoint-auth-none',
    'auth/pre-registration',
    'auth/2025-03-26-oauth-metadata-backcompat',
    'auth/2025-03-26-oauth-endpoint-fallback',
    'auth/resource-mismatch',
    'auth/offline-access-scope',
    'auth/offline-access-not-supported',
    'auth/authorization-server-migration',
    'auth/iss-supported',
    'auth/iss-not-advertised',
    'auth/iss-supported-missing',
    'auth/iss-wrong-issuer',
    'auth/iss-unexpected',
    'auth/iss-normalized',
    'auth/metadata-issuer-mismatch',
    'auth/client-credentials-jwt',
    'auth/client-credentials-basic',
    'auth/enterprise-managed-authorization',
    'auth/dpop',
    'auth/dpop-nonce',
    'auth/wif-jwt-bearer',
  ].map((name) => [name, CLIENT_SCENARIO]),
)

interface Check {
  id: string
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED'
  errorMessage?: string
  details?: Record<string, unknown>
}

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the runner's CLI; `onLine` sees each stdout line as it comes (to play the browser). */
function runner(args: string[], onLine: (line: string) => void = () => undefined): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', PRELOAD, RUNNER, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let pending = ''
    const timer = setTimeout(() => child.kill(), 120_000)
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) onLine(line)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A free loopback port (for the runner's callback server, which takes a fixed `--port`). */
async function freePort(): Promise<number> {
  const probe = createServer()
  await listenLoopback(probe)
  const { port } = probe.address() as AddressInfo
  await closeServer(probe)
  return port
}

describe('MCP conformance runner (0.2.0-alpha) authorization-server scenarios against Gatehouse', () => {
  let server: Server
  let base: string
  let idp: DevIdP
  let gh: Gatehouse
  let results: string
  let run: Run
  let signIn: Promise<URL> | undefined
  const checks: Record<string, Check[]> = {}

  beforeAll(async () => {
    results = await mkdtemp(join(tmpdir(), 'gatehouse-conformance-as-'))
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    server = createServer((req, res) => {
      handler(req, res)
    })
    base = await listenLoopback(server)
    const callbackPort = await freePort()
    idp = await startDevIdentityProvider({
      users: [{ ...ALICE, sub: 'alice-sub' }],
      clients: [
        {
          clientId: 'gatehouse',
          clientSecret: UPSTREAM_SECRET,
          redirectUris: [`${base}/auth/callback`],
        },
      ],
    })
    gh = await createGatehouse({
      config: {
        issuer: base,
        secret: 'c'.repeat(32),
        resources: [{ url: `${base}/mcp`, scopes: ['mcp:tools'] }],
        upstream: {
          kind: 'oidc',
          configUrl: `${idp.issuer}/.well-known/openid-configuration`,
          clientId: 'gatehouse',
          clientSecret: UPSTREAM_SECRET,
        },
        clientIdMetadataDocuments: { enabled: true, dangerouslyAllowLoopback: true },
        clients: [
          {
            clientId: CLIENT_ID,
            tokenEndpointAuthMethod: 'none',
            redirectUris: [`http://127.0.0.1:${String(callbackPort)}/callback`],
            grantTypes: ['authorization_code'],
          },
        ],
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
      transport: createNodeTransport(),
      onWarning: () => undefined,
    })
    handler = toNodeHandler((request) => gh.fetch(request))

    const ua = new UserAgent()
    run = await runner(
      [
        'authorization',
        '--url',
        base,
        '--client-id',
        CLIENT_ID,
        '--resource',
        `${base}/mcp`,
        '--port',
        String(callbackPort),
        '--output-dir',
        results,
      ],
      (line) => {
        // The runner prints the authorization URL and waits for its callback: sign Alice in.
        if (signIn === undefined && line.startsWith(`${base}/authorize?`)) {
          const callback = `http://127.0.0.1:${String(callbackPort)}/callback`
          signIn = approveAndSignIn(ua, line.trim(), ALICE, callback).then(async (url) => {
            await ua.request(url.href)
            return url
          })
        }
      },
    )
    // One directory per scenario: `authorization-server-<scenario>-<timestamp>/checks.json`.
    for (const dir of await readdir(results)) {
      const name = RUN.find((n) => dir.startsWith(`authorization-server-${n}-`))
      if (name === undefined) continue
      const file = join(results, dir, 'checks.json')
      checks[name] = JSON.parse(await readFile(file, 'utf8')) as Check[]
    }
  }, 150_000)

  afterAll(async () => {
    await closeServer(server)
    await gh.close()
    await idp.close()
    await rm(results, { recursive: true, force: true })
  })

  it('every authorization-server scenario and auth client scenario of the runner is classified here', async () => {
    const as = await runner(['list', '--authorization'])
    const client = await runner(['list', '--client'])
    expect(as.code).toBe(0)
    expect(client.code).toBe(0)
    const listed = [
      ...[...as.stdout.matchAll(/^ {2}- (\S+)/gm)].map((m) => m[1]!),
      ...[...client.stdout.matchAll(/^ {2}- (auth\/\S+)/gm)].map((m) => m[1]!),
    ]
    expect(listed.length).toBeGreaterThan(20)
    expect([...listed].sort()).toEqual([...RUN, ...Object.keys(NOT_APPLICABLE)].sort())
  }, 60_000)

  for (const name of RUN) {
    it(`${name}: every check passes`, () => {
      const got = checks[name]
      expect(got, `no checks.json for ${name}: ${run.stdout}\n${run.stderr}`).toBeDefined()
      const failed = got!.filter((c) => c.status !== 'SUCCESS' && c.status !== 'INFO')
      expect(failed, run.stdout).toEqual([])
      expect(got!.some((c) => c.status === 'SUCCESS')).toBe(true)
    })
  }

  it('the runner exits 0, after a real sign-in at the IdP (consent, login form) came back to its callback', async () => {
    expect(signIn, run.stdout).toBeDefined()
    const callback = await signIn!
    expect(callback.searchParams.get('iss')).toBe(base)
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0)
  })

  for (const [name, reason] of Object.entries(NOT_APPLICABLE)) {
    it.skip(`${name}: not applicable: ${reason}`, () => undefined)
  }
})
