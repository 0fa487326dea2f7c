/**
 * Every verb that takes a configuration file (`check-config`, `serve`, `admin`) reads it through
 * the one reader (src/cli/config-file.ts): the same formats, and the same one line saying why a
 * file cannot be had.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
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

async function file(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-config-file-'))
  const path = join(dir, name)
  await writeFile(path, content)
  return path
}

const SECRET = 's'.repeat(40)

describe('the configuration file, the same for every verb', () => {
  it('check-config reads YAML as serve and admin do', async () => {
    const path = await file(
      'gatehouse.yaml',
      ['issuer: https://as.example', 'resources:', '  - url: https://as.example/mcp', ''].join(
        '\n',
      ),
    )
    const r = await run(['check-config', path], { GATEHOUSE_SECRET: SECRET })
    expect(r.err).toBe('')
    expect(r.out).toBe('ok: issuer https://as.example, 1 resource(s)\n')
    expect(r.code).toBe(0)
  })

  it('a missing file is "not found" at check-config, serve and admin', async () => {
    const missing = join(tmpdir(), 'gh-no-such-dir', 'gatehouse.yaml')
    const check = await run(['check-config', missing])
    expect(check.code).toBe(1)
    expect(check.err).toBe(`gatehouse check-config: ${missing} not found\n`)
    const serve = await run(['serve', '--config', missing])
    expect(serve.code).toBe(1)
    expect(serve.err).toBe(`invalid configuration:\n  - ${missing} not found\n`)
    const admin = await run(['admin', 'clients', 'list', '--config', missing])
    expect(admin.code).toBe(1)
    expect(admin.err).toBe(`gatehouse admin: invalid configuration:\n  - ${missing} not found\n`)
  })

  it('a directory, bad YAML and a JSON array are each named in one line, content never echoed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gh-config-dir-'))
    const asDir = join(dir, 'gatehouse.json')
    await mkdir(asDir)
    const badYaml = await file('gatehouse.yml', `secret: ${SECRET}\nissuer: [unclosed\n`)
    const array = await file('gatehouse.json', `["${SECRET}"]`)
    for (const verb of [['check-config'], ['admin', 'clients', 'list', '--config']]) {
      const d = await run([...verb, asDir])
      expect(d.code).toBe(1)
      expect(d.err).toContain(`${asDir} is a directory, not a file\n`)
      const y = await run([...verb, badYaml])
      expect(y.code).toBe(1)
      // Where the parser stopped and why, in its terms; never the parser's quote of the file.
      expect(y.err).toContain(`${badYaml} is not valid YAML (line 3, column 1: bad indent)\n`)
      const a = await run([...verb, array])
      expect(a.code).toBe(1)
      expect(a.err).toContain(`${array} must hold a JSON object\n`)
      expect(y.err + a.err).not.toContain(SECRET)
    }
  })

  it('bad YAML and bad JSON name the line and column, at check-config and serve', async () => {
    const yaml = await file(
      'gatehouse.yaml',
      ['gateway:', '  routes:', '    - path: /mcp', '   upstream: { kind: http }', ''].join('\n'),
    )
    const check = await run(['check-config', yaml])
    expect(check.code).toBe(1)
    expect(check.err).toBe(
      `gatehouse check-config: ${yaml} is not valid YAML (line 4, column 1: bad indent)\n`,
    )
    const serve = await run(['serve', '--config', yaml])
    expect(serve.code).toBe(1)
    expect(serve.err).toContain(`${yaml} is not valid YAML (line 4, column 1: bad indent)\n`)
    const json = await file(
      'gatehouse.json',
      '{\n  "issuer": "https://as.example",\n  "secret" 1\n}',
    )
    const j = await run(['check-config', json])
    expect(j.err).toBe(`gatehouse check-config: ${json} is not valid JSON (line 3, column 12)\n`)
  })
})
