/**
 * `gatehouse admin`: the administration API (src/admin/admin.ts) on the command line, against the
 * store and configuration a deployment uses. Tables for people, `--json` for scripts. Every
 * state-changing command emits an `admin_action` audit event to the sink the configuration names
 * (`audit.sink: log` writes JSON lines to stderr, so stdout stays the command's output).
 */
import { userInfo } from 'node:os'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { overlayEnv } from '../../config/env.js'
import { resolveConfig } from '../../config/schema.js'
import { closest } from '../../config/suggest.js'
import { ConfigError, StoreError } from '../../errors.js'
import { AdminError, createAdmin } from '../../admin/admin.js'
import type { Admin } from '../../admin/admin.js'
import { createPinoLogger } from '../../ops/pino.js'
import type { Store } from '../../storage/store.js'
import { readConfigFile } from '../config-file.js'
import { usageLine, usageProblem } from '../usage.js'

export const ADMIN_HELP = `gatehouse admin — manage clients, grants, tokens and keys in the store

Usage: gatehouse admin <command> [--config FILE] [--store WHERE] [--json]

  clients list                 every client: registered (DCR), configured, cached CIMD
  clients show <client_id>     one client
  clients delete <client_id>   delete a registered client and revoke its grants
  grants list [--subject S] [--client C]
  grants revoke <grant_id>     refresh tokens fail at once, access tokens within revocationCheckSeconds
  tokens revoke                revoke the grant of a token read from stdin (never pass it as an argument)
  keys list | keys rotate      signing keys
  store check                  write/read a sample, decrypt a record with the secret, schema version

  --config FILE   the configuration the servers use (JSON or YAML; or GATEHOUSE_CONFIG);
                  GATEHOUSE_* variables override it as they do for the servers
  --store WHERE   sqlite:DIR (default sqlite:.gatehouse), redis://…, rediss://…, postgres://…;
                  or GATEHOUSE_STORE. GATEHOUSE_REDIS_PREFIX / GATEHOUSE_PG_SCHEMA as the servers use
  --json          machine-readable output
`

type Out = NodeJS.WritableStream

/**
 * Runs `gatehouse admin` with its own arguments; returns the exit code: 0 done, 1 refused or
 * failed (unknown id, store down, wrong secret), 2 bad usage.
 */
export async function runAdmin(
  argv: string[],
  out: Out,
  err: Out,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<number> {
  // An id may start with "-" (base64url): take the word after a command that needs one literally.
  let literalId: string | undefined
  if (NEEDS_ID.includes(`${argv[0]} ${argv[1]}`) && argv[2] !== undefined && !isOption(argv[2])) {
    literalId = argv[2]
    argv = [...argv.slice(0, 2), ...argv.slice(3)]
  }
  // A token never goes in the arguments (they show in ps), and one may start with "-": refuse any
  // word after `tokens revoke` that is not an option before the parser reads it as one.
  if (argv[0] === 'tokens' && argv[1] === 'revoke' && hasWordBesideOptions(argv.slice(2))) {
    err.write(TOKEN_IN_ARGUMENTS)
    return 2
  }
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    err.write(usageLine('admin', usageProblem(error, ADMIN_OPTIONS)))
    return 2
  }
  const { values } = parsed
  const positionals = [...parsed.positionals]
  if (literalId !== undefined) positionals.splice(2, 0, literalId)
  if (values.help === true || positionals.length === 0) {
    out.write(ADMIN_HELP)
    return positionals.length === 0 && values.help !== true ? 2 : 0
  }
  const [noun, action, id, ...extra] = positionals
  const command = `${noun} ${action ?? ''}`.trim()
  const needsId = NEEDS_ID.includes(command)
  if (
    !COMMANDS.includes(command) ||
    (needsId ? id === undefined : id !== undefined) ||
    extra.length > 0
  ) {
    if (command === 'tokens revoke' && id !== undefined) {
      err.write(TOKEN_IN_ARGUMENTS)
    } else if (!COMMANDS.includes(command)) {
      const ofNoun = COMMANDS.filter((c) => c.startsWith(`${noun ?? ''} `))
      const near =
        closest(command, COMMANDS) ??
        (ofNoun.length > 0 ? ofNoun.join(' or ') : undefined) ??
        closest(noun ?? '', new Set(COMMANDS.map((c) => c.split(' ')[0] ?? '')))
      // Only words the CLI knows are echoed: a second word that is none may be a token pasted
      // where `revoke` belonged (`gatehouse admin tokens eyJ…`).
      const verbs = new Set(COMMANDS.map((c) => c.split(' ')[1] ?? ''))
      const shown = action === undefined || verbs.has(action) ? command : `${noun ?? ''} …`
      err.write(
        usageLine(
          'admin',
          `unknown command "${shown}"${near !== undefined ? ` (did you mean ${near}?)` : ''}`,
        ),
      )
    } else {
      err.write(
        `gatehouse admin: unknown or incomplete command "${positionals.join(' ')}"\n\n${ADMIN_HELP}`,
      )
    }
    return 2
  }

  const target = id ?? ''
  let admin: Admin
  try {
    admin = await open(values.config, values.store, err)
  } catch (error) {
    return fail(err, error)
  }
  try {
    const json = values.json === true
    switch (command) {
      case 'clients list': {
        const clients = await admin.listClients()
        print(out, json, clients, ['clientId', 'kind', 'name', 'grantTypes', 'redirectUris'])
        break
      }
      case 'clients show':
        printOne(out, json, await admin.showClient(target))
        break
      case 'clients delete': {
        const result = await admin.deleteClient(target)
        if (json) out.write(`${JSON.stringify({ deleted: id, ...result })}\n`)
        else out.write(`deleted client ${id}; revoked ${result.revokedGrants} grant(s)\n`)
        break
      }
      case 'grants list': {
        const grants = await admin.listGrants({
          ...(values.subject !== undefined ? { subject: values.subject } : {}),
          ...(values.client !== undefined ? { clientId: values.client } : {}),
        })
        print(out, json, grants, [
          'grantId',
          'subject',
          'clientId',
          'scopes',
          'resource',
          'createdAt',
        ])
        break
      }
      case 'grants revoke':
        await admin.revokeGrant(target)
        out.write(json ? `${JSON.stringify({ revoked: id })}\n` : `revoked grant ${id}\n`)
        break
      case 'tokens revoke': {
        const result = await admin.revokeToken(await readAll(stdin))
        if (json) out.write(`${JSON.stringify({ revoked: result.grantId, kind: result.kind })}\n`)
        else
          out.write(`revoked grant ${result.grantId} (of the ${result.kind.replace('_', ' ')})\n`)
        break
      }
      case 'keys list':
        print(out, json, await admin.listKeys(), [
          'kid',
          'alg',
          'current',
          'createdAt',
          'retiredAt',
        ])
        break
      case 'keys rotate':
        print(out, json, await admin.rotateKeys(), [
          'kid',
          'alg',
          'current',
          'createdAt',
          'retiredAt',
        ])
        break
      case 'store check':
        printOne(out, json, await admin.checkStore())
        break
    }
    return 0
  } catch (error) {
    return fail(err, error)
  } finally {
    await admin.close().catch(() => undefined)
  }
}

const NEEDS_ID: readonly string[] = ['clients show', 'clients delete', 'grants revoke']
const COMMANDS: readonly string[] = [
  'clients list',
  'clients show',
  'clients delete',
  'grants list',
  'grants revoke',
  'tokens revoke',
  'keys list',
  'keys rotate',
  'store check',
]

const OPTIONS = ['--config', '--store', '--json', '--subject', '--client', '--help', '-h', '--']

const WITH_VALUE = ['--config', '--store', '--subject', '--client']

const TOKEN_IN_ARGUMENTS =
  'gatehouse admin tokens revoke: give the token on stdin, not as an argument (arguments show in ps)\n'

/** Whether a word other than an option or an option's value is in `words`. */
function hasWordBesideOptions(words: string[]): boolean {
  let takesValue = false
  for (const word of words) {
    if (takesValue) takesValue = false
    else if (!isOption(word)) return true
    else takesValue = WITH_VALUE.includes(word)
  }
  return false
}

function isOption(word: string): boolean {
  return OPTIONS.some((option) => word === option || word.startsWith(`${option}=`))
}

/**
 * `--client -abc` as `--client=-abc`: an id or subject may start with "-" (base64url), which the
 * parser would take for an option and refuse. A known option in the value's place stays one.
 */
function joinOptionValues(words: string[]): string[] {
  const joined: string[] = []
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? ''
    const next = words[i + 1]
    if (word === '--') return [...joined, ...words.slice(i)]
    if (WITH_VALUE.includes(word) && next !== undefined && !isOption(next)) {
      joined.push(`${word}=${next}`)
      i++
    } else joined.push(word)
  }
  return joined
}

const ADMIN_OPTIONS = {
  config: { type: 'string' },
  store: { type: 'string' },
  json: { type: 'boolean' },
  subject: { type: 'string' },
  client: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

function parse(argv: string[]) {
  return parseArgs({
    args: joinOptionValues(argv),
    strict: true,
    allowPositionals: true,
    options: ADMIN_OPTIONS,
  })
}

/**
 * Loads the configuration and opens the store the way the servers do. Audit events go where the
 * configuration sends the servers' (`audit.sink`); the log stream of this command is `err`.
 */
async function open(
  configFile: string | undefined,
  where: string | undefined,
  err: Out,
): Promise<Admin> {
  const file = configFile ?? process.env.GATEHOUSE_CONFIG
  const fileConfig = file === undefined ? {} : await readConfigFile(file)
  // The same overlay the servers and check-config use: list elements merge into the file's lists.
  const { config, problems } = overlayEnv(fileConfig, process.env)
  if (problems.length > 0) throw new ConfigError(problems)
  const resolved = resolveConfig(config)
  const logger = createPinoLogger({ level: resolved.log.level, destination: err })
  const { store, backend } = await openStore(
    where ?? process.env.GATEHOUSE_STORE ?? 'sqlite:.gatehouse',
  )
  try {
    return await createAdmin({
      config,
      store,
      backend,
      ...actor(),
      logger,
    })
  } catch (error) {
    await store.close().catch(() => undefined)
    throw error
  }
}

async function openStore(where: string): Promise<{ store: Store; backend: string }> {
  if (/^rediss?:\/\//.test(where)) {
    const { createRedisStore } = await import('../../storage/redis.js')
    const keyPrefix = process.env.GATEHOUSE_REDIS_PREFIX
    return {
      store: createRedisStore({ url: where, ...(keyPrefix ? { keyPrefix } : {}) }),
      backend: 'redis',
    }
  }
  if (/^postgres(ql)?:\/\//.test(where)) {
    const { createPostgresStore } = await import('../../storage/postgres.js')
    const schema = process.env.GATEHOUSE_PG_SCHEMA
    return {
      store: createPostgresStore({ connectionString: where, ...(schema ? { schema } : {}) }),
      backend: 'postgres',
    }
  }
  const dir = where.startsWith('sqlite:') ? where.slice('sqlite:'.length) : where
  const { createSqliteStore } = await import('../../storage/sqlite.js')
  return { store: createSqliteStore({ dataDir: resolve(dir) }), backend: 'sqlite' }
}

function actor(): { actor?: string } {
  try {
    return { actor: userInfo().username }
  } catch {
    return {}
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    // A token is short; refuse to buffer a large stream.
    if (chunks.reduce((n, c) => n + c.length, 0) > 64 * 1024) break
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Reports an error without tokens or secrets; messages of our own errors carry neither. */
function fail(err: Out, error: unknown): number {
  if (error instanceof AdminError || error instanceof ConfigError || error instanceof StoreError) {
    const code = error instanceof StoreError ? ` (${error.code})` : ''
    err.write(`gatehouse admin: ${error.message}${code}\n`)
    return 1
  }
  if (error instanceof TypeError) {
    err.write(`gatehouse admin: ${error.message}\n`)
    return 1
  }
  throw error
}

const TIME_COLUMNS = new Set(['createdAt', 'retiredAt'])

function cell(value: unknown): string {
  if (value === undefined) return ''
  if (Array.isArray(value)) return value.join(' ')
  if (typeof value === 'string') return value
  return JSON.stringify(value)
}

/** A plain table: a header row and aligned columns. */
function print(out: Out, json: boolean, rows: object[], columns: string[]): void {
  if (json) {
    out.write(`${JSON.stringify(rows, null, 2)}\n`)
    return
  }
  if (rows.length === 0) {
    out.write('(none)\n')
    return
  }
  const table = [
    columns,
    ...rows.map((row) =>
      columns.map((c) => {
        const value = (row as Record<string, unknown>)[c]
        // Seconds since the epoch read better as UTC times in a table; --json keeps numbers.
        return TIME_COLUMNS.has(c) && typeof value === 'number'
          ? new Date(value * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
          : cell(value)
      }),
    ),
  ]
  const widths = columns.map((_, i) => Math.max(...table.map((line) => line[i]?.length ?? 0)))
  for (const line of table) {
    out.write(
      `${line
        .map((text, i) => text.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    )
  }
}

function printOne(out: Out, json: boolean, value: object): void {
  if (json) {
    out.write(`${JSON.stringify(value, null, 2)}\n`)
    return
  }
  const entries = Object.entries(value)
  const width = Math.max(...entries.map(([key]) => key.length))
  for (const [key, item] of entries) out.write(`${key.padEnd(width)}  ${cell(item)}\n`)
}
