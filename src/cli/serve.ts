/**
 * `gatehouse serve`: Gatehouse as an OAuth gateway in front of existing MCP servers (HTTP or
 * stdio), with no code. Builds the configuration (file, `GATEHOUSE_*` overlay, or the flag form),
 * opens the store, optionally starts the embedded dev IdP, and serves the OAuth endpoints and the
 * gateway routes on one listener. CIMD is on by default, through the DNS-pinned Node transport.
 */
import { authorityReadable } from '../config/qualified-authority.js'
import { listenMetrics } from '../ops/metrics-listener.js'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { constants } from 'node:fs'
import { chmod, link, lstat, mkdir, open, unlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { nodeCrypto } from '../adapters/node-crypto-options.js'
import { createNodeTransport, type NodeTransportOptions } from '../adapters/node-transport.js'
import { applyEnv, overlayEnv } from '../config/env.js'
import type { ResolvedConfig } from '../config/schema.js'
import { isLoopbackHost, parseURL } from '../config/urls.js'
import { ConfigError } from '../errors.js'
import { createGatehouse, type Gatehouse } from '../gatehouse.js'
import { createUpstream } from '../gateway/create-upstream.js'
import { loadCredential } from '../gateway/credentials.js'
import { networkCause, safeURL } from '../gateway/network-cause.js'
import { createGateway, type Gateway } from '../gateway/gateway.js'
import type { AccessToken } from '../jwt/access-token.js'
import type { OAuthProxy } from '../upstream/oauth-proxy.js'
import { readinessResponse } from '../ops/health.js'
import type { Logger } from '../ops/logger.js'
import { createMemoryStore } from '../storage/memory.js'
import type { Store } from '../storage/store.js'
import type { SigningKeys } from '../tokens/keys.js'
import { startListener } from './listener.js'

export interface ServeOptions {
  /** Configuration input (the file, or built from flags); `GATEHOUSE_*` variables in `env` apply over it. */
  config: Record<string, unknown>
  port: number
  /** Address to listen on; default 127.0.0.1. */
  host?: string
  /** Sign users in at the embedded dev IdP, as these users (development and tests). */
  devIdp?: { users: readonly DevUser[] } | undefined
  /** `memory`, `sqlite` (in `dataDir`) or `redis` (`redisUrl`). Default sqlite. */
  store?: 'memory' | 'sqlite' | 'redis'
  dataDir?: string
  redisUrl?: string
  /** A store you built (e.g. Redis with your own key prefix); replaces `store`. Closed on close. */
  storeInstance?: Store
  /** How Gatehouse reaches client metadata documents (tests inject a CA and a resolver). */
  outbound?: NodeTransportOptions
  env?: NodeJS.ProcessEnv
  /** Operational messages of the gateway (start-up warnings, upstream failures, stdio stderr). */
  log?: (message: string) => void
  /** Request lines, refusals and audit events (pino-compatible); default silent. */
  logger?: Logger
  /** Prometheus metrics at `/metrics` (default on). */
  metrics?: boolean
}

/** A user of the embedded dev IdP (`sub` = `user`). */
export interface DevUser {
  user: string
  password: string
  claims?: Record<string, unknown>
}

export interface RunningServe {
  issuer: string
  /** The port the listener is on (the issuer may name another, behind a proxy). */
  port: number
  /** The URL of each route, by path. */
  routes: Record<string, string>
  gatehouse: Gatehouse
  gateway: Gateway
  idpIssuer?: string
  /** The separate metrics listener's URL, when `metrics.listen` is set. */
  metricsUrl?: string
  /** SIGTERM behaviour: no new sessions, in-flight requests finish, children stop, then close. */
  drain(): Promise<void>
  close(): Promise<void>
}

/** Starts the gateway; rejects with `ConfigError` for a configuration that cannot work. */
export async function startServe(options: ServeOptions): Promise<RunningServe> {
  const env = options.env ?? process.env
  const log = options.log ?? (() => undefined)
  const listener = await startListener(options.port, options.host)
  const port = listener.port
  const closers: (() => Promise<void>)[] = [() => listener.close()]
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined)
  }
  try {
    let idpIssuer: string | undefined
    const {
      input: config,
      config: checked,
      issuer,
    } = await buildServeConfig({
      config: options.config,
      port,
      env,
      store: options.store ?? 'sqlite',
      ...(options.devIdp
        ? {
            devIdp: async (issuer: string) => {
              const idp = await startIdP(issuer, options.devIdp?.users ?? [])
              closers.push(() => idp.close())
              idpIssuer = idp.issuer
              return idp.upstream
            },
            devSecret: async () => {
              // A secret made now would not read the store's data after a restart: kept beside it.
              const dir = resolve(options.dataDir ?? '.gatehouse')
              const secret = await devSecret(dir)
              log(
                `--dev-idp: the store's secret is in ${dir}/dev-secret; set GATEHOUSE_SECRET in production`,
              )
              return secret
            },
          }
        : {}),
    })
    if (!checked.gateway) throw new ConfigError(['gateway: give at least one route'])
    const store = await openStore(options)
    const gatehouse = await createGatehouse({
      config,
      store,
      ...nodeCrypto,
      transport: createNodeTransport(options.outbound),
      onWarning: log,
      metrics: options.metrics ?? true,
      ...(options.logger ? { logger: options.logger } : {}),
    }).catch((error: unknown) => {
      throw secretMismatch(error, options)
    })
    closers.push(() => gatehouse.close())
    // `metrics.listen`: the main listener serves no /metrics, so open the separate one.
    const metricsAt = checked.metrics.listen
    let metricsUrl: string | undefined
    if (metricsAt !== undefined && gatehouse.metricsRegistry) {
      const metricsListener = await listenMetrics({
        source: gatehouse.metricsRegistry,
        listen: metricsAt,
        token: checked.metrics.token,
      })
      closers.push(() => metricsListener.close())
      metricsUrl = metricsListener.url
    }
    // The OAuth/OIDC proxy keeps each user's IdP token (refreshed upstream when due).
    const proxy = gatehouse.base as Partial<{
      getUpstreamToken(t: AccessToken): Promise<string>
    }>
    const userToken =
      typeof proxy.getUpstreamToken === 'function'
        ? (t: AccessToken) =>
            (proxy.getUpstreamToken as (t: AccessToken) => Promise<string>).call(proxy, t)
        : undefined
    // Entra On-Behalf-Of (`azure-obo` route credentials): the Azure provider's capability.
    const onBehalfOf = (gatehouse.base as Partial<OAuthProxy>).capabilities?.onBehalfOf
    // A security token service refused the user's IdP token: their grant ends (token-exchange).
    const grants = (gatehouse.base as Partial<OAuthProxy>).grants
    const endSignIn = grants
      ? async (t: AccessToken) => {
          if (t.grantId !== undefined) await grants.revoke(t.grantId)
        }
      : undefined
    const groupsOf = groupsFromGrants(gatehouse)
    const gateway = createGateway({
      gatehouse,
      store,
      groupsOf,
      upstream: (route, index) =>
        createUpstream(route, index, {
          env,
          log,
          signer: { keys: gatehouse.keys, issuer: checked.issuer },
          audit: gatehouse.audit,
          tracing: gatehouse.tracing,
          ...(userToken ? { userToken } : {}),
          ...(onBehalfOf ? { onBehalfOf } : {}),
          ...(endSignIn ? { endSignIn } : {}),
          groupsOf,
        }),
    })
    closers.push(() => gateway.close())
    const gw = checked.gateway
    const maxBody = Math.max(checked.maxBodyBytes, ...gw.routes.map((r) => r.maxBodyBytes))
    const publicHost = new URL(issuer).host
    const allowedHosts = isLoopbackHost(new URL(issuer).hostname)
      ? [`127.0.0.1:${port}`, `localhost:${port}`, publicHost]
      : undefined
    const readyPath = `${checked.basePath}/readyz`
    listener.serve(
      (request) =>
        gateway.handle(request) ??
        (new URL(request.url).pathname === readyPath && request.method === 'GET'
          ? readiness(request, gatehouse, gateway)
          : gatehouse.fetch(request)),
      {
        baseUrl: issuer,
        maxBodyBytes: maxBody + 1,
        holdSmallBody: true,
        lightRequest: true,
        ...(allowedHosts ? { allowedHosts } : {}),
      },
    )
    // The MCP servers may come later: an operator's warning, never a refusal.
    await warnUnreachableUpstreams(checked, log)
    const routes = Object.fromEntries(
      gw.routes.map((r) => [r.path, `${new URL(issuer).origin}${r.path}`]),
    )
    let closed: Promise<void> | undefined
    return {
      issuer,
      port,
      routes,
      gatehouse,
      gateway,
      ...(idpIssuer !== undefined ? { idpIssuer } : {}),
      ...(metricsUrl !== undefined ? { metricsUrl } : {}),
      async drain() {
        await gateway.drain()
        await (closed ??= closeAll())
      },
      close: () => (closed ??= closeAll()),
    }
  } catch (error) {
    await closeAll()
    throw error
  }
}

/** What `serve` makes of a configuration before it opens anything. */
export interface ServeConfigOptions {
  /** The file's configuration (or the flag form's); `GATEHOUSE_*` variables in `env` apply over it. */
  config: Record<string, unknown>
  /** The port the default issuer names (`http://127.0.0.1:PORT`). */
  port: number
  env: Readonly<Record<string, string | undefined>>
  /** Default sqlite: the store decides whether a secret may be made at start-up. */
  store?: 'memory' | 'sqlite' | 'redis'
  /** `--dev-idp`: the embedded IdP's `upstream` section, for this issuer (serve starts it here). */
  devIdp?: (issuer: string) => Promise<Record<string, unknown>>
  /** `--dev-idp` on the SQLite store without `GATEHOUSE_SECRET`: the secret kept beside the store. */
  devSecret?: () => Promise<string>
}

export interface ServeConfig {
  /** The configuration input with the defaults and the variables applied (for `createGatehouse`). */
  input: Record<string, unknown>
  config: ResolvedConfig
  /** The issuer, without a trailing slash. */
  issuer: string
  /** The defaults `serve` supplied, in words (`check-config` says what it assumed). */
  defaults: string[]
}

/**
 * The configuration `gatehouse serve` runs with, and every refusal it makes before serving: the
 * defaults go under the file's values (`issuer` from the port, CIMD on, `resources` from the
 * routes, a secret for the memory store or `--dev-idp`), the variables over both; then the schema,
 * an identity provider, and each route's credential (its variable set, its file readable, an IdP
 * for `idp-token`). `check-config` calls this too, so both agree. Throws `ConfigError` listing
 * every problem it found.
 */
export async function buildServeConfig(options: ServeConfigOptions): Promise<ServeConfig> {
  const env = options.env
  const defaults: string[] = []
  const problems: string[] = []
  // Defaults go under the file's values; `GATEHOUSE_*` variables then apply over both
  // (`applyEnv` below). `effective` is what the variables will make of the file, to decide.
  const input: Record<string, unknown> = { ...options.config }
  const effective = overlayEnv(input, env).config
  if (effective.issuer === undefined) {
    input.issuer = `http://127.0.0.1:${options.port}`
    defaults.push(`issuer ${input.issuer as string} (from the port; set issuer or --issuer)`)
  }
  const issuerValue = effective.issuer ?? input.issuer
  if (typeof issuerValue !== 'string') throw new ConfigError(['issuer: must be a URL'])
  const issuer = issuerValue.replace(/\/+$/, '')
  if (effective.secret === undefined) {
    const store = options.store ?? 'sqlite'
    if (store === 'memory') {
      input.secret = randomBytes(32).toString('base64url')
      defaults.push('secret made at start-up (--store memory)')
    } else if (options.devIdp && options.devSecret && store === 'sqlite') {
      input.secret = await options.devSecret()
      defaults.push('secret from <data-dir>/dev-secret (--dev-idp on SQLite), made the first time')
    } else {
      problems.push(
        options.devIdp
          ? 'secret: set GATEHOUSE_SECRET (32+ characters): one made at start-up would not read this store after a restart'
          : 'secret: set GATEHOUSE_SECRET (32+ characters)',
      )
      // Reported above; a stand-in keeps the schema from reporting it again.
      input.secret = randomBytes(32).toString('base64url')
    }
  }
  // Some MCP clients (VS Code) use only Client ID Metadata Documents: on unless turned off.
  const cimd = (input.clientIdMetadataDocuments ?? {}) as Record<string, unknown>
  input.clientIdMetadataDocuments = { enabled: true, ...cimd }
  if (cimd.enabled === undefined) defaults.push('clientIdMetadataDocuments.enabled true')
  const issuerURL = parseURL(issuer)
  // An issuer that is not a URL is the schema's to report (the IdP needs it for its redirect URI).
  if (options.devIdp && problems.length === 0 && issuerURL) {
    input.upstream = await options.devIdp(issuer)
    if (isLoopbackHost(issuerURL.hostname)) {
      input.clientIdMetadataDocuments = {
        ...(input.clientIdMetadataDocuments as object),
        dangerouslyAllowLoopback: true,
      }
    }
  }
  if (!options.devIdp && input.upstream === undefined && effective.upstream === undefined) {
    problems.push(NO_IDP)
  }
  // Validate everything before opening anything that lasts.
  let applied: { input: Record<string, unknown>; config: ResolvedConfig }
  try {
    applied = applyEnv(input, env)
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError([...problems, ...error.issues])
    throw error
  }
  if (applied.config.gateway) {
    const routes = applied.config.gateway.routes.length
    const own = Array.isArray(effective.resources) ? effective.resources.length : 0
    if (applied.config.resources.length > own) {
      defaults.push(`resources from the ${routes} route(s)`)
    }
  }
  problems.push(...routeProblems(applied.config, env, options.devIdp !== undefined))
  if (problems.length > 0) throw new ConfigError(problems)
  return { ...applied, issuer, defaults }
}

/** No identity provider: worded so that `--upstream` (the MCP server) is not taken for it. */
export const NO_IDP =
  'no identity provider: set `upstream` (the IdP users sign in at) in a config file or GATEHOUSE_UPSTREAM__* variables, or use --dev-idp (`--upstream` names the MCP server)'

/**
 * What each route's credential needs at start-up, as `createUpstream` will load it: its variable
 * set or its file readable, an identity provider for `idp-token` and `token-exchange`, Entra ID
 * for `azure-obo`. Nothing is signed or fetched here.
 */
function routeProblems(
  config: ResolvedConfig,
  env: Readonly<Record<string, string | undefined>>,
  devIdp: boolean,
): string[] {
  const problems: string[] = []
  // `--dev-idp` gives one, even when another problem kept it from being started.
  const idp = devIdp || config.upstream !== undefined || config.upstreams !== undefined
  const entra = config.upstream?.kind === 'azure' && config.upstream.b2c === undefined
  const never = () => Promise.reject(new Error('not at start-up'))
  config.gateway?.routes.forEach((route, i) => {
    const u = route.upstream
    if (u.kind === 'stdio') return
    try {
      loadCredential(
        u.credential,
        u.identityHeaders,
        u.url,
        `gateway.routes.${i}.upstream.credential`,
        {
          env,
          // serve always has Gatehouse's keys; nothing is signed here.
          signer: { keys: undefined as unknown as SigningKeys, issuer: config.issuer },
          ...(idp ? { userToken: never } : {}),
          ...(entra ? { onBehalfOf: never } : {}),
        },
      )
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      problems.push(...error.issues)
    }
  })
  return problems
}

/**
 * Start-up: warns (operator only) about each HTTP or SSE route whose MCP server does not answer
 * now, naming the route, the URL and the cause. Never fails: the server may come later.
 */
export async function warnUnreachableUpstreams(
  config: ResolvedConfig,
  log: (message: string) => void,
  timeoutMs = 2000,
): Promise<void> {
  await Promise.all(
    (config.gateway?.routes ?? []).map(async (route) => {
      const u = route.upstream
      if (u.kind === 'stdio') return
      const cause = await unreachable(u.url, timeoutMs)
      if (cause === undefined) return
      log(
        `route ${route.path}: upstream ${safeURL(u.url)} is not reachable now (${cause}); starting anyway, its calls answer 502 until it is`,
      )
    }),
  )
}

/**
 * Why the server at `url` cannot be reached now (`ECONNREFUSED`, `ENOTFOUND`, `timed out`), or
 * `undefined` when it accepts a connection. Only a TCP connection, closed at once: the MCP server
 * sees no request.
 */
function unreachable(url: string, timeoutMs: number): Promise<string | undefined> {
  const u = parseURL(url)
  if (!u) return Promise.resolve('invalid URL')
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80))
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  return new Promise((done) => {
    const socket = connect({ host, port })
    const finish = (cause: string | undefined) => {
      socket.destroy()
      done(cause)
    }
    socket.setTimeout(timeoutMs, () => {
      finish('timed out')
    })
    socket.once('connect', () => {
      finish(undefined)
    })
    socket.once('error', (error) => {
      finish(networkCause(error))
    })
  })
}

/**
 * The caller's groups as the IdP sent them at sign-in, kept with the grant (Gatehouse's access
 * tokens do not carry them: lists can be long). Cached per grant for a minute.
 */
function groupsFromGrants(gatehouse: Gatehouse): (token: AccessToken) => Promise<string[]> {
  const cache = new Map<string, { groups: string[]; until: number }>()
  return async (token) => {
    if (token.grantId === undefined || token.machine === true) return []
    const now = Date.now()
    const hit = cache.get(token.grantId)
    if (hit && hit.until > now) return hit.groups
    const grant = await gatehouse.base.grants.get(token.grantId)
    const raw = authorityReadable(grant?.claims) ? grant?.claims?.groups : undefined
    const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : []
    if (cache.size >= 10_000) cache.clear()
    cache.set(token.grantId, { groups, until: now + 60_000 })
    return groups
  }
}

/**
 * `/readyz` of the gateway: Gatehouse's own checks (store, signing keys, IdP) and each route's MCP
 * server (reachable over HTTP, or the stdio program can be started); 503 naming what failed.
 */
async function readiness(request: Request, gatehouse: Gatehouse, gateway: Gateway) {
  const [own, routes] = await Promise.all([
    gatehouse.fetch(request),
    readinessResponse(gateway.readiness(), 3000),
  ])
  if (own.status !== 200 && own.status !== 503) return own
  const a = (await own.json()) as { checks?: Record<string, string> }
  const b = (await routes.json()) as { checks?: Record<string, string> }
  const ready = own.status === 200 && routes.status === 200
  return new Response(
    JSON.stringify({
      status: ready ? 'ok' : 'unavailable',
      checks: { ...a.checks, ...b.checks },
    }),
    {
      status: ready ? 200 : 503,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    },
  )
}

/** The embedded dev IdP with one user and Gatehouse's client registered at it. */
async function startIdP(
  issuer: string,
  users: readonly DevUser[],
): Promise<{ issuer: string; upstream: Record<string, unknown>; close(): Promise<void> }> {
  const { startDevIdentityProvider } = await import('../dev/oidc-idp/server.js').catch(
    (error: unknown) => {
      throw new Error('--dev-idp needs the package oidc-provider (npm install it)', {
        cause: error,
      })
    },
  )
  const secret = randomBytes(32).toString('base64url')
  const idp = await startDevIdentityProvider({
    users: users.map((user) => ({
      username: user.user,
      password: user.password,
      sub: user.user,
      name: user.user,
      email: `${user.user}@gatehouse.dev`,
      ...(user.claims ? { claims: user.claims } : {}),
    })),
    clients: [
      {
        clientId: 'gatehouse-serve',
        clientSecret: secret,
        redirectUris: [`${issuer}/auth/callback`],
        clientName: 'Gatehouse',
      },
    ],
  })
  return {
    issuer: idp.issuer,
    upstream: {
      kind: 'oidc',
      configUrl: `${idp.issuer}/.well-known/openid-configuration`,
      clientId: 'gatehouse-serve',
      clientSecret: secret,
    },
    close: () => idp.close(),
  }
}

async function openStore(options: ServeOptions): Promise<Store> {
  if (options.storeInstance) return options.storeInstance
  switch (options.store ?? 'sqlite') {
    case 'memory':
      return createMemoryStore()
    case 'redis': {
      const { createRedisStore } = await import('../storage/redis.js')
      return createRedisStore(options.redisUrl !== undefined ? { url: options.redisUrl } : {})
    }
    case 'sqlite': {
      const { createSqliteStore } = await import('../storage/sqlite.js')
      return createSqliteStore({ dataDir: resolve(options.dataDir ?? '.gatehouse') })
    }
  }
}

/**
 * `--dev-idp` on the SQLite store without `GATEHOUSE_SECRET`: the secret in `dir/dev-secret`,
 * made (32 random bytes) the first time. Whoever could plant that file could read the store, so
 * the directory must be this user's and writable by nobody else, and the file a regular file (no
 * symlink), this user's, readable by nobody else, holding exactly such a secret; anything else is
 * refused, naming the file. It is written whole under another name and linked into place, so no
 * start ever reads half of it, and of two starts at once the first link wins.
 */
async function devSecret(dir: string): Promise<string> {
  const file = join(dir, 'dev-secret')
  const refuse = (why: string) =>
    new ConfigError([`secret: ${file} ${why}; set GATEHOUSE_SECRET, or remove it`])
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const uid = process.getuid?.()
  // Where ownership and modes mean nothing (Windows), the file's content is all there is to check.
  const posix = uid !== undefined
  let where = await lstat(dir)
  if (!where.isDirectory() || (posix && where.uid !== uid)) {
    throw new ConfigError([
      `secret: ${dir} must be a directory of this user; set GATEHOUSE_SECRET, or use another --data-dir`,
    ])
  }
  // This user's own directory, made by an earlier run under a umask that lets the group write
  // (002): closed to others now, which takes nothing from this user.
  if (posix && (where.mode & 0o022) !== 0) {
    await chmod(dir, where.mode & 0o755)
    where = await lstat(dir)
    if ((where.mode & 0o022) !== 0) {
      throw new ConfigError([
        `secret: ${dir} can be written by other users; set GATEHOUSE_SECRET, or run chmod go-w on it`,
      ])
    }
  }
  const read = async (): Promise<string | undefined> => {
    let handle
    try {
      handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return undefined
      if (code === 'ELOOP') throw refuse('is a symbolic link')
      throw error
    }
    try {
      const info = await handle.stat()
      if (!info.isFile()) throw refuse('is not a regular file')
      if (posix && info.uid !== uid) throw refuse('belongs to another user')
      if (posix && (info.mode & 0o077) !== 0) throw refuse('can be read or written by other users')
      const secret = (await handle.readFile('utf8')).trim()
      if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) throw refuse('does not hold a secret Gatehouse made')
      return secret
    } finally {
      await handle.close()
    }
  }
  const found = await read()
  if (found !== undefined) return found
  const temporary = join(dir, `.dev-secret.${randomBytes(8).toString('hex')}`)
  await writeFile(temporary, `${randomBytes(32).toString('base64url')}\n`, {
    mode: 0o600,
    flag: 'wx',
  })
  try {
    await link(temporary, file).catch(async (error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST') return
      // A file system without hard links (some shared mounts): exclusive create instead.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'ENOSYS')
        throw error
      await writeFile(file, `${randomBytes(32).toString('base64url')}\n`, {
        mode: 0o600,
        flag: 'wx',
      }).catch((again: unknown) => {
        if ((again as NodeJS.ErrnoException).code !== 'EEXIST')
          throw refuse('could not be made here')
      })
    })
  } finally {
    await unlink(temporary).catch(() => undefined)
  }
  const made = await read()
  if (made === undefined) throw refuse('could not be made')
  return made
}

/** A store written with another secret: the remedy, beside the store's own words. */
function secretMismatch(error: unknown, options: ServeOptions): unknown {
  if (!(error instanceof Error) || !error.message.startsWith('cannot decrypt stored value')) {
    return error
  }
  const where =
    (options.store ?? 'sqlite') === 'sqlite'
      ? `the store in ${resolve(options.dataDir ?? '.gatehouse')}`
      : 'the store'
  return new ConfigError([
    `secret: ${error.message}. Start with the GATEHOUSE_SECRET ${where} was written with, or with an empty store`,
  ])
}
