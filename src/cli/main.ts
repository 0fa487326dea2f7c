/**
 * The `gatehouse` command: global options, then one verb (`dev`, `serve`, `check-config`,
 * `admin`), dispatched to its file in `commands/`, which parses its own options. Operator mistakes
 * (bad usage, a `ConfigError`) are printed as plain lines, never as stack traces; exit codes: 0 ok,
 * 1 invalid configuration or a failed check, 2 bad usage.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { closest } from '../config/suggest.js'
import { ConfigError } from '../errors.js'
import { runAdmin } from './commands/admin.js'
import { runCheckConfig } from './commands/check-config.js'
import { runDev } from './commands/dev.js'
import { runServe } from './commands/serve.js'

/** A verb: its arguments after the verb, and where its output goes; resolves with the exit code. */
type Command = (
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
) => Promise<number>

/** The verbs after the global options (`admin` is taken before them: its ids may start with "-"). */
const COMMANDS: Readonly<Record<string, Command>> = {
  serve: runServe,
  dev: runDev,
  'check-config': runCheckConfig,
}

const HELP = `gatehouse — OAuth 2.1 for MCP servers

Usage:
  gatehouse dev [options]              run the whole sign-in flow on this machine (see dev --help)
  gatehouse serve [options]            OAuth gateway in front of an MCP server (see serve --help)
  gatehouse check-config <file>        validate a configuration file (YAML or JSON; a gateway
                                       section as serve starts it); prints every problem
                                       (--online also tries the IdP's discovery and keys)
  gatehouse admin <command>            clients, grants, tokens, keys, store check (see admin --help)
  gatehouse --version                  print the version
  gatehouse --help                     this help

Every option can also come from GATEHOUSE_* variables (GATEHOUSE_SECRET, GATEHOUSE_UPSTREAM__CLIENT_SECRET,
...): they override the file; __ separates levels, GATEHOUSE_RESOURCES__0__URL sets a list
element. Keep secrets in the environment, never on the command line.
`

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  // Before the generic parse: ids may start with "-" (base64url), which it would read as flags.
  if (argv[0] === 'admin') return runAdmin(argv.slice(1), out, err)
  // Options before the verb are global; each verb parses the rest itself.
  const verbAt = argv.findIndex((a) => !a.startsWith('-'))
  const globals = verbAt === -1 ? argv : argv.slice(0, verbAt)
  const unknown = globals.find((a) => !GLOBAL_OPTIONS.includes(a))
  if (unknown !== undefined) {
    const near = closest(unknown, GLOBAL_OPTIONS)
    err.write(
      `gatehouse: unknown option ${unknown}${near ? ` (did you mean ${near}?)` : ''}; see gatehouse --help\n`,
    )
    return 2
  }
  const { values } = parseArgs({
    args: globals,
    strict: true,
    options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
  })
  if (values.version === true) {
    const pkg = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string }
    out.write(`${pkg.version}\n`)
    return 0
  }
  const verb = verbAt === -1 ? undefined : argv[verbAt]
  const rest = argv.slice(verbAt + 1)
  if (verb === undefined || verb === 'help' || values.help === true) {
    out.write(HELP)
    return verb === undefined && values.help !== true ? 1 : 0
  }
  const command = Object.hasOwn(COMMANDS, verb) ? COMMANDS[verb] : undefined
  if (command === undefined) {
    const near = closest(verb, [...Object.keys(COMMANDS), 'admin'])
    err.write(
      `gatehouse: unknown command "${verb}"${near !== undefined ? ` (did you mean ${near}?)` : ''}; see gatehouse --help\n`,
    )
    return 2
  }
  try {
    return await command(rest, out, err)
  } catch (error) {
    // An operator's mistake: the list of problems, no stack trace.
    if (error instanceof ConfigError) {
      err.write(`gatehouse ${verb}: ${error.message}\n`)
      return 1
    }
    throw error
  }
}

const GLOBAL_OPTIONS = ['--help', '-h', '--version', '-v']
