/**
 * `gatehouse dev`: its options, then `startDev` (cli/dev.ts: an OpenID provider or a provider
 * stand-in, Gatehouse and a demo MCP server on 127.0.0.1), the banner saying where to connect,
 * and a run until SIGINT/SIGTERM that stops everything.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { LOG_LEVELS } from '../../config/ops-schema.js'
import { createPinoLogger } from '../../ops/pino.js'
import { DEV_DEFAULTS, startDev } from '../dev.js'
import { runUntilSignal } from '../listener.js'
import { usageLine, usageProblem } from '../usage.js'
import {
  DEV_STAND_IN_NAMES,
  isDevStandIn,
  type DevStandInName,
} from '../../dev/dev-stand-in-names.js'

export const DEV_HELP = `gatehouse dev — an OpenID provider, Gatehouse and a demo MCP server on 127.0.0.1

Usage: gatehouse dev [--port N] [--data-dir DIR] [--memory] [--provider NAME]

  --port N          Gatehouse's port (default ${DEV_DEFAULTS.port}; 0 picks a free one)
  --data-dir DIR    where keys, clients and grants are kept (default ./${DEV_DEFAULTS.dataDir})
  --memory          keep nothing on disk
  --provider NAME   oidc (default: an embedded OpenID provider), azure (a local Microsoft
                    Entra ID stand-in: tenant, app registration with scopes and an app role, Graph),
${Object.entries(DEV_STAND_IN_NAMES)
  .map(([name, text]) => `                    ${name} (${text})`)
  .join(',\n')}
  -h, --help        this help

Sign in as GATEHOUSE_DEV_USER / GATEHOUSE_DEV_PASSWORD (default ${DEV_DEFAULTS.user} / ${DEV_DEFAULTS.password}).
Point an MCP client (the MCP SDK client, MCP Inspector, Claude) at the printed MCP URL. Clients may
register, or use a Client ID Metadata Document URL as client_id (also one served from this machine).
Stop with Ctrl-C; the data directory is kept (with --memory, nothing is).
`

/** Parses `dev` flags, starts everything, prints where to connect, and runs until a signal. */
const DEV_OPTIONS = {
  port: { type: 'string' },
  'data-dir': { type: 'string' },
  memory: { type: 'boolean' },
  provider: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

export async function runDev(
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
      options: DEV_OPTIONS,
    }))
  } catch (error) {
    err.write(usageLine('dev', usageProblem(error, DEV_OPTIONS)))
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
    err.write(
      `gatehouse dev: --provider must be one of oidc, azure, ${Object.keys(DEV_STAND_IN_NAMES).join(', ')}\n`,
    )
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
  return runUntilSignal({
    out,
    banner: [
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
    stop: () => dev.close(),
    stopped:
      values.memory === true
        ? 'Gatehouse dev stopped; nothing was kept (--memory).\n'
        : `Gatehouse dev stopped; data kept in ${resolve(dataDir)}.\n`,
  })
}

function isDevProvider(p: string): p is 'oidc' | 'azure' | DevStandInName {
  return p === 'oidc' || p === 'azure' || isDevStandIn(p)
}
