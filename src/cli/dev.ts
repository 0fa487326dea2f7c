/**
 * `gatehouse dev`: the whole flow on one machine. An embedded OpenID provider with a real login
 * page, Gatehouse as an OIDC proxy in front of it, and a demo MCP server at `/mcp`, all on
 * 127.0.0.1. State lives in a SQLite file under `--data-dir` (kept across restarts) unless
 * `--memory` is given.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { nodeCrypto } from '../adapters/node-crypto-options.js'
import { createNodeTransport, type NodeTransportOptions } from '../adapters/node-transport.js'
import { createGatehouse, type Gatehouse } from '../gatehouse.js'
import { createMCPHandler } from '../mcp/handler.js'
import type { CreateMCPServer } from '../mcp/server-like.js'
import { createMemoryStore } from '../storage/memory.js'
import type { Store } from '../storage/store.js'
import type { LOG_LEVELS } from '../config/ops-schema.js'
import type { Logger } from '../ops/logger.js'
import { startListener, type Listener } from './listener.js'
import { isDevStandIn, type DevStandInName } from '../dev/dev-stand-in-names.js'

type LogLevel = (typeof LOG_LEVELS)[number]

export interface DevOptions {
  /** Gatehouse's port; 0 picks a free one. */
  port: number
  dataDir: string
  memory: boolean
  user: string
  password: string
  /** How Gatehouse reaches client metadata documents (tests inject a CA and a resolver). */
  outbound?: NodeTransportOptions
  /**
   * The identity provider: the embedded OpenID provider (default), the local Entra stand-in, or
   * the stand-in of another provider (`src/dev/dev-stand-in-names.ts`).
   */
  provider?: 'oidc' | 'azure' | DevStandInName
  /** Request lines, refusals and audit events (the CLI passes pino); default silent. */
  logger?: Logger
  /** Log level of `config.log.level` (applies to the logger the CLI builds). */
  logLevel?: LogLevel
}

export interface DevServer {
  issuer: string
  mcpUrl: string
  idpIssuer: string
  /** The operator page, when the dev user is its administrator (the embedded dev IdP). */
  adminUrl?: string
  gatehouse: Gatehouse
  close(): Promise<void>
}

export const DEV_DEFAULTS = {
  port: 8787,
  dataDir: '.gatehouse',
  user: 'dev',
  password: 'dev',
} as const

/** Starts the IdP, Gatehouse and the demo MCP server. */
export async function startDev(options: DevOptions): Promise<DevServer> {
  const [{ startDevIdentityProvider }, { createDemoServer }] = await Promise.all([
    import('../dev/oidc-idp/index.js'),
    import('./../dev/demo-server.js'),
  ]).catch((error: unknown) => {
    throw new Error(
      'gatehouse dev needs the packages oidc-provider and @modelcontextprotocol/sdk (npm install them)',
      { cause: error },
    )
  })
  const listener = await startListener(options.port)
  const issuer = `http://127.0.0.1:${listener.port}`
  const store = await openStore(options)
  const secret = options.memory
    ? randomBytes(32).toString('base64url')
    : loadSecret(options.dataDir)
  const common = {
    listener,
    issuer,
    store,
    secret,
    createDemoServer,
    outbound: options.outbound,
    logger: options.logger,
    logLevel: options.logLevel,
  }
  if (options.provider === 'azure') {
    const { startAzureDevUpstream } = await import('../dev/azure-dev.js')
    const entra = await startAzureDevUpstream({ issuer, ...options })
    return serve({
      ...common,
      upstream: entra.upstream,
      idp: { idpIssuer: entra.issuer, close: () => entra.close() },
    })
  }
  if (options.provider !== undefined && isDevStandIn(options.provider)) {
    const { startProviderDevUpstream } = await import('../dev/provider-dev.js')
    const stand = await startProviderDevUpstream(options.provider, { issuer, ...options })
    return serve({
      ...common,
      upstream: stand.upstream,
      idp: { idpIssuer: stand.issuer, close: () => stand.close() },
    })
  }
  const upstreamSecret = randomBytes(32).toString('base64url')
  const idp = await startDevIdentityProvider({
    users: [
      {
        username: options.user,
        password: options.password,
        sub: options.user,
        name: options.user,
        email: `${options.user}@gatehouse.dev`,
      },
    ],
    clients: [
      {
        clientId: 'gatehouse-dev',
        clientSecret: upstreamSecret,
        redirectUris: [`${issuer}/auth/callback`],
        clientName: 'Gatehouse (dev)',
      },
    ],
  })
  return serve({
    ...common,
    upstream: {
      kind: 'oidc',
      configUrl: `${idp.issuer}/.well-known/openid-configuration`,
      clientId: 'gatehouse-dev',
      clientSecret: upstreamSecret,
    },
    // The dev user (whose sub is the username) administers the dev server at /admin.
    admin: { enabled: true, subjects: [options.user] },
    idp: { idpIssuer: idp.issuer, close: () => idp.close() },
  })
}

/** Gatehouse in front of `upstream` and the demo MCP server, on the `listener`. */
async function serve({
  listener,
  issuer,
  store,
  secret,
  upstream,
  admin,
  createDemoServer,
  idp,
  outbound,
  logger,
  logLevel,
}: {
  listener: Listener
  issuer: string
  store: Store
  secret: string
  upstream: Record<string, unknown>
  admin?: { enabled: boolean; subjects: string[] }
  createDemoServer: CreateMCPServer
  idp: { idpIssuer: string; close(): Promise<void> }
  outbound: NodeTransportOptions | undefined
  logger: Logger | undefined
  logLevel: LogLevel | undefined
}): Promise<DevServer> {
  const gatehouse = await createGatehouse({
    config: {
      issuer,
      secret,
      resources: [
        {
          url: `${issuer}/mcp`,
          scopes: ['mcp:read', 'mcp:write'],
          name: 'Gatehouse demo MCP server',
          // The MCP Inspector's browser UI.
          allowedOrigins: ['http://localhost:6274', 'http://127.0.0.1:6274'],
        },
      ],
      upstream,
      ...(admin ? { admin } : {}),
      // MCP clients may use a metadata-document URL as client_id; in development also one on
      // this machine (a client serving its own document from localhost).
      clientIdMetadataDocuments: { enabled: true, dangerouslyAllowLoopback: true },
      ...(logLevel ? { log: { level: logLevel } } : {}),
    },
    store,
    // Operators of the dev server see requests, refusals, audit events and /metrics.
    metrics: true,
    ...(logger ? { logger } : {}),
    ...nodeCrypto,
    transport: createNodeTransport(outbound),
  })
  const mcp = createMCPHandler(gatehouse, {
    mode: 'stateless',
    createServer: createDemoServer,
    enableJsonResponse: true,
  })
  const port = listener.port
  listener.serve(
    (request) =>
      new URL(request.url).pathname === '/mcp' ? mcp(request) : gatehouse.fetch(request),
    // The issuer never comes from Host, and other Host values are refused (DNS rebinding).
    { baseUrl: issuer, allowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`] },
  )
  return {
    issuer,
    mcpUrl: `${issuer}/mcp`,
    idpIssuer: idp.idpIssuer,
    ...(admin ? { adminUrl: `${issuer}/admin` } : {}),
    gatehouse,
    async close() {
      await listener.close()
      await mcp.close()
      await idp.close()
      await gatehouse.close()
    },
  }
}

async function openStore(options: DevOptions): Promise<Store> {
  if (options.memory) return createMemoryStore()
  const { createSqliteStore } = await import('../storage/sqlite.js')
  return createSqliteStore({ dataDir: resolve(options.dataDir) })
}

/** The storage secret for this data directory: created once, kept beside the data (mode 600). */
function loadSecret(dataDir: string): string {
  const fromEnv = process.env.GATEHOUSE_SECRET
  if (fromEnv !== undefined && fromEnv.length >= 32) return fromEnv
  mkdirSync(resolve(dataDir), { recursive: true })
  const file = join(resolve(dataDir), 'secret')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  const secret = randomBytes(32).toString('base64url')
  writeFileSync(file, `${secret}\n`, { mode: 0o600 })
  return secret
}
