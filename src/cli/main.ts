/**
 * The `gatehouse` command. Verbs: `check-config` validates a configuration file against the one
 * schema. (`serve` and `dev` arrive with the gateway and proxy work.)
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { configFromEnv, mergeConfig } from '../config/env.js'
import { resolveConfig } from '../config/schema.js'
import { ConfigError } from '../errors.js'
import { DEV_DEFAULTS, startDev } from './dev.js'
import { runServe } from './serve-command.js'

const HELP = `gatehouse — OAuth 2.1 for MCP servers

Usage:
  gatehouse dev [options]              run the whole sign-in flow on this machine (see dev --help)
  gatehouse serve [options]            OAuth gateway in front of an MCP server (see serve --help)
  gatehouse check-config <file.json>   validate a configuration file; prints every problem
  gatehouse --version                  print the version
  gatehouse --help                     this help

Every option can also come from GATEHOUSE_* variables (GATEHOUSE_SECRET, GATEHOUSE_UPSTREAM__CLIENT_SECRET,
...): they override the file. Keep secrets in the environment, never on the command line.
`

const DEV_HELP = `gatehouse dev — an OpenID provider, Gatehouse and a demo MCP server on 127.0.0.1

Usage: gatehouse dev [--port N] [--data-dir DIR] [--memory] [--provider oidc|azure]

  --port N          Gatehouse's port (default ${DEV_DEFAULTS.port}; 0 picks a free one)
  --data-dir DIR    where keys, clients and grants are kept (default ./${DEV_DEFAULTS.dataDir})
  --memory          keep nothing on disk
  --provider P      oidc (default: an embedded OpenID provider) or azure (a local Microsoft
                    Entra ID stand-in: tenant, app registration with scopes and an app role, Graph)
  -h, --help        this help

Sign in as GATEHOUSE_DEV_USER / GATEHOUSE_DEV_PASSWORD (default ${DEV_DEFAULTS.user} / ${DEV_DEFAULTS.password}).
Point an MCP client (the MCP SDK client, MCP Inspector, Claude) at the printed MCP URL. Clients may
register, or use a Client ID Metadata Document URL as client_id (also one served from this machine).
Stop with Ctrl-C; the data directory is kept.
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
  if (
    verb === undefined ||
    verb === 'help' ||
    (values.help === true && verb !== 'dev' && verb !== 'serve')
  ) {
    out.write(HELP)
    return verb === undefined && values.help !== true ? 1 : 0
  }
  if (verb === 'serve') return runServe(argv.slice(argv.indexOf('serve') + 1), out, err)
  if (verb === 'dev') return runDev(argv.slice(argv.indexOf('dev') + 1), out, err)
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
  try {
    const config = resolveConfig(mergeConfig(input, configFromEnv(process.env)))
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
    err.write(
      `gatehouse dev: ${error instanceof Error ? error.message : 'bad arguments'}\n\n${DEV_HELP}`,
    )
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
  if (provider !== 'oidc' && provider !== 'azure') {
    err.write('gatehouse dev: --provider must be oidc or azure\n')
    return 2
  }
  const user = process.env.GATEHOUSE_DEV_USER ?? DEV_DEFAULTS.user
  const password = process.env.GATEHOUSE_DEV_PASSWORD ?? DEV_DEFAULTS.password
  const dataDir = values['data-dir'] ?? DEV_DEFAULTS.dataDir
  const dev = await startDev({
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
  out.write('Gatehouse dev stopped; data kept.\n')
  return 0
}
