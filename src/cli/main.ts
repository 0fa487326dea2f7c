/**
 * The `gatehouse` command: global options, then one verb (`dev`, `check-config`, `admin`), each
 * parsing its own options. Operator mistakes (bad usage, a `ConfigError`) are printed as plain lines, never
 * as stack traces; exit codes: 0 ok, 1 invalid configuration or a failed check, 2 bad usage.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { LOG_LEVELS } from '../config/ops-schema.js'
import { closest } from '../config/suggest.js'
import { ConfigError } from '../errors.js'
import { runAdmin } from './admin.js'
import { createPinoLogger } from '../ops/pino.js'
import { runCheckConfig, usageProblem } from './check-config.js'
import { DEV_DEFAULTS, startDev } from './dev.js'
import { runServe } from './serve-command.js'

const HELP = `gatehouse — OAuth 2.1 for MCP servers

Usage:
  gatehouse dev [options]              run the whole sign-in flow on this machine (see dev --help)
  gatehouse serve [options]            OAuth gateway in front of an MCP server (see serve --help)
  gatehouse check-config <file.json>   validate a configuration file; prints every problem
                                       (--online also tries the IdP's discovery and keys)
  gatehouse admin <command>            clients, grants, tokens, keys, store check (see admin --help)
  gatehouse --version                  print the version
  gatehouse --help                     this help

Every option can also come from GATEHOUSE_* variables (GATEHOUSE_SECRET, GATEHOUSE_UPSTREAM__CLIENT_SECRET,
...): they override the file; __ separates levels, GATEHOUSE_RESOURCES__0__URL sets a list
element. Keep secrets in the environment, never on the command line.
`

const DEV_HELP = `gatehouse dev — an OpenID provider, Gatehouse and a demo MCP server on 127.0.0.1

Usage: gatehouse dev [--port N] [--data-dir DIR] [--memory] [--provider oidc|azure|github|google]

  --port N          Gatehouse's port (default ${DEV_DEFAULTS.port}; 0 picks a free one)
  --data-dir DIR    where keys, clients and grants are kept (default ./${DEV_DEFAULTS.dataDir})
  --memory          keep nothing on disk
  --provider P      oidc (default: an embedded OpenID provider), azure (a local Microsoft
                    Entra ID stand-in: tenant, app registration with scopes and an app role, Graph),
                    github (a local GitHub: OAuth app, organization, team mapped to a role) or
                    google (a local Google sign-in: a Workspace user, hosted-domain rule)
  -h, --help        this help

Sign in as GATEHOUSE_DEV_USER / GATEHOUSE_DEV_PASSWORD (default ${DEV_DEFAULTS.user} / ${DEV_DEFAULTS.password}).
Point an MCP client (the MCP SDK client, MCP Inspector, Claude) at the printed MCP URL. Clients may
register, or use a Client ID Metadata Document URL as client_id (also one served from this machine).
Stop with Ctrl-C; the data directory is kept (with --memory, nothing is).
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
  try {
    if (verb === 'serve') return await runServe(rest, out, err)
    if (verb === 'dev') return await runDev(rest, out, err)
    if (verb === 'check-config') return await runCheckConfig(rest, out, err)
  } catch (error) {
    // An operator's mistake: the list of problems, no stack trace.
    if (error instanceof ConfigError) {
      err.write(`gatehouse ${verb}: ${error.message}\n`)
      return 1
    }
    throw error
  }
  err.write(`gatehouse: unknown command "${verb}"\n\n${HELP}`)
  return 2
}

const GLOBAL_OPTIONS = ['--help', '-h', '--version', '-v']

/** Parses `dev` flags, starts everything, prints where to connect, and runs until a signal. */
async function runDev(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  let values: {
    port?: string
    'data-dir'?: string
    memory?: boolean
    help?: boolean
    provider?: string
  }
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        memory: { type: 'boolean' },
        provider: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    err.write(`gatehouse dev: ${usageProblem(error)}\n\n${DEV_HELP}`)
    return 2
  }
  if (values.help === true) {
    out.write(DEV_HELP)
    return 0
  }
  const port = values.port === undefined ? DEV_DEFAULTS.port : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    err.write('gatehouse dev: --port must be a whole number from 0 to 65535\n')
    return 2
  }
  const provider = values.provider ?? 'oidc'
  if (!isDevProvider(provider)) {
    err.write('gatehouse dev: --provider must be oidc, azure, github or google\n')
    return 2
  }
  const user = process.env.GATEHOUSE_DEV_USER ?? DEV_DEFAULTS.user
  const password = process.env.GATEHOUSE_DEV_PASSWORD ?? DEV_DEFAULTS.password
  const dataDir = values['data-dir'] ?? DEV_DEFAULTS.dataDir
  const level = process.env.GATEHOUSE_LOG_LEVEL ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    err.write(`gatehouse dev: GATEHOUSE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}\n`)
    return 2
  }
  const logLevel = level as (typeof LOG_LEVELS)[number]
  const logger = createPinoLogger({
    level: logLevel,
    pretty: process.env.GATEHOUSE_LOG_FORMAT !== 'json',
  })
  const dev = await startDev({
    logger,
    logLevel,
    port,
    dataDir,
    memory: values.memory === true,
    user,
    password,
    provider,
  })
  const shownPassword =
    process.env.GATEHOUSE_DEV_PASSWORD === undefined ? password : '(GATEHOUSE_DEV_PASSWORD)'
  out.write(
    [
      'Gatehouse dev is running (127.0.0.1 only).',
      '',
      `  MCP URL            ${dev.mcpUrl}`,
      `  Authorization      ${dev.issuer}/.well-known/oauth-authorization-server`,
      `  Identity provider  ${dev.idpIssuer}`,
      `  Sign in as         ${user} / ${shownPassword}`,
      `  Data               ${values.memory === true ? 'in memory' : resolve(dataDir)}`,
      `  Health, metrics    ${dev.issuer}/healthz  /readyz  /metrics`,
      ...(dev.adminUrl !== undefined ? [`  Admin page         ${dev.adminUrl} (as ${user})`] : []),
      '',
      'Connect an MCP client to the MCP URL. Ctrl-C stops.',
      '',
    ].join('\n'),
  )
  await new Promise<void>((done) => {
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
  await dev.close()
  out.write(
    values.memory === true
      ? 'Gatehouse dev stopped; nothing was kept (--memory).\n'
      : `Gatehouse dev stopped; data kept in ${resolve(dataDir)}.\n`,
  )
  return 0
}

function isDevProvider(p: string): p is 'oidc' | 'azure' | 'github' | 'google' {
  return p === 'oidc' || p === 'azure' || p === 'github' || p === 'google'
}
