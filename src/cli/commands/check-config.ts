/**
 * `gatehouse check-config <file> [--online]`: validates a configuration file, with the
 * `GATEHOUSE_*` variables laid over it, against the one schema and prints every problem; with
 * `--online` it then fetches the identity providers' discovery documents and keys. A file with a
 * `gateway` section is checked as `gatehouse serve --config FILE` would start it (`buildServeConfig`,
 * the same defaults and refusals), with serve's `--port`, `--issuer`, `--store` and `--dev-idp`.
 * Exit codes: 0 valid (and every online check passed), 1 invalid or a check failed, 2 usage.
 */
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { overlayEnv, resolveConfigWithEnv } from '../../config/env.js'
import type { ResolvedConfig } from '../../config/schema.js'
import { ConfigError } from '../../errors.js'
import { checkOnline } from '../check-online.js'
import { readConfigFile } from '../config-file.js'
import { buildServeConfig } from '../serve.js'
import { usageLine, usageProblem } from '../usage.js'

export const CHECK_CONFIG_HELP = `gatehouse check-config — validate a configuration file

Usage: gatehouse check-config <file> [--online] [serve's --port N --issuer URL --store S --dev-idp]
       gatehouse check-config --config <file> [--online] [...]

  <file>        JSON, or YAML when it ends in .yaml or .yml (as serve and admin read it)

  --online      also fetch the identity provider's discovery document and keys (and those of
                identityAssertion's trusted issuers); each is reported as ok or failed
  -h, --help    this help

A file with a gateway section is checked as "gatehouse serve --config <file>" starts it: the same
defaults (issuer http://127.0.0.1:PORT, resources from the routes, Client ID Metadata Documents
on), and the same refusals (no identity provider, GATEHOUSE_SECRET missing, a route credential's
variable unset or file unreadable). Give the options you give serve:

  --port N      the port the default issuer names (default 8787)
  --issuer URL  the gateway's public URL, over the file's
  --store S     sqlite (default), memory (a secret is made at start-up) or redis
  --dev-idp     serve's embedded IdP signs users in (no upstream needed; with sqlite its secret is
                kept in the data directory); not fetched by --online

GATEHOUSE_* variables are applied over the file, as the server applies them. Exit code 0: valid;
1: invalid, or an online check failed; 2: bad usage.
`

const OPTIONS = {
  online: { type: 'boolean' },
  config: { type: 'string' },
  port: { type: 'string' },
  issuer: { type: 'string' },
  store: { type: 'string' },
  'dev-idp': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Where `--dev-idp` would sign users in: a stand-in, since check-config starts nothing. */
const DEV_IDP_STAND_IN = {
  kind: 'oidc',
  configUrl: 'http://127.0.0.1/.well-known/openid-configuration',
  clientId: 'gatehouse-serve',
  clientSecret: 'stand-in',
}

/** Runs `check-config` with the arguments after the verb; returns the exit code. */
export async function runCheckConfig(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  let parsed: {
    values: {
      online?: boolean
      help?: boolean
      config?: string
      port?: string
      issuer?: string
      store?: string
      'dev-idp'?: boolean
    }
    positionals: string[]
  }
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, options: OPTIONS })
  } catch (error) {
    err.write(usageLine('check-config', usageProblem(error, OPTIONS)))
    return 2
  }
  const { values } = parsed
  if (values.help === true) {
    out.write(CHECK_CONFIG_HELP)
    return 0
  }
  // `--config FILE` as `serve` takes it, or the file alone.
  const files = [...(values.config === undefined ? [] : [values.config]), ...parsed.positionals]
  const [file, ...extra] = files
  if (file === undefined || extra.length > 0) {
    err.write(usageLine('check-config', 'name one configuration file'))
    return 2
  }
  const port = values.port === undefined ? 8787 : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    err.write(usageLine('check-config', '--port must be a whole number from 0 to 65535'))
    return 2
  }
  const store = values.store ?? 'sqlite'
  if (store !== 'sqlite' && store !== 'memory' && store !== 'redis') {
    err.write(usageLine('check-config', '--store must be sqlite, memory or redis'))
    return 2
  }
  const devIdp = values['dev-idp'] === true
  let input: Record<string, unknown>
  try {
    input = await readConfigFile(file)
  } catch (error) {
    // One line saying why the file cannot be had (the list form is for the schema's problems).
    if (!(error instanceof ConfigError)) throw error
    err.write(`gatehouse check-config: ${error.issues.join('; ')}\n`)
    return 1
  }
  if (values.issuer !== undefined) input.issuer = values.issuer
  // A ConfigError goes to main(), which prints its list.
  let config: ResolvedConfig
  if (overlayEnv(input, env).config.gateway !== undefined) {
    const served = await buildServeConfig({
      config: input,
      port,
      env,
      store,
      ...(devIdp
        ? {
            devIdp: () => Promise.resolve({ ...DEV_IDP_STAND_IN }),
            devSecret: () => Promise.resolve(randomBytes(32).toString('base64url')),
          }
        : {}),
    })
    config = served.config
    const routes = config.gateway?.routes.length ?? 0
    out.write(
      `ok: issuer ${served.issuer}, ${config.resources.length} resource(s), ${routes} route(s), as gatehouse serve starts it\n`,
    )
    const assumed = [
      ...served.defaults,
      ...(devIdp ? ['--dev-idp: users sign in at the embedded IdP'] : []),
    ]
    for (const line of assumed) out.write(`  assumed: ${line}\n`)
  } else {
    if (devIdp || values.port !== undefined || values.store !== undefined) {
      err.write(
        usageLine(
          'check-config',
          '--port, --store and --dev-idp are for a file with a gateway section',
        ),
      )
      return 2
    }
    config = resolveConfigWithEnv(input, env)
    out.write(`ok: issuer ${config.issuer}, ${config.resources.length} resource(s)\n`)
  }
  if (values.online !== true) return 0
  // The embedded IdP runs only inside serve: nothing to fetch.
  const checks = await checkOnline(devIdp ? { ...config, upstream: undefined } : config)
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
