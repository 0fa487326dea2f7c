/**
 * The `gatehouse` command. Verbs: `check-config` validates a configuration file against the one
 * schema. (`serve` and `dev` arrive with the gateway and proxy work.)
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { resolveConfig } from '../config/schema.js'
import { ConfigError } from '../errors.js'

const HELP = `gatehouse — OAuth 2.1 for MCP servers

Usage:
  gatehouse check-config <file.json>   validate a configuration file; prints every problem
  gatehouse --version                  print the version
  gatehouse --help                     this help

Secrets are read from the environment: GATEHOUSE_SECRET fills "secret" when the file has none.
`

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
  })
  if (values.version === true) {
    const pkg = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string }
    out.write(`${pkg.version}\n`)
    return 0
  }
  const [verb, ...rest] = positionals
  if (values.help === true || verb === undefined || verb === 'help') {
    out.write(HELP)
    return verb === undefined && values.help !== true ? 1 : 0
  }
  if (verb === 'check-config') return checkConfig(rest[0], out, err)
  err.write(`gatehouse: unknown command "${verb}"\n\n${HELP}`)
  return 2
}

async function checkConfig(
  file: string | undefined,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  if (file === undefined) {
    err.write('gatehouse check-config: name a configuration file\n')
    return 2
  }
  let input: Record<string, unknown>
  try {
    input = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch (error) {
    err.write(
      `gatehouse check-config: cannot read ${file}: ${error instanceof SyntaxError ? 'not valid JSON' : 'unreadable'}\n`,
    )
    return 1
  }
  const secret = process.env.GATEHOUSE_SECRET
  if (input.secret === undefined && secret !== undefined) input.secret = secret
  try {
    const config = resolveConfig(input)
    out.write(`ok: issuer ${config.issuer}, ${config.resources.length} resource(s)\n`)
    return 0
  } catch (error) {
    if (error instanceof ConfigError) {
      err.write(`${error.message}\n`)
      return 1
    }
    throw error
  }
}
