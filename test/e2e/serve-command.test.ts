/**
 * The `gatehouse serve` command line: the flag form with a stdio command after `--`, the YAML
 * configuration form, and refusals of configurations that cannot work.
 */
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { runServe } from '../../src/cli/commands/serve.js'
import { freePort, post, serverEntry } from '../helpers/gateway.js'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'

function capture() {
  let text = ''
  const stream = {
    write: (s: string) => {
      text += s
      return true
    },
  } as unknown as NodeJS.WritableStream
  return { stream, text: () => text }
}

async function waitFor(read: () => string, what: string): Promise<void> {
  for (let i = 0; i < 200 && !read().includes(what); i++)
    await new Promise((r) => setTimeout(r, 50))
}

describe('gatehouse serve (command line)', () => {
  it('runs the flag form with a stdio server after --, guards the route, and drains on SIGTERM', async () => {
    const out = capture()
    const err = capture()
    const signals = new EventEmitter()
    const running = runServe(
      [
        '--port',
        '0',
        '--store',
        'memory',
        '--dev-idp',
        '--scope',
        'files:read',
        '--',
        process.execPath,
        serverEntry('@modelcontextprotocol/server-everything'),
        'stdio',
      ],
      out.stream,
      err.stream,
      signals,
    )
    await waitFor(out.text, 'Route /mcp')
    const url = /Route \/mcp\s+(\S+)/.exec(out.text())?.[1]
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
    const res = await fetch(url!, { method: 'POST', body: '{}' })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toContain(
      '/.well-known/oauth-protected-resource/mcp',
    )
    const prm = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', url)).then((r) =>
      r.json(),
    )
    expect(prm.scopes_supported).toEqual(['files:read'])
    const as = await fetch(new URL('/.well-known/oauth-authorization-server', url)).then((r) =>
      r.json(),
    )
    expect(as.client_id_metadata_document_supported).toBe(true)
    signals.emit('SIGTERM')
    expect(await running).toBe(0)
    expect(out.text()).toContain('stopped')
  }, 60_000)

  it('reads a YAML configuration and refuses a secret that is not in the environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-serve-'))
    const file = join(dir, 'gatehouse.yaml')
    await writeFile(
      file,
      [
        'gateway:',
        '  routes:',
        '    - path: /api',
        '      upstream:',
        '        kind: http',
        '        url: http://127.0.0.1:9/mcp',
        '        credential: { kind: header, name: X-Api-Key, valueFromEnv: GH_TEST_MISSING_KEY }',
      ].join('\n'),
    )
    const out = capture()
    const err = capture()
    const code = await runServe(
      ['--config', file, '--port', '0', '--store', 'memory', '--dev-idp'],
      out.stream,
      err.stream,
    )
    expect(code).toBe(1)
    expect(err.text()).toContain('GH_TEST_MISSING_KEY is not set')
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'gateway:\n  routes:\n    - path: api\n      upstream: { kind: ftp }\n')
    const err2 = capture()
    expect(
      await runServe(
        ['--config', bad, '--port', '0', '--store', 'memory', '--dev-idp'],
        out.stream,
        err2.stream,
      ),
    ).toBe(1)
    expect(err2.text()).toContain('gateway.routes.0.path')
  }, 60_000)

  it('names the GATEHOUSE_* variable behind a bad value, without echoing it', async () => {
    const out = capture()
    const err = capture()
    process.env.GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS = '5'
    process.env.GATEHOUSE_UPSTREAM__CLIENT_SECRET = 'top-secret-value'
    try {
      const code = await runServe(
        ['--upstream', 'http://127.0.0.1:9/mcp', '--port', '0', '--store', 'memory', '--dev-idp'],
        out.stream,
        err.stream,
      )
      expect(code).toBe(1)
    } finally {
      delete process.env.GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS
      delete process.env.GATEHOUSE_UPSTREAM__CLIENT_SECRET
    }
    expect(err.text()).toContain('GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS (accessTokenTtlSeconds): ')
    expect(err.text()).not.toContain('top-secret-value')
  }, 60_000)

  it('--dev-idp on the SQLite store without GATEHOUSE_SECRET keeps its secret beside the store: a restart reads it; another secret is told how to recover', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-devsecret-'))
    // As an earlier run under umask 002 leaves it: this user's, and the group may write.
    await chmod(dir, 0o775)
    const start = async (env: Record<string, string> = {}) => {
      const out = capture()
      const err = capture()
      const signals = new EventEmitter()
      for (const [k, v] of Object.entries(env)) process.env[k] = v
      try {
        const running = runServe(
          ['--upstream', 'http://127.0.0.1:9/mcp', '--port', '0', '--data-dir', dir, '--dev-idp'],
          out.stream,
          err.stream,
          signals,
        )
        await Promise.race([waitFor(out.text, 'Route /mcp'), running])
        signals.emit('SIGTERM')
        return { code: await running, out: out.text(), err: err.text() }
      } finally {
        for (const k of Object.keys(env)) Reflect.deleteProperty(process.env, k)
      }
    }
    const first = await start()
    expect(first.code, first.err).toBe(0)
    expect(first.err).toContain(`${dir}/dev-secret`)
    const secret = (await readFile(join(dir, 'dev-secret'), 'utf8')).trim()
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect((await stat(join(dir, 'dev-secret'))).mode & 0o777).toBe(0o600)
    expect((await stat(dir)).mode & 0o777).toBe(0o755)
    // The restart reads the store it wrote (the signing keys are in it).
    const second = await start()
    expect(second.code, second.err).toBe(0)
    // Another secret: the store's refusal, and what to do about it (never a secret's value).
    const other = await start({ GATEHOUSE_SECRET: 'o'.repeat(40) })
    expect(other.code).toBe(1)
    expect(other.err).toContain('cannot decrypt stored value')
    expect(other.err).toContain(
      `Start with the GATEHOUSE_SECRET the store in ${dir} was written with`,
    )
    expect(other.err).not.toContain(secret)
    expect(other.err).not.toContain('o'.repeat(40))

    // A secret file someone else could have planted or read is refused, naming the file.
    const file = join(dir, 'dev-secret')
    const refusedWith = async (why: string) => {
      const run = await start()
      expect(run.code).toBe(1)
      expect(run.err).toContain(`${file} ${why}`)
    }
    await chmod(file, 0o644)
    await refusedWith('can be read or written by other users')
    await rm(file)
    await writeFile(join(dir, 'known'), `${'k'.repeat(43)}\n`, { mode: 0o600 })
    await symlink(join(dir, 'known'), file)
    await refusedWith('is a symbolic link')
    await rm(file)
    await writeFile(file, 'too-short\n', { mode: 0o600 })
    await refusedWith('does not hold a secret Gatehouse made')
  }, 60_000)

  it('refuses both an upstream URL and a command, and no upstream at all', async () => {
    const out = capture()
    const err = capture()
    expect(
      await runServe(
        ['--upstream', 'http://127.0.0.1:1/mcp', '--', 'node'],
        out.stream,
        err.stream,
      ),
    ).toBe(2)
    expect(await runServe(['--port', '0'], out.stream, err.stream)).toBe(2)
    expect(err.text()).toContain('name an upstream')
  })

  it('without an IdP, says the IdP is `upstream` in a file (or --dev-idp), not --upstream', async () => {
    const out = capture()
    const err = capture()
    const code = await runServe(
      ['--upstream', 'http://127.0.0.1:9/mcp', '--port', '0', '--store', 'memory'],
      out.stream,
      err.stream,
    )
    expect(code).toBe(1)
    expect(err.text()).toBe(
      'invalid configuration:\n  - no identity provider: set `upstream` (the IdP users sign in at) in a config file or GATEHOUSE_UPSTREAM__* variables, or use --dev-idp (`--upstream` names the MCP server)\n',
    )
    expect(out.text()).toBe('')
  })

  it('names an unknown option or --stdio-mode with the nearest known one, exit 2, no parseArgs text', async () => {
    const out = capture()
    const err = capture()
    expect(await runServe(['--upstrem', 'http://127.0.0.1:9/mcp'], out.stream, err.stream)).toBe(2)
    expect(err.text()).toBe(
      'gatehouse serve: unknown option --upstrem (did you mean --upstream?); see gatehouse serve --help\n',
    )
    const err2 = capture()
    expect(await runServe(['--stdio-mode', 'sesion', '--', 'node'], out.stream, err2.stream)).toBe(
      2,
    )
    expect(err2.text()).toBe(
      'gatehouse serve: --stdio-mode must be shared, session, user (did you mean session?)\n',
    )
    expect(out.text()).toBe('')
  })

  it('--help says what --stdio-mode takes and that the rest of a stdio route is config-file only', async () => {
    const out = capture()
    const err = capture()
    expect(await runServe(['--help'], out.stream, err.stream)).toBe(0)
    expect(out.text()).toContain(
      '--stdio-mode M      shared (default), session (one process per MCP session) or user (one per\n',
    )
    expect(out.text()).toMatch(
      /userTokenEnv \(the user's IdP token in the process\) and every other\s+stdio setting are config-file only/,
    )
  })

  it("warns once at start-up about an HTTP upstream that is not reachable, starts anyway, and names the server's origin and the cause at run time", async () => {
    const port = await freePort()
    // A key in the path, as some hosted servers take it: logged by origin only.
    const upstream = `http://127.0.0.1:${port}/s/path-key-123/mcp`
    const origin = `http://127.0.0.1:${port}`
    const out = capture()
    const err = capture()
    const signals = new EventEmitter()
    const running = runServe(
      ['--upstream', upstream, '--port', '0', '--store', 'memory', '--dev-idp'],
      out.stream,
      err.stream,
      signals,
    )
    await Promise.race([waitFor(out.text, 'Route /mcp'), running])
    const url = /Route \/mcp\s+(\S+)/.exec(out.text())?.[1]
    expect(url, err.text()).toBeDefined()
    const warning = `gatehouse serve: route /mcp: upstream ${origin} is not reachable now (ECONNREFUSED); starting anyway, its calls answer 502 until it is\n`
    expect(err.text()).toContain(warning)
    expect(err.text().split(warning)).toHaveLength(2)
    // A signed-in caller's call: 502, and the operator's line names the URL and the cause.
    const provider = new BrowserlessClientProvider({
      redirectUrl: 'http://127.0.0.1:3999/callback',
      clientName: 'unreachable upstream',
      user: { username: 'dev', password: 'dev' },
    })
    const transport = new StreamableHTTPClientTransport(new URL(url!), { authProvider: provider })
    await new Client({ name: 't', version: '1.0.0' }).connect(transport).then(
      () => {
        throw new Error('expected a sign-in first')
      },
      (error: unknown) => {
        if (!(error instanceof UnauthorizedError)) throw error
      },
    )
    await transport.finishAuth(provider.code!)
    const token = provider.saved!.access_token
    const res = await post(url!, token, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      },
    })
    expect(res.status).toBe(502)
    await waitFor(err.text, 'unreachable (')
    expect(err.text()).toContain(
      `gatehouse serve: route /mcp: upstream ${origin} unreachable (ECONNREFUSED)\n`,
    )
    expect(err.text()).not.toContain(token)
    expect(err.text()).not.toContain('path-key-123')
    signals.emit('SIGTERM')
    expect(await running).toBe(0)
  }, 60_000)
})
