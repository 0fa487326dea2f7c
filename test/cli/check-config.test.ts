import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runServe } from '../../src/cli/commands/serve.js'
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
    expect(r.err).toBe(
      'gatehouse check-config: unknown option --onlin (did you mean --online?); see gatehouse check-config --help\n',
    )
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

/** A file as docs/gateway.md writes it: no issuer, no resources, the IdP and the routes. */
async function writeYaml(lines: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-cli-'))
  const file = join(dir, 'gatehouse.yaml')
  await writeFile(file, `${lines.join('\n')}\n`)
  return file
}

const IDP = [
  'upstream:',
  '  kind: oidc',
  '  configUrl: https://idp.example/.well-known/openid-configuration',
  '  clientId: gatehouse',
]
const ROUTE = [
  'gateway:',
  '  routes:',
  '    - path: /mcp',
  '      scopes: [files:read]',
  '      upstream: { kind: http, url: http://127.0.0.1:3000/mcp }',
]

/** What `serve --config FILE` refuses at start-up, as its problem lines (it starts nothing then). */
async function serveRefusal(file: string, env: Record<string, string>, flags: string[] = []) {
  const out = capture()
  const err = capture()
  const saved = { ...process.env }
  Object.assign(process.env, env)
  try {
    const code = await runServe(['--config', file, '--port', '0', ...flags], out.stream, err.stream)
    return { code, err: err.text() }
  } finally {
    process.env = saved
  }
}

const problems = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('  - '))
    .sort()

describe('check-config agrees with serve on a gateway file', () => {
  it("applies serve's defaults (issuer from --port, resources from the routes, CIMD on) and says so", async () => {
    const file = await writeYaml([...IDP, ...ROUTE])
    const env = { ...secretEnv, GATEHOUSE_UPSTREAM__CLIENT_SECRET: 'idp-secret' }
    const r = await run(['check-config', file], env)
    expect(r.err).toBe('')
    expect(r.out).toBe(
      [
        'ok: issuer http://127.0.0.1:8787, 1 resource(s), 1 route(s), as gatehouse serve starts it',
        '  assumed: issuer http://127.0.0.1:8787 (from the port; set issuer or --issuer)',
        '  assumed: clientIdMetadataDocuments.enabled true',
        '  assumed: resources from the 1 route(s)',
        '',
      ].join('\n'),
    )
    expect(r.code).toBe(0)
    const other = await run(['check-config', file, '--port', '9000'], env)
    expect(other.out).toMatch(/^ok: issuer http:\/\/127\.0\.0\.1:9000, 1 resource\(s\)/)
    // --dev-idp stands in for the IdP, as it does for serve.
    const dev = await run(['check-config', file, '--dev-idp'], secretEnv)
    expect(dev.code).toBe(0)
    expect(dev.out).toContain('  assumed: --dev-idp: users sign in at the embedded IdP\n')
  })

  it('refuses what serve refuses at start-up, in the same words: no IdP, no secret, an unset credential variable, an unreadable file, idp-token without an IdP', async () => {
    const file = await writeYaml([
      'gateway:',
      '  routes:',
      '    - path: /key',
      '      upstream:',
      '        kind: http',
      '        url: http://127.0.0.1:3000/mcp',
      '        credential: { kind: header, name: X-Key, valueFromEnv: GH_CHECK_UNSET_KEY }',
      '    - path: /file',
      '      upstream:',
      '        kind: http',
      '        url: http://127.0.0.1:3000/mcp',
      '        credential: { kind: header, name: X-Key, valueFile: /nonexistent/gh-key }',
      '    - path: /idp',
      '      upstream: { kind: http, url: http://127.0.0.1:3000/mcp, credential: { kind: idp-token } }',
    ])
    const r = await run(['check-config', file])
    expect(r.code).toBe(1)
    expect(problems(r.err)).toEqual(
      [
        '  - secret: set GATEHOUSE_SECRET (32+ characters)',
        '  - no identity provider: set `upstream` (the IdP users sign in at) in a config file or GATEHOUSE_UPSTREAM__* variables, or use --dev-idp (`--upstream` names the MCP server)',
        '  - gateway.routes.0.upstream.credential.valueFromEnv: the environment variable GH_CHECK_UNSET_KEY is not set',
        '  - gateway.routes.1.upstream.credential.valueFile: cannot read the file',
        '  - gateway.routes.2.upstream.credential: idp-token needs an identity provider behind Gatehouse (upstream)',
      ].sort(),
    )
    const served = await serveRefusal(file, {})
    expect(served.code).toBe(1)
    expect(problems(served.err)).toEqual(problems(r.err))
    // With an IdP and the secret, only the credentials are left, at both.
    const withIdp = await writeYaml([...IDP, '  clientSecret: s', ...ROUTE.slice(0, 2)])
    expect((await run(['check-config', withIdp], secretEnv)).code).toBe(1)
  })

  it('with --dev-idp, an idp-token route is not also refused for want of an IdP when the secret is missing', async () => {
    const file = await writeYaml([
      'gateway:',
      '  routes:',
      '    - path: /mcp',
      '      upstream: { kind: http, url: http://127.0.0.1:3000/mcp, credential: { kind: idp-token } }',
    ])
    const r = await run(['check-config', file, '--dev-idp', '--store', 'redis'])
    expect(r.code).toBe(1)
    expect(problems(r.err)).toEqual([
      '  - secret: set GATEHOUSE_SECRET (32+ characters): one made at start-up would not read this store after a restart',
    ])
  })

  it('a file serve starts, check-config accepts (--store memory: serve makes the secret)', async () => {
    const file = await writeYaml([...IDP, '  clientSecret: s', ...ROUTE])
    const r = await run(['check-config', file, '--store', 'memory'])
    expect(r.err).toBe('')
    expect(r.out).toContain('  assumed: secret made at start-up (--store memory)\n')
    expect(r.code).toBe(0)
  })
})

describe('check-config: which problem is whose', () => {
  it('an unknown key of the file is not put on a variable, and the near key is suggested', async () => {
    const file = await writeYaml([
      'gateways: {}',
      ...IDP,
      '  clientSecret: s',
      ...ROUTE,
      '      requiredScope: [files:read]',
    ])
    const r = await run(['check-config', file], secretEnv)
    expect(r.code).toBe(1)
    expect(r.err).toContain('  - (root): Unrecognized key: "gateways" (did you mean "gateway"?)\n')
    expect(r.err).toContain(
      '  - gateway.routes.0: Unrecognized key: "requiredScope" (did you mean "requiredScopes"?)\n',
    )
    expect(r.err).not.toContain('GATEHOUSE_SECRET')
  })

  it('a section that only variables made still names them', async () => {
    const file = await writeConfig(valid)
    const r = await run(['check-config', file], {
      ...secretEnv,
      GATEHOUSE_UPSTREAM__CLIENT_ID: 'abc',
    })
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/ {2}- upstream(\.kind)?: .*\(set by GATEHOUSE_UPSTREAM__CLIENT_ID\)\n/)
  })

  it('words a missing secret as serve does, and an upstream URL as http(s)', async () => {
    const noSecret = await writeConfig(valid)
    const r = await run(['check-config', noSecret])
    expect(r.code).toBe(1)
    expect(r.err).toBe(
      'gatehouse check-config: invalid configuration:\n  - secret: set GATEHOUSE_SECRET (32+ characters)\n',
    )
    const badUrl = await writeYaml([
      ...IDP,
      '  clientSecret: s',
      'gateway:',
      '  routes:',
      '    - path: /mcp',
      '      upstream: { kind: http, url: "127.0.0.1:3000/mcp" }',
    ])
    const u = await run(['check-config', badUrl], secretEnv)
    expect(u.code).toBe(1)
    expect(u.err).toContain(
      '  - gateway.routes.0.upstream.url: must be an absolute http(s) URL (http://… or https://…)\n',
    )
  })

  it('names an unknown command with the nearest one; the help says check-config reads YAML too', async () => {
    const r = await run(['serv'])
    expect(r.code).toBe(2)
    expect(r.err).toBe(
      'gatehouse: unknown command "serv" (did you mean serve?); see gatehouse --help\n',
    )
    const help = await run(['--help'])
    expect(help.out).toContain(
      'gatehouse check-config <file>        validate a configuration file (YAML or JSON;',
    )
    expect(help.out).not.toContain('<file.json>')
  })
})
