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
