/**
 * `gatehouse serve`: its arguments (the config-file form, or the flag form for one route:
 * `--upstream URL`, or a command after `--` for a stdio server), then `startServe` (cli/serve.ts)
 * on the shared listener; runs until SIGTERM/SIGINT, then drains.
 */
import { parseArgs } from 'node:util'
import { LOG_LEVELS } from '../../config/ops-schema.js'
import { closest } from '../../config/suggest.js'
import { ConfigError } from '../../errors.js'
import { createPinoLogger } from '../../ops/pino.js'
import { readConfigFile } from '../config-file.js'
import { runUntilSignal, type Signals } from '../listener.js'
import { startServe, type ServeOptions } from '../serve.js'
import { usageLine, usageProblem } from '../usage.js'

export const SERVE_HELP = `gatehouse serve — OAuth 2.1 in front of an MCP server (HTTP or stdio), no code

Usage:
  gatehouse serve --config gatehouse.yaml [--port N]
  gatehouse serve --issuer https://mcp.example.com --upstream http://127.0.0.1:3000/mcp [options]
  gatehouse serve --issuer https://mcp.example.com [options] -- npx -y @modelcontextprotocol/server-filesystem /data

  --config FILE       YAML or JSON configuration (the gateway section holds the routes)
  --issuer URL        the public URL of this gateway (default http://127.0.0.1:PORT)
  --upstream URL      a Streamable HTTP MCP server (flag form)
  -- CMD ARGS...      a stdio MCP server started by the gateway (flag form)
  --path P            the route's path (flag form; default /mcp)
  --scope S           a scope of the route (repeatable; flag form)
  --stdio-mode M      shared (default), session (one process per MCP session) or user (one per
                      user); userTokenEnv (the user's IdP token in the process) and every other
                      stdio setting are config-file only (gateway.routes[].upstream)
  --port N            port to listen on (default 8787; 0 picks a free one)
  --host ADDR         address to listen on (default 127.0.0.1)
  --store S           sqlite (default, in --data-dir), memory, or redis (GATEHOUSE_REDIS_URL)
  --data-dir DIR      where SQLite keeps its data (default ./.gatehouse)
  --dev-idp           sign users in at an embedded OpenID provider (GATEHOUSE_DEV_USER /
                      GATEHOUSE_DEV_PASSWORD, default dev / dev): try it in one command
  -h, --help          this help

Operations: /healthz, /readyz (the store, the keys, the IdP and every route's MCP server),
/metrics (Prometheus); request lines as JSON on stdout (GATEHOUSE_LOG_LEVEL, default info;
GATEHOUSE_LOG_FORMAT=pretty for humans).

Secrets come from the environment (GATEHOUSE_SECRET, GATEHOUSE_UPSTREAM__CLIENT_SECRET, ...) or
files named in the configuration, never from the command line. SIGTERM drains: no new sessions,
requests in flight finish, stdio servers are stopped.
`

const SERVE_OPTIONS = {
  config: { type: 'string' },
  issuer: { type: 'string' },
  upstream: { type: 'string' },
  path: { type: 'string' },
  scope: { type: 'string', multiple: true },
  'stdio-mode': { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  store: { type: 'string' },
  'data-dir': { type: 'string' },
  'dev-idp': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Runs `gatehouse serve` with its arguments; resolves with the exit code. */
export async function runServe(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  signals: Signals = process,
): Promise<number> {
  const dash = argv.indexOf('--')
  const flags = dash === -1 ? argv : argv.slice(0, dash)
  const command = dash === -1 ? [] : argv.slice(dash + 1)
  let values: Record<string, string | boolean | string[] | undefined>
  try {
    ;({ values } = parseArgs({
      args: flags,
      strict: true,
      allowPositionals: false,
      options: SERVE_OPTIONS,
    }))
  } catch (error) {
    err.write(usageLine('serve', usageProblem(error, SERVE_OPTIONS)))
    return 2
  }
  if (values.help === true) {
    out.write(SERVE_HELP)
    return 0
  }
  const fail = (message: string) => {
    err.write(`gatehouse serve: ${message}\n`)
    return 2
  }
  const port = values.port === undefined ? 8787 : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    return fail('--port must be a whole number from 0 to 65535')
  }
  const store = (values.store as string | undefined) ?? 'sqlite'
  if (store !== 'sqlite' && store !== 'memory' && store !== 'redis') {
    return fail('--store must be sqlite, memory or redis')
  }
  const env = process.env
  let config: Record<string, unknown>
  try {
    if (typeof values.config === 'string') {
      if (values.upstream !== undefined || command.length > 0) {
        return fail('give --config or an upstream (--upstream or -- command), not both')
      }
      config = await readConfigFile(values.config)
    } else {
      const upstream = flagUpstream(values, command)
      if (typeof upstream === 'string') return fail(upstream)
      config = {
        gateway: {
          routes: [
            {
              path: (values.path as string | undefined) ?? '/mcp',
              upstream,
              ...(Array.isArray(values.scope) ? { scopes: values.scope } : {}),
            },
          ],
        },
      }
    }
    if (typeof values.issuer === 'string') config.issuer = values.issuer
  } catch (error) {
    if (error instanceof ConfigError) {
      err.write(`${error.message}\n`)
      return 1
    }
    throw error
  }
  const user = env.GATEHOUSE_DEV_USER ?? 'dev'
  const level = env.GATEHOUSE_LOG_LEVEL ?? 'info'
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    return fail(`GATEHOUSE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`)
  }
  // Request lines (JSON on stdout, or pino-pretty with GATEHOUSE_LOG_FORMAT=pretty).
  const logger = createPinoLogger({
    level: level as (typeof LOG_LEVELS)[number],
    pretty: env.GATEHOUSE_LOG_FORMAT === 'pretty',
  })
  const options: ServeOptions = {
    config,
    port,
    store,
    env,
    log: (m) => err.write(`gatehouse serve: ${m}\n`),
    logger,
    ...(typeof values.host === 'string' ? { host: values.host } : {}),
    ...(typeof values['data-dir'] === 'string' ? { dataDir: values['data-dir'] } : {}),
    ...(env.GATEHOUSE_REDIS_URL !== undefined ? { redisUrl: env.GATEHOUSE_REDIS_URL } : {}),
    ...(values['dev-idp'] === true
      ? { devIdp: { users: [{ user, password: env.GATEHOUSE_DEV_PASSWORD ?? 'dev' }] } }
      : {}),
  }
  let running
  try {
    running = await startServe(options)
  } catch (error) {
    if (error instanceof ConfigError) {
      err.write(`${error.message}\n`)
      return 1
    }
    throw error
  }
  const lines = ['Gatehouse serve is running.', '']
  for (const [path, url] of Object.entries(running.routes)) lines.push(`  Route ${path}  ${url}`)
  if (running.metricsUrl !== undefined) lines.push(`  Metrics ${running.metricsUrl}`)
  lines.push(`  Authorization  ${running.issuer}/.well-known/oauth-authorization-server`)
  if (running.idpIssuer !== undefined) {
    lines.push(`  Identity provider  ${running.idpIssuer} (sign in as ${user})`)
  }
  return runUntilSignal({
    out,
    banner: `${lines.join('\n')}\n\nSIGTERM or Ctrl-C drains and stops.\n`,
    stop: () => running.drain(),
    stopped: 'Gatehouse serve stopped.\n',
    signals,
  })
}

const STDIO_MODES = ['shared', 'session', 'user']

/** The route's upstream from flags; a string is the problem. */
function flagUpstream(
  values: Record<string, unknown>,
  command: string[],
): Record<string, unknown> | string {
  const url = values.upstream
  if (typeof url === 'string' && command.length > 0) {
    return 'give --upstream or a command after --, not both'
  }
  if (typeof url === 'string') return { kind: 'http', url }
  const [program, ...args] = command
  if (program === undefined) {
    return 'name an upstream: --upstream URL, a command after --, or --config FILE'
  }
  const mode = values['stdio-mode']
  if (typeof mode === 'string' && !STDIO_MODES.includes(mode)) {
    const near = closest(mode, STDIO_MODES)
    return `--stdio-mode must be ${STDIO_MODES.join(', ')}${near !== undefined ? ` (did you mean ${near}?)` : ''}`
  }
  return { kind: 'stdio', command: program, args, ...(typeof mode === 'string' ? { mode } : {}) }
}
