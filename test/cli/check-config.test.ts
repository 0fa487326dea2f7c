import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'

function capture() {
  let text = ''
  return {
    stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream,
    text: () => text,
  }
}

async function run(args: string[], env: Record<string, string> = {}) {
  const out = capture()
  const err = capture()
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    const code = await main(args, out.stream, err.stream)
    return { code, out: out.text(), err: err.text() }
  } finally {
    process.env = saved
  }
}

async function writeConfig(config: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-cli-'))
  const file = join(dir, 'config.json')
  await writeFile(file, JSON.stringify(config))
  return file
}

const valid = { issuer: 'https://as.example', resources: [{ url: 'https://as.example/mcp' }] }
const secretEnv = { GATEHOUSE_SECRET: 's'.repeat(40) }

describe('gatehouse CLI', () => {
  it('prints help with --help and exits 0', async () => {
    const r = await run(['--help'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('check-config')
  })

  it('refuses an unknown command with exit 2', async () => {
    const r = await run(['frobnicate'])
    expect(r.code).toBe(2)
    expect(r.err).toContain('unknown command "frobnicate"')
  })

  it('check-config lists every problem with its path and never echoes the secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-cli-'))
    const file = join(dir, 'bad.json')
    await writeFile(
      file,
      JSON.stringify({ issuer: 'http://as.example', resources: [], secret: 'short-secret-value' }),
    )
    const r = await run(['check-config', file])
    expect(r.code).toBe(1)
    expect(r.err).toContain('issuer: must be https')
    expect(r.err).toContain('resources:')
    expect(r.err).toContain('secret:')
    expect(r.err).not.toContain('short-secret-value')
  })

  it('check-config accepts a valid file with the secret from GATEHOUSE_SECRET', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-cli-'))
    const file = join(dir, 'ok.json')
    await writeFile(
      file,
      JSON.stringify({
        issuer: 'https://as.example',
        resources: [{ url: 'https://as.example/mcp' }],
      }),
    )
    const r = await run(['check-config', file], { GATEHOUSE_SECRET: 's'.repeat(40) })
    expect(r.code).toBe(0)
    expect(r.out).toBe('ok: issuer https://as.example, 1 resource(s)\n')
  })
})

describe('gatehouse CLI: operator mistakes', () => {
  it('names an unknown global option and suggests the nearest', async () => {
    const r = await run(['--versoin'])
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      'gatehouse: unknown option --versoin (did you mean --version?); see gatehouse --help\n',
    )
    expect(r.out).toBe('')
  })

  it('names an unknown option of check-config', async () => {
    const r = await run(['check-config', '--onlin', 'x.json'])
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/^gatehouse check-config: Unknown option '--onlin'\n/)
  })

  it('check-config says "not found", naming the path, for a missing file', async () => {
    const missing = join(tmpdir(), 'gh-no-such-dir', 'gatehouse.json')
    const r = await run(['check-config', missing])
    expect(r.code).toBe(1)
    expect(r.err).toBe(`gatehouse check-config: ${missing} not found\n`)
  })

  it('check-config lists a URL that does not parse with its path, beside the other problems, without a stack', async () => {
    const file = await writeConfig({
      issuer: 'as.example',
      resources: [{ url: 'https://as.example/mcp' }, { url: 'mcp' }],
      upstream: { kind: 'oidc', configUrl: 'idp', clientId: 'c', clientSecret: 's' },
    })
    const r = await run(['check-config', file])
    expect(r.code).toBe(1)
    expect(r.err).toContain('  - issuer: must be an absolute URL (https://…)\n')
    expect(r.err).toContain('  - resources.1.url: must be an absolute URL (https://…)\n')
    expect(r.err).toContain('  - upstream.configUrl: must be an absolute URL (https://…)\n')
    expect(r.err).toContain('  - secret: ')
    expect(r.err).not.toMatch(/TypeError|\n\s+at /)
  })

  it('check-config names the GATEHOUSE_* variable behind a problem and hints at __ nesting', async () => {
    const file = await writeConfig(valid)
    const r = await run(['check-config', file], {
      ...secretEnv,
      GATEHOUSE_UPSTREAM_CLIENT_ID: 'abc',
      GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS: 'soon',
    })
    expect(r.code).toBe(1)
    expect(r.err).toContain(
      '  - GATEHOUSE_UPSTREAM_CLIENT_ID: sets upstreamClientId, which is not a setting; did you mean GATEHOUSE_UPSTREAM__CLIENT_ID (levels are separated by a double underscore)?\n',
    )
    expect(r.err).toContain('  - GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS (accessTokenTtlSeconds): ')
  })

  it('check-config takes list elements from indexed variables', async () => {
    const file = await writeConfig({ issuer: 'https://as.example' })
    const r = await run(['check-config', file], {
      ...secretEnv,
      GATEHOUSE_RESOURCES__0__URL: 'https://as.example/mcp',
      GATEHOUSE_RESOURCES__1__URL: 'https://as.example/admin',
    })
    expect(r.err).toBe('')
    expect(r.out).toBe('ok: issuer https://as.example, 2 resource(s)\n')
    expect(r.code).toBe(0)
  })

  it('check-config also takes the file as --config FILE', async () => {
    const file = await writeConfig(valid)
    const r = await run(['check-config', '--config', file], secretEnv)
    expect(r.out).toBe('ok: issuer https://as.example, 1 resource(s)\n')
    expect(r.code).toBe(0)
  })
})
