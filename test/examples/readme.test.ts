/**
 * The README cannot drift from the code: every ```ts and ```sh block in README.md is marked
 * `<!-- example: examples/<file> -->` (on the last non-blank line above it) and contained, byte for byte, in that file; every ts example
 * is typechecked and linted (tsconfig `include`, eslint) and run here (it listens on a free
 * loopback port, gets one real request through its public interface, and is stopped); every
 * command in an sh block names a package, npm script, CLI verb and flag that exist.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'

const root = new URL('../../', import.meta.url)
const readme = readFileSync(new URL('README.md', root), 'utf8')
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  name: string
  scripts: Record<string, string>
  dependencies: Record<string, string>
  peerDependencies: Record<string, string>
}

interface Block {
  lang: string
  file: string | undefined
  code: string
}

/** The fenced ts and sh blocks, each with the example file named on the line above it. */
function readmeBlocks(text: string): Block[] {
  const lines = text.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)$/.exec(lines[i]!)
    if (!open) continue
    const end = lines.indexOf('```', i + 1)
    const lang = open[1]!
    if (lang === 'ts' || lang === 'sh') {
      // The marker is the last non-blank line before the fence (prettier puts a blank line between).
      let above = i - 1
      while (above > 0 && lines[above] === '') above--
      const marker = /^<!-- example: (examples\/[\w.-]+) -->$/.exec(lines[above] ?? '')
      blocks.push({ lang, file: marker?.[1], code: lines.slice(i + 1, end).join('\n') + '\n' })
    }
    i = end
  }
  return blocks
}

const blocks = readmeBlocks(readme)

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function cli(argv: string[]): Promise<{ code: number; text: string }> {
  let text = ''
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString()
      callback()
    },
  })
  const code = await main(argv, sink, sink)
  return { code, text }
}

const json = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'readme', version: '1' },
  },
})

/** Registers a public client and starts /authorize; returns the response (a redirect). */
async function startAuthorization(base: string): Promise<Response> {
  const registered = await fetch(`${base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: ['http://127.0.0.1:9/cb'],
      token_endpoint_auth_method: 'none',
      client_name: 'README test',
    }),
  })
  expect(registered.status).toBe(201)
  const { client_id } = (await registered.json()) as { client_id: string }
  const q = new URLSearchParams({
    response_type: 'code',
    client_id,
    redirect_uri: 'http://127.0.0.1:9/cb',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    state: 's',
    resource: `${base}/mcp`,
  })
  return fetch(`${base}/authorize?${q}`, { redirect: 'manual' })
}

/** The first 401 an MCP client sees points at the protected-resource metadata, which answers. */
async function expectChallenge(base: string): Promise<void> {
  const res = await fetch(`${base}/mcp`, { method: 'POST', headers: json, body: initialize })
  expect(res.status).toBe(401)
  const prm = `${base}/.well-known/oauth-protected-resource/mcp`
  expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${prm}"`)
  const metadata = (await (await fetch(prm)).json()) as Record<string, unknown>
  expect(metadata).toMatchObject({ resource: `${base}/mcp`, authorization_servers: [base] })
}

interface Example {
  stop(): Promise<void>
}

/** How each example is loaded and the one request that shows it works. */
const runs: Record<
  string,
  { load: () => Promise<Example>; check: (base: string) => Promise<void> }
> = {
  'examples/quick-start-node.ts': {
    load: () => import('../../examples/quick-start-node.js'),
    check: async (base) => {
      await expectChallenge(base)
      // The authenticate hook sits behind the consent page.
      const res = await startAuthorization(base)
      expect(res.headers.get('location')).toMatch(new RegExp(`^${base}/consent\\?txn=`))
    },
  },
  'examples/express-mcp.ts': {
    load: () => import('../../examples/express-mcp.js'),
    check: expectChallenge,
  },
  'examples/hono-mcp.ts': {
    load: () => import('../../examples/hono-mcp.js'),
    check: expectChallenge,
  },
  'examples/oidc-proxy.ts': {
    load: () => import('../../examples/oidc-proxy.js'),
    check: async (base) => {
      await expectChallenge(base)
      const res = await startAuthorization(base)
      expect(res.headers.get('location')).toMatch(new RegExp(`^${base}/consent\\?txn=`))
    },
  },
}

describe('README.md', () => {
  it('marks every ts and sh block with the example file that holds it, and the file holds it', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6)
    for (const block of blocks) {
      expect(block.file, `block without <!-- example: … -->:\n${block.code}`).toBeDefined()
      const file = readFileSync(new URL(block.file!, root), 'utf8')
      expect(file.includes(block.code), `${block.file} does not contain the README block`).toBe(
        true,
      )
      expect(block.file!.endsWith(`.${block.lang}`)).toBe(true)
    }
  })

  it('runs every ts example (the README shows no example this test does not run)', () => {
    const ts = blocks.filter((b) => b.lang === 'ts').map((b) => b.file)
    expect(new Set(ts)).toEqual(new Set(Object.keys(runs)))
  })

  it('names only packages, npm scripts, CLI verbs and flags that exist in its sh blocks', async () => {
    const helps = new Map<string, string>()
    const helpOf = async (verb: string) => {
      if (!helps.has(verb))
        helps.set(verb, (await cli(verb === '' ? ['--help'] : [verb, '--help'])).text)
      return helps.get(verb)!
    }
    const packages = new Set([
      pkg.name,
      ...Object.keys(pkg.dependencies),
      ...Object.keys(pkg.peerDependencies),
    ])
    for (const block of blocks.filter((b) => b.lang === 'sh')) {
      for (const raw of block.code.split('\n')) {
        const words = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean)
        if (words.length === 0) continue
        const [tool, sub, ...args] = words
        const line = `${block.file}: ${raw}`
        if (tool === 'npm' && (sub === 'install' || sub === 'ci')) {
          for (const name of args) expect(packages.has(name), line).toBe(true)
        } else if (tool === 'npm' && sub === 'test') {
          expect(pkg.scripts.test, line).toBeDefined()
        } else if (tool === 'npm' && sub === 'run') {
          expect(pkg.scripts[args[0] ?? ''], line).toBeDefined()
        } else if (tool === 'npx' && sub === 'gatehouse') {
          const [verb = '', ...flags] = args
          expect(await helpOf(''), line).toContain(`gatehouse ${verb}`)
          for (const flag of flags.filter((f) => f.startsWith('-'))) {
            expect(await helpOf(verb), line).toContain(flag.replace(/=.*/, ''))
          }
        } else {
          expect.fail(`${line}: a command this test does not know how to check`)
        }
      }
    }
  })

  describe('runs each example: start, one request, stop', () => {
    const cwd = process.cwd()
    let idp: DevIdP
    let port: number

    beforeAll(async () => {
      port = await freePort()
      const base = `http://127.0.0.1:${port}`
      idp = await startDevIdentityProvider({
        users: [{ username: 'alice', password: 'wonderland', sub: 'alice-sub' }],
        clients: [
          {
            clientId: 'gatehouse',
            clientSecret: 'upstream-secret-value',
            redirectUris: [`${base}/auth/callback`],
          },
        ],
      })
      process.env.PORT = String(port)
      process.env.GATEHOUSE_SECRET = 'readme-example-secret-of-32-chars-or-more'
      process.env.IDP_CONFIG_URL = `${idp.issuer}/.well-known/openid-configuration`
      process.env.IDP_CLIENT_ID = 'gatehouse'
      process.env.IDP_CLIENT_SECRET = 'upstream-secret-value'
      // `./.gatehouse` of each example lands in a fresh directory, not in the checkout.
      process.chdir(mkdtempSync(join(tmpdir(), 'gh-readme-')))
    })
    afterAll(async () => {
      process.chdir(cwd)
      await idp.close()
    })

    for (const [file, run] of Object.entries(runs)) {
      it(file, async () => {
        process.chdir(mkdtempSync(join(tmpdir(), 'gh-readme-')))
        const example = await run.load()
        try {
          await run.check(`http://127.0.0.1:${port}`)
        } finally {
          await example.stop()
        }
      })
    }
  })
})
