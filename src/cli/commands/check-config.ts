/**
 * `gatehouse check-config <file> [--online]`: validates a configuration file, with the
 * `GATEHOUSE_*` variables laid over it, against the one schema and prints every problem; with
 * `--online` it then fetches the identity providers' discovery documents and keys.
 * Exit codes: 0 valid (and every online check passed), 1 invalid or a check failed, 2 usage.
 */
import { parseArgs } from 'node:util'
import { resolveConfigWithEnv } from '../../config/env.js'
import { ConfigError } from '../../errors.js'
import { checkOnline } from '../check-online.js'
import { readConfigFile } from '../config-file.js'
import { usageProblem } from '../usage.js'

export const CHECK_CONFIG_HELP = `gatehouse check-config — validate a configuration file

Usage: gatehouse check-config <file> [--online]
       gatehouse check-config --config <file> [--online]

  <file>        JSON, or YAML when it ends in .yaml or .yml (as serve and admin read it)

  --online      also fetch the identity provider's discovery document and keys (and those of
                identityAssertion's trusted issuers); each is reported as ok or failed
  -h, --help    this help

GATEHOUSE_* variables are applied over the file, as the server applies them. Exit code 0: valid;
1: invalid, or an online check failed; 2: bad usage.
`

/** Runs `check-config` with the arguments after the verb; returns the exit code. */
export async function runCheckConfig(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  let parsed: {
    values: { online?: boolean; help?: boolean; config?: string }
    positionals: string[]
  }
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        online: { type: 'boolean' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    err.write(`gatehouse check-config: ${usageProblem(error)}\n\n${CHECK_CONFIG_HELP}`)
    return 2
  }
  if (parsed.values.help === true) {
    out.write(CHECK_CONFIG_HELP)
    return 0
  }
  // `--config FILE` as `serve` takes it, or the file alone.
  const files = [
    ...(parsed.values.config === undefined ? [] : [parsed.values.config]),
    ...parsed.positionals,
  ]
  const [file, ...extra] = files
  if (file === undefined || extra.length > 0) {
    err.write(`gatehouse check-config: name one configuration file\n\n${CHECK_CONFIG_HELP}`)
    return 2
  }
  let input: Record<string, unknown>
  try {
    input = await readConfigFile(file)
  } catch (error) {
    // One line saying why the file cannot be had (the list form is for the schema's problems).
    if (!(error instanceof ConfigError)) throw error
    err.write(`gatehouse check-config: ${error.issues.join('; ')}\n`)
    return 1
  }
  // A ConfigError goes to main(), which prints its list.
  const config = resolveConfigWithEnv(input, env)
  out.write(`ok: issuer ${config.issuer}, ${config.resources.length} resource(s)\n`)
  if (parsed.values.online !== true) return 0
  const checks = await checkOnline(config)
  if (checks.length === 0) {
    out.write('online: nothing to check (no upstream or trusted issuers configured)\n')
    return 0
  }
  for (const c of checks) {
    out.write(`${c.ok ? 'ok    ' : 'FAILED'} ${c.what} ${c.url}: ${c.detail}\n`)
  }
  const failed = checks.filter((c) => !c.ok).length
  if (failed === 0) return 0
  err.write(`gatehouse check-config: ${failed} online check(s) failed\n`)
  return 1
}
