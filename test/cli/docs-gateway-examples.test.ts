/**
 * Every YAML configuration docs/gateway.md shows is one `gatehouse check-config` accepts, as an
 * operator would run it: the secrets in the environment (`GATEHOUSE_SECRET`,
 * `GATEHOUSE_UPSTREAM__CLIENT_SECRET`, each variable a `valueFromEnv` or `clientSecretFromEnv`
 * names) and in files (each `valueFile` points at a file holding a secret). A snippet without an
 * issuer or an identity provider gets the ones the guide's first example has; nothing else is
 * added.
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { main } from '../../src/cli/main.js'

const GUIDE = new URL('../../docs/gateway.md', import.meta.url)
const blocks = [...readFileSync(GUIDE, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map(
  (m) => m[1]!,
)

const ISSUER = 'issuer: https://mcp.example.com'
const IDP = [
  'upstream:',
  '  kind: oidc',
  '  configUrl: https://idp.example.com/.well-known/openid-configuration',
  '  clientId: gatehouse',
].join('\n')

function sink() {
  let text = ''
  return {
    stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream,
    text: () => text,
  }
}

describe('docs/gateway.md', () => {
  it('has YAML examples to check', () => {
    expect(blocks.length).toBeGreaterThan(8)
  })

  it.each(blocks.map((yaml, i) => [i + 1, yaml] as const))(
    'example %i is a configuration check-config accepts',
    async (_, yaml) => {
      const parsed = parse(yaml) as Record<string, unknown>
      const lines = [
        ...(parsed.issuer === undefined ? [ISSUER] : []),
        ...(parsed.upstream === undefined && parsed.upstreams === undefined ? [IDP] : []),
        yaml,
      ]
      const dir = await mkdtemp(join(tmpdir(), 'gh-docs-'))
      const secretFile = join(dir, 'secret')
      await writeFile(secretFile, 'a-secret-from-a-file\n', { mode: 0o600 })
      const file = join(dir, 'gatehouse.yaml')
      await writeFile(
        file,
        lines.join('\n').replace(/(valueFile:\s*)[^\s,}]+/g, `$1${JSON.stringify(secretFile)}`),
      )
      const named = [...yaml.matchAll(/(?:valueFromEnv|clientSecretFromEnv):\s*([A-Za-z_]\w*)/g)]
      const out = sink()
      const err = sink()
      const saved = { ...process.env }
      Object.assign(process.env, {
        GATEHOUSE_SECRET: 's'.repeat(40),
        GATEHOUSE_UPSTREAM__CLIENT_SECRET: 'idp-client-secret',
        ...Object.fromEntries(named.map((m) => [m[1]!, `value-of-${m[1]!}`])),
      })
      try {
        const code = await main(['check-config', file], out.stream, err.stream)
        expect(err.text()).toBe('')
        expect(code).toBe(0)
      } finally {
        process.env = saved
      }
    },
  )
})
