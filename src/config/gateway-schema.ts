/**
 * The `gateway` section: the routes `gatehouse serve` puts in front of existing MCP servers. Each
 * route is its own protected resource (`{issuer origin}{path}`): `withGatewayResources` adds the
 * resource entries the rest of the configuration needs, so a gateway file may omit `resources`.
 */
import * as z from 'zod'
import { isSecureOrLoopbackURL, scopeToken } from './azure-schema.js'
import { ruleKeyProblem } from './resource-uri.js'
import { absoluteURL, canonicalResource, httpURL, isLoopbackHost, parseURL } from './urls.js'

/** An environment variable name (the secret's value is read from it at start-up). */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')

/**
 * A security token service's endpoint: the user's IdP token (and the client secret) go there, so
 * never in clear over a network (https, or http on a loopback address).
 */
const stsEndpoint = () =>
  absoluteURL().refine((value) => isSecureOrLoopbackURL(value, isLoopbackHost), {
    message: 'must use https unless it is a loopback address',
  })

/** What an RFC 8693 token exchange at a security token service is configured with. */
const tokenExchangeFields = () => ({
  kind: z.literal('token-exchange'),
  /** The STS's token endpoint: https, or http on a loopback address. */
  tokenEndpoint: stsEndpoint(),
  clientId: z.string().min(1),
  /** The variable holding the client secret (sent with HTTP Basic); none: a public client. */
  clientSecretFromEnv: envName.optional(),
  audience: z.string().min(1).optional(),
  resource: absoluteURL().optional(),
  scopes: z.array(scopeToken).optional(),
  timeoutSeconds: z.number().min(1).max(60).default(10),
})

/** An HTTP header name. */
const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name')

/**
 * What the upstream receives instead of the client's token. Secrets come from the environment or
 * a file, never from the configuration itself or the command line.
 */
export const UpstreamCredentialSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('none') }),
  z
    .strictObject({
      kind: z.literal('header'),
      /** Header name, e.g. `Authorization` or `X-Api-Key`. */
      name: headerName,
      /** Written before the secret (e.g. `Bearer `). */
      prefix: z.string().max(64).default(''),
      /** The environment variable that holds the secret. */
      valueFromEnv: envName.optional(),
      /** A file that holds the secret (trailing newline removed). */
      valueFile: z.string().min(1).optional(),
    })
    .refine((h) => (h.valueFromEnv === undefined) !== (h.valueFile === undefined), {
      message: 'give valueFromEnv or valueFile (one)',
    }),
  /**
   * A short-lived JWT signed by Gatehouse for the upstream's own audience: `iss` Gatehouse's
   * issuer, `aud` the upstream URL (or `audience`), the caller's `sub`, `client_id`, `scope`,
   * `roles`; verifiable with the keys at `/.well-known/jwks.json` (e.g. with `JWTVerifier`).
   */
  z.strictObject({
    kind: z.literal('gatehouse-token'),
    name: headerName.default('Authorization'),
    prefix: z.string().max(64).default('Bearer '),
    /** The `aud` of the token; default the upstream URL. */
    audience: absoluteURL().optional(),
    /** Lifetime (never beyond the client's own token). */
    ttlSeconds: z.number().int().min(30).max(3600).default(300),
  }),
  /**
   * The user's own access token at the identity provider Gatehouse signed them in at (needs
   * `upstream`, the OAuth/OIDC proxy); refreshed at the IdP when it is about to expire.
   */
  z.strictObject({
    kind: z.literal('idp-token'),
    name: headerName.default('Authorization'),
    prefix: z.string().max(64).default('Bearer '),
  }),
  /**
   * RFC 8693 token exchange at a security token service: the user's IdP access token (as
   * `subject_token`) traded for a token for the upstream, cached until shortly before it expires.
   */
  z.strictObject({
    name: headerName.default('Authorization'),
    prefix: z.string().max(64).default('Bearer '),
    ...tokenExchangeFields(),
  }),
  /**
   * Microsoft Entra On-Behalf-Of: the user's Entra access token (Gatehouse's upstream must be
   * `kind: azure`, not B2C) traded at Entra for a token for `scopes` of another API (e.g.
   * `https://graph.microsoft.com/User.Read`, `api://orders/.default`), cached until shortly before
   * it expires. `entra-obo`, its name before issue 12, is still accepted and read as `azure-obo`.
   */
  z.strictObject({
    kind: z.literal(['azure-obo', 'entra-obo']).transform(() => 'azure-obo' as const),
    name: headerName.default('Authorization'),
    prefix: z.string().max(64).default('Bearer '),
    /** Scopes of one downstream API, as Entra spells them (resource URI and scope). */
    scopes: z.array(scopeToken).min(1),
  }),
])

/**
 * Headers that tell the upstream who the caller is. Set by the gateway only: the client's own
 * headers of these names never pass (the request headers are an allow-list).
 */
export const IdentityHeadersSchema = z.strictObject({
  /** The user's `sub` (not sent for a client acting for itself). */
  subject: headerName.default('X-Gatehouse-Subject'),
  /** Who vouches for the subject (the token's `issuer`). */
  issuer: headerName.default('X-Gatehouse-Issuer'),
  clientId: headerName.default('X-Gatehouse-Client-Id'),
  /** Granted scopes, space-separated. */
  scopes: headerName.default('X-Gatehouse-Scopes'),
  /** The token's roles, comma-separated. */
  roles: headerName.default('X-Gatehouse-Roles'),
  /**
   * Instead of the plain headers, one header holding a short-lived JWT Gatehouse signs (`typ`
   * `gatehouse-identity+jwt`, `aud` the upstream URL or `audience`), which the server verifies
   * with the keys at `/.well-known/jwks.json`: it no longer has to trust whoever can reach it.
   */
  signed: z
    .strictObject({
      name: headerName.default('X-Gatehouse-Identity'),
      /** The `aud` of the JWT; default the upstream URL. */
      audience: absoluteURL().optional(),
      ttlSeconds: z.number().int().min(30).max(3600).default(300),
    })
    .optional(),
})

/** Request headers passed from the client (`src/gateway/headers.ts`): never reused for identity. */
export const PASSED_REQUEST_HEADERS = [
  'accept',
  'content-type',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'mcp-method',
  'mcp-name',
  'user-agent',
] as const

/** Who may use a route or a tool. Every listed condition must hold; scopes can be stepped up to. */
export const AccessRuleSchema = z.strictObject({
  /** Scopes the token must carry (asked for again with a 403 `insufficient_scope`). */
  scopes: z.array(scopeToken).default([]),
  /** The token must carry one of these roles (`roles` claim). */
  roles: z.array(z.string().min(1)).optional(),
  /** The token's `sub` must be one of these. */
  subjects: z.array(z.string().min(1)).optional(),
  /** The token's `client_id` must be one of these. */
  clients: z.array(z.string().min(1)).optional(),
  /** The user must be in one of these groups (`groups` claim, as the IdP sent it). */
  groups: z.array(z.string().min(1)).optional(),
  /** The user's directory must be one of these (Entra `tid`). */
  tenants: z.array(z.string().min(1)).optional(),
})

/**
 * Most POSTs with calls in them in flight to the upstream at once, from all callers of this
 * gateway instance; more answer 503 with `Retry-After` at once. Notifications, answers, `DELETE`
 * and open-ended streams (`GET`, a 2026-07-28 `subscriptions/listen`) do not count.
 */
const maxInFlight = z.number().int().min(1).max(100_000).optional()

/**
 * Most event streams one caller (client and user) keeps open on the route at once, in this
 * instance: the `GET` stream of each session and 2026-07-28 `subscriptions/listen` streams, which
 * hold no `maxInFlight` slot and have no deadline. More answer 429 with `Retry-After`.
 */
const maxStreamsPerCaller = z.number().int().min(1).max(10_000).default(100)

/**
 * Events kept per session for `Last-Event-ID` resumption on routes whose client side the gateway
 * serves itself (stdio, legacy SSE), in this instance's memory; the oldest go first.
 */
const eventBuffer = z
  .strictObject({
    /** Most events kept per session; `0` turns resumption off (events carry no ids). */
    maxEvents: z.number().int().min(0).max(10_000).default(256),
    /** Most bytes of event data kept per session; a larger event is delivered, not kept. */
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
  })
  .default({ maxEvents: 256, maxBytes: 1024 * 1024 })

const HTTPUpstreamSchema = z.strictObject({
  kind: z.literal('http'),
  /** The Streamable HTTP endpoint of the MCP server (http or https). */
  url: httpURL(),
  /**
   * Deadline for the answer to a request: the response headers, and in an event stream the
   * JSON-RPC responses to the request's calls; a progress notification restarts the clock.
   */
  timeoutSeconds: z.number().min(1).max(600).default(60),
  /** However much progress is reported, the answer is cut off after this long. */
  maxTimeoutSeconds: z.number().min(1).max(86_400).default(3600),
  maxInFlight,
  maxStreamsPerCaller,
  credential: UpstreamCredentialSchema.default({ kind: 'none' }),
  /** Tell the upstream who the caller is, in headers (names configurable). */
  identityHeaders: IdentityHeadersSchema.optional(),
})

/**
 * A legacy HTTP+SSE server (MCP 2024-11-05): a GET opens its event stream, whose `endpoint` event
 * names where messages are POSTed. The gateway still speaks Streamable HTTP to clients and opens
 * one upstream stream per client session.
 */
const SSEUpstreamSchema = z.strictObject({
  kind: z.literal('sse'),
  /** The server's SSE endpoint (e.g. `http://127.0.0.1:3001/sse`). */
  url: httpURL(),
  /**
   * Deadline for the stream's `endpoint` event, and for the answer to each request; a progress
   * notification for the request restarts the clock.
   */
  timeoutSeconds: z.number().min(1).max(600).default(60),
  /** However much progress is reported, the answer is cut off after this long. */
  maxTimeoutSeconds: z.number().min(1).max(86_400).default(3600),
  credential: UpstreamCredentialSchema.default({ kind: 'none' }),
  identityHeaders: IdentityHeadersSchema.optional(),
  maxInFlight,
  maxStreamsPerCaller,
  /**
   * A session with no request and no answer this long is closed, with its upstream stream; one
   * whose request still waits, after this plus the answer's longest deadline.
   */
  idleSeconds: z.number().int().min(1).max(86_400).default(900),
  /** Most sessions (upstream streams) at once; more answer 503. */
  maxSessions: z.number().int().min(1).max(100_000).default(1000),
  eventBuffer,
})

/**
 * A credential a stdio process gets in its environment, by variable (`credentialEnv`): a secret
 * read at start-up (`secret`, any mode), or in `user` mode one derived from the caller's sign-in,
 * as the HTTP routes' credentials of the same kinds derive it. Values are fixed when the process
 * starts: a running process is not given a renewed token.
 */
export const StdioCredentialEnvSchema = z.discriminatedUnion('kind', [
  z
    .strictObject({
      kind: z.literal('secret'),
      /** The gateway's environment variable that holds the secret. */
      valueFromEnv: envName.optional(),
      /** A file that holds the secret (trailing newline removed). */
      valueFile: z.string().min(1).optional(),
    })
    .refine((h) => (h.valueFromEnv === undefined) !== (h.valueFile === undefined), {
      message: 'give valueFromEnv or valueFile (one)',
    }),
  /** The user's own access token at the identity provider (as `userTokenEnv`). */
  z.strictObject({ kind: z.literal('idp-token') }),
  /** A JWT Gatehouse signs for `audience` (the server's own), as the `gatehouse-token` header. */
  z.strictObject({
    kind: z.literal('gatehouse-token'),
    audience: absoluteURL(),
    ttlSeconds: z.number().int().min(30).max(3600).default(3600),
  }),
  /** RFC 8693 token exchange of the user's IdP token at a security token service. */
  z.strictObject(tokenExchangeFields()),
  /** Microsoft Entra On-Behalf-Of for `scopes` of one downstream API. */
  z.strictObject({
    kind: z.literal('azure-obo'),
    scopes: z.array(scopeToken).min(1),
  }),
])

const StdioUpstreamSchema = z.strictObject({
  kind: z.literal('stdio'),
  /** The program to start (no shell). */
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Working directory of the process. */
  cwd: z.string().min(1).optional(),
  /**
   * Environment of the process: names to copy from the gateway's environment (`PATH` and `HOME`
   * are always copied). Nothing else from the gateway's environment reaches the child.
   */
  inheritEnv: z.array(envName).default([]),
  /** Fixed, non-secret environment values. */
  env: z.record(envName, z.string()).default({}),
  /**
   * `shared`: one process for every session (request ids are remapped per client);
   * `session`: one process per MCP session, stopped when the session ends;
   * `user`: one process per user (all of that user's sessions), stopped with their last session.
   */
  mode: z.enum(['shared', 'session', 'user']).default('shared'),
  /**
   * `user` mode: the environment variable that receives the user's own access token from the
   * identity provider (needs `upstream`, the OAuth/OIDC proxy), e.g. `GITHUB_TOKEN`.
   */
  userTokenEnv: envName.optional(),
  /**
   * Credentials in the process's environment, by variable: `secret` in any mode; `idp-token`,
   * `gatehouse-token`, `token-exchange` and `azure-obo` (the caller's) in `user` mode, which then
   * runs a process per sign-in, as with `userTokenEnv`.
   */
  credentialEnv: z.record(envName, StdioCredentialEnvSchema).default({}),
  /**
   * MCP 2026-07-28 clients, which have no sessions and no `initialize`: `translate` serves them
   * over the 2025 protocol the process speaks (in `shared` and `user` mode; a `session` process
   * needs a session); `refuse` answers them 400, and a client that probes falls back to 2025.
   */
  modernClients: z.enum(['translate', 'refuse']).default('translate'),
  /** Largest JSON-RPC message accepted from the process, in bytes. */
  maxMessageBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  /**
   * Deadline for the process's answer to one request; a progress notification for the request
   * restarts the clock.
   */
  timeoutSeconds: z.number().min(1).max(600).default(60),
  /** However much progress is reported, the answer is cut off after this long. */
  maxTimeoutSeconds: z.number().min(1).max(86_400).default(3600),
  /**
   * Sessions with no request and no answer this long are closed (in `session` mode with their
   * process); one whose call still waits, after this plus `maxTimeoutSeconds`.
   */
  idleSeconds: z.number().int().min(1).max(86_400).default(900),
  /** Most processes at once in `session` and `user` mode. */
  maxProcesses: z.number().int().min(1).max(10_000).default(32),
  /**
   * `user` mode with `userTokenEnv` (a process per sign-in): most processes one user has at once,
   * so that one user's sign-ins cannot take every one of `maxProcesses`. At the cap, one of theirs
   * that answers no call stops to make room (an earlier sign-in of the same client first, else
   * the least recently used); when every one is answering, `503`.
   */
  maxProcessesPerUser: z.number().int().min(1).max(1000).default(4),
  eventBuffer,
  maxInFlight,
  maxStreamsPerCaller,
})

/** One route: a path on the gateway, the MCP server behind it and who may use it. */
export const GatewayRouteSchema = z.strictObject({
  /** The path on the gateway (`/mcp`, `/files`); the resource URL is `{issuer origin}{path}`. */
  path: z
    .string()
    .regex(/^\/[A-Za-z0-9/_.~-]*[A-Za-z0-9_.~-]$/, 'must be a path like /mcp (no trailing slash)'),
  upstream: z.discriminatedUnion('kind', [
    HTTPUpstreamSchema,
    SSEUpstreamSchema,
    StdioUpstreamSchema,
  ]),
  /** Scopes this route understands (advertised in its metadata). */
  scopes: z.array(scopeToken).default([]),
  /** Scopes every request to the route needs. */
  requiredScopes: z.array(scopeToken).default([]),
  name: z.string().max(200).optional(),
  allowedOrigins: z.array(z.union([z.literal('*'), absoluteURL()])).default([]),
  /** Route-wide conditions beyond a valid token (roles, subjects, clients). */
  allow: AccessRuleSchema.optional(),
  /** Per-tool rules by tool name; a tool not listed is allowed to anyone who may use the route. */
  tools: z.record(z.string().min(1), AccessRuleSchema).default({}),
  /** `deny`: tools not listed in `tools` are hidden and refused. */
  unlistedTools: z.enum(['allow', 'deny']).default('allow'),
  /** Per-prompt rules by prompt name (`prompts/get`, `prompts/list`). */
  prompts: z.record(z.string().min(1), AccessRuleSchema).default({}),
  unlistedPrompts: z.enum(['allow', 'deny']).default('allow'),
  /**
   * Per-resource rules by URI (`resources/read`, `subscribe`, the lists); a key ending in `*`
   * matches every URI that starts with the rest; the longest matching key applies.
   */
  resources: z.record(z.string().min(1), AccessRuleSchema).default({}),
  unlistedResources: z.enum(['allow', 'deny']).default('allow'),
  /**
   * Requests per window, kept in the store (they hold across instances): per caller (client and
   * user), per client (all its users), and for the whole route. Over a limit: 429, `Retry-After`.
   */
  rateLimit: z
    .strictObject({
      windowSeconds: z.number().int().min(1).max(3600).default(60),
      perSubject: z.number().int().min(1).optional(),
      perClient: z.number().int().min(1).optional(),
      perRoute: z.number().int().min(1).optional(),
    })
    .optional(),
  /** Largest request body, in bytes. */
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
})

export const GatewaySchema = z
  .strictObject({
    routes: z.array(GatewayRouteSchema).min(1),
    /** How long a session's owner is remembered after its last use. */
    sessionTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .default(86_400),
    /** On SIGTERM, how long in-flight requests may take before the gateway stops anyway. */
    drainSeconds: z.number().min(0).max(600).default(30),
  })
  .superRefine((g, ctx) => {
    const seen = new Set<string>()
    g.routes.forEach((r, i) => {
      if (seen.has(r.path)) {
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'path'], message: 'is listed twice' })
      }
      seen.add(r.path)
      if (r.path.startsWith('/.well-known') || ['/authorize', '/token'].includes(r.path)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'path'],
          message: 'collides with an OAuth endpoint',
        })
      }
      if (r.upstream.kind !== 'stdio') checkHeaderNames(r.upstream, ['routes', i, 'upstream'], ctx)
      else checkProcessEnv(r.upstream, ['routes', i, 'upstream'], ctx)
      for (const key of Object.keys(r.resources)) {
        const problem = ruleKeyProblem(key)
        if (problem !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['routes', i, 'resources', key], message: problem })
        }
      }
      if (r.upstream.maxTimeoutSeconds < r.upstream.timeoutSeconds) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'upstream', 'maxTimeoutSeconds'],
          message: 'must be at least timeoutSeconds',
        })
      }
    })
  })

/**
 * A stdio process's environment: each variable set by one key only (`env`, `inheritEnv`,
 * `userTokenEnv`, `credentialEnv`; `PATH` and `HOME` are always inherited), and the caller's
 * credentials only in `user` mode, where each sign-in has its own process.
 */
function checkProcessEnv(
  u: z.output<typeof StdioUpstreamSchema>,
  path: (string | number)[],
  ctx: z.RefinementCtx,
): void {
  const setBy = new Map<string, string>([
    ['PATH', 'the gateway (always inherited)'],
    ['HOME', 'the gateway (always inherited)'],
  ])
  const claim = (name: string, key: string, at: (string | number)[]) => {
    const other = setBy.get(name)
    if (other !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, ...at],
        message: `${name} is set by ${other} already`,
      })
    } else setBy.set(name, key)
  }
  u.inheritEnv.forEach((name, i) => {
    // Naming PATH or HOME there again is harmless: it is the gateway's value either way.
    if (name !== 'PATH' && name !== 'HOME') claim(name, 'inheritEnv', ['inheritEnv', i])
  })
  for (const name of Object.keys(u.env)) claim(name, 'env', ['env', name])
  if (u.userTokenEnv !== undefined) {
    claim(u.userTokenEnv, 'userTokenEnv', ['userTokenEnv'])
    if (u.mode !== 'user') {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'userTokenEnv'],
        message: "is the caller's credential: it needs mode: user (a process per sign-in)",
      })
    }
  }
  for (const [name, credential] of Object.entries(u.credentialEnv)) {
    claim(name, 'credentialEnv', ['credentialEnv', name])
    if (credential.kind !== 'secret' && u.mode !== 'user') {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'credentialEnv', name, 'kind'],
        message: `${credential.kind} is the caller's credential: it needs mode: user (a process per sign-in)`,
      })
    }
  }
}

/** Headers HTTP itself manages: a route cannot set them. */
const TRANSPORT_HEADERS = new Set([
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
])

/**
 * The headers a route sets upstream must not be ones the client's values pass through in (they
 * would be overwritten, or a client could send them), nor the same name twice.
 */
function checkHeaderNames(
  u: z.output<typeof HTTPUpstreamSchema> | z.output<typeof SSEUpstreamSchema>,
  path: (string | number)[],
  ctx: z.RefinementCtx,
): void {
  const used = new Map<string, (string | number)[]>()
  const credential = u.credential
  if (credential.kind !== 'none') used.set(credential.name.toLowerCase(), ['credential', 'name'])
  const { signed, ...plain } = u.identityHeaders ?? {}
  const identity: [string, string, ...(string | number)[]][] = signed
    ? [['signed', signed.name, 'name']]
    : Object.entries(plain)
  for (const [key, name, ...rest] of identity) {
    const lower = name.toLowerCase()
    if (used.has(lower)) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, 'identityHeaders', key, ...rest],
        message: 'names a header the route already sets',
      })
    }
    used.set(lower, ['identityHeaders', key, ...rest])
  }
  for (const [name, at] of used) {
    if (
      (PASSED_REQUEST_HEADERS as readonly string[]).includes(name) ||
      TRANSPORT_HEADERS.has(name)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: [...path, ...at],
        message: 'is a header the gateway passes from the client or the transport sets',
      })
    }
  }
}

export type GatewayConfig = z.output<typeof GatewaySchema>
export type GatewayRoute = z.output<typeof GatewayRouteSchema>
export type UpstreamCredential = z.output<typeof UpstreamCredentialSchema>
export type AccessRule = z.output<typeof AccessRuleSchema>
export type IdentityHeaders = z.output<typeof IdentityHeadersSchema>
export type StdioCredentialEnv = z.output<typeof StdioCredentialEnvSchema>

/**
 * Adds a `resources` entry for every gateway route that has none (matched by URL), so that a
 * gateway configuration needs no separate resource list. Anything malformed is left alone for the
 * schema to report.
 */
export function withGatewayResources(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input
  const c = input as Record<string, unknown>
  const gateway = c.gateway as { routes?: unknown } | undefined
  if (typeof c.issuer !== 'string' || !Array.isArray(gateway?.routes)) return input
  let origin: string
  try {
    origin = new URL(c.issuer).origin
  } catch {
    return input
  }
  const resources = Array.isArray(c.resources) ? [...(c.resources as unknown[])] : []
  const urls = new Set(resources.map((r) => (r as { url?: unknown }).url))
  for (const route of gateway.routes as Record<string, unknown>[]) {
    if (typeof route.path !== 'string') continue
    const url = `${origin}${route.path}`
    if (urls.has(url)) continue
    urls.add(url)
    resources.push({
      url,
      ...(Array.isArray(route.scopes) ? { scopes: route.scopes } : {}),
      ...(Array.isArray(route.requiredScopes) ? { requiredScopes: route.requiredScopes } : {}),
      ...(typeof route.name === 'string' ? { name: route.name } : {}),
      ...(Array.isArray(route.allowedOrigins) ? { allowedOrigins: route.allowedOrigins } : {}),
    })
  }
  return { ...c, resources }
}

/**
 * Entra On-Behalf-Of gateway credentials need users signed in at Entra (one IdP, not B2C):
 * refused here, at load, rather than on a user's first call.
 */
export function checkAzureOnBehalfOf(
  c: {
    upstream?: { kind: string; b2c?: unknown } | undefined
    gateway?: z.output<typeof GatewaySchema> | undefined
  },
  ctx: z.RefinementCtx,
): void {
  const entra = c.upstream?.kind === 'azure' && c.upstream.b2c === undefined
  if (entra) return
  const message =
    'azure-obo needs upstream.kind azure (Microsoft Entra ID, not B2C) as the identity provider'
  c.gateway?.routes.forEach((route, i) => {
    const u = route.upstream
    if (u.kind !== 'stdio') {
      if (u.credential.kind === 'azure-obo') {
        ctx.addIssue({
          code: 'custom',
          path: ['gateway', 'routes', i, 'upstream', 'credential', 'kind'],
          message,
        })
      }
      return
    }
    for (const [name, credential] of Object.entries(u.credentialEnv)) {
      if (credential.kind !== 'azure-obo') continue
      ctx.addIssue({
        code: 'custom',
        path: ['gateway', 'routes', i, 'upstream', 'credentialEnv', name, 'kind'],
        message,
      })
    }
  })
}

/**
 * A token Gatehouse signs for an upstream (`gatehouse-token`, on an HTTP or SSE route or in a stdio
 * process's environment) must never
 * be one Gatehouse itself accepts: its audience (or the upstream URL) may not be, in canonical
 * form, a resource of this configuration, else the upstream would get a real access token for
 * another route.
 */
export function checkOwnAudiences(
  c: {
    resources?: readonly { url: string }[] | undefined
    gateway?: z.output<typeof GatewaySchema> | undefined
  },
  ctx: z.RefinementCtx,
): void {
  const canonical = (value: string) =>
    parseURL(value) === undefined ? undefined : canonicalResource(value)
  const own = new Set((c.resources ?? []).map((r) => canonical(r.url)).filter((u) => u))
  const check = (audience: string, path: (string | number)[]) => {
    const value = canonical(audience)
    if (value !== undefined && own.has(value)) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: "is a resource of this Gatehouse; name the upstream's own audience",
      })
    }
  }
  c.gateway?.routes.forEach((route, i) => {
    const u = route.upstream
    const at = ['gateway', 'routes', i, 'upstream']
    if (u.kind !== 'stdio') {
      if (u.credential.kind === 'gatehouse-token') {
        check(u.credential.audience ?? u.url, [...at, 'credential', 'audience'])
      }
      return
    }
    for (const [name, credential] of Object.entries(u.credentialEnv)) {
      if (credential.kind === 'gatehouse-token') {
        check(credential.audience, [...at, 'credentialEnv', name, 'audience'])
      }
    }
  })
}
