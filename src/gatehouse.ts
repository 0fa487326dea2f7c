/**
 * `createGatehouse`: the authorization server and the bearer guard, wired from one configuration.
 * Everything here is Web-standard; mount `gatehouse.fetch` with an adapter or directly in Hono,
 * Workers, Deno or Bun.
 */
import { resolveConfig, type ResolvedConfig } from './config/schema.js'
import { ConfigError, type ErrorHook } from './errors.js'
import { Grants } from './grants/grant-store.js'
import { supportedGrantTypes } from './grants/index.js'
import { createRouter, type Handler, type Route } from './http/app.js'
import { createCookieSigner } from './http/cookies.js'
import { createGuardedFetch, type GuardedTransport } from './http/guarded-fetch.js'
import { RateLimiter } from './http/rate-limit.js'
import type { SignatureVerifierFactory } from './jwt/signature.js'
import type { SignatureSignerFactory } from './jwt/signer.js'
import type { Sha256Function } from './http/random.js'
import {
  createClientAssertionVerifier,
  type ClientAssertionVerifier,
  privateKeyJWTEnabled,
  registrationAllowsPrivateKeyJWT,
} from './oauth/client-assertion.js'
import { createClientJWKSSource, MAX_JWKS_BYTES } from './oauth/client-jwks.js'
import { ClientMetadataResolver } from './oauth/client-metadata-resolver.js'
import { createWorkloadIdentityVerifier } from './oauth/workload-identity.js'
import {
  GatehouseProvider,
  type Authenticate,
  type GatehouseProviderOptions,
} from './oauth/gatehouse-provider.js'
import { ID_JAG_PROFILE, IdentityAssertionVerifier } from './grants/identity-assertion-verifier.js'
import { SubjectTokenVerifier } from './grants/subject-token.js'
import { authorizationServerMetadata } from './oauth/metadata.js'
import type { OAuthServerProvider } from './contract/provider.js'
import { createDPoPPolicy, dpopServerMetadata } from './oauth/dpop.js'
import type { AccessToken, TokenVerifier } from './jwt/access-token.js'
import type { AuditWriter } from './ops/audit.js'
import type { AuditSink } from './audit-event.js'
import { currentContext } from './ops/context.js'
import { instrumentGuard } from './presets/instrumented-guard.js'
import type { Logger } from './ops/logger.js'
import { createObservability, type Observability } from './ops/observability.js'
import type { Tracing } from './ops/tracing.js'
import { buildAdmin } from './admin/admin.js'
import { adminPageRoutes, type AdminSignInPort } from './admin/admin-page.js'
import { adminClient, adminSignInEnabled, createAdminSignIn } from './presets/admin-sign-in.js'
import { withRequestLog } from './ops/request-log.js'
import { clientAddressOf } from './http/rate-limit.js'
import { UNHANDLED_HEADER } from './http/app.js'
import type { Registry } from 'prom-client'

export type { ProtectedHandler, ProtectOptions } from './resource/guard.js'
import { createGuard, type ProtectedHandler, type ProtectOptions } from './resource/guard.js'
import { createEncryptedStore } from './storage/encrypted.js'
import type { Store } from './storage/store.js'
import type { ValueCipherFactory } from './storage/value-cipher.js'
import { SigningKeys } from './tokens/keys.js'
import { createOwnTokenVerifier } from './tokens/own-token-verifier.js'
import { ConsentingProvider } from './upstream/consenting-provider.js'
import { createProxy } from './providers/registry.js'
import { routeTable } from './routes.js'
import { handleToken } from './oauth/token.js'

export interface GatehouseOptions {
  /** Configuration, validated by the one schema (`ConfigError` lists every problem). */
  config: unknown
  /** Where state lives; values are encrypted with a key derived from `config.secret`. */
  store: Store
  /**
   * How users sign in when no proxy is configured (tests, custom logins). The user first sees
   * Gatehouse's consent page (which client, which redirect host, which scopes) at `/consent`;
   * only after "Allow" is the hook called and a code issued. See `dangerouslySkipConsent`.
   */
  authenticate?: Authenticate
  /**
   * Calls `authenticate` straight from `/authorize`, with no consent page: any client that can
   * register (open registration, metadata documents) then gets a code for the user the hook
   * names, with nobody asked. For single-client setups and tests only; reported through
   * `onWarning` at start-up. Refused (`ConfigError`) with an upstream IdP: the proxy always asks.
   */
  dangerouslySkipConsent?: boolean
  /** Replaces the store-backed provider with one of your own (the MCP SDK provider contract). */
  provider?: (base: GatehouseProvider) => OAuthServerProvider
  /** Sees every error that becomes a response, with its internal `reason`; never sent to clients. */
  onError?: ErrorHook
  /** Milliseconds since the epoch; injected so tests control time. */
  now?: () => number
  /** The fetch used to reach the identity provider (tests, egress proxies). */
  fetch?: typeof fetch
  /** Faster signature checks on Node: `nodeSignatureVerifier` from `mcp-gatehouse/node`. */
  signatureVerifier?: SignatureVerifierFactory
  /**
   * How the store's values are sealed (AES-256-GCM): Web Crypto by default; on Node
   * `nodeValueCipher` from `mcp-gatehouse/node` is synchronous and several times faster per store
   * call. Both read what the other wrote.
   */
  valueCipher?: ValueCipherFactory
  /**
   * Faster access-token signing on Node: `nodeSignatureSigner` from `mcp-gatehouse/node`
   * (synchronous `node:crypto`, no thread-pool hop). Default: Web Crypto.
   */
  signatureSigner?: SignatureSignerFactory
  /**
   * Faster SHA-256 on Node (authorization codes, refresh tokens, PKCE): `nodeSha256` from
   * `mcp-gatehouse/node` (synchronous `node:crypto`, no thread-pool hop). Default: Web Crypto.
   */
  sha256?: Sha256Function
  /**
   * How URLs that clients name are fetched (metadata documents and their keys): a transport that
   * checks every resolved address and pins the connection (`createNodeTransport()` from
   * `mcp-gatehouse/node`). Required when `clientIdMetadataDocuments.enabled`.
   */
  transport?: GuardedTransport
  /** Configurations that work but may not do what was meant (default `console.warn`). */
  onWarning?: (message: string) => void
  /**
   * A pino-compatible logger for request lines, refusals and (with `audit.sink: log`) audit
   * events. Default: silent, so an embedding app's output stays its own.
   */
  logger?: Logger
  /** Receives every audit event (docs/operations.md), besides the sink `config.audit` names. */
  audit?: AuditWriter
  /**
   * Prometheus metrics, served at `/metrics`: `true` for a registry of this instance, or your own
   * prom-client `Registry`. Default `config.metrics.enabled` (false).
   */
  metrics?: boolean | Registry
  /**
   * OpenTelemetry spans through `@opentelemetry/api` (an optional peer dependency), recorded by
   * whatever SDK the application registers. Default `true`: used when installed; `false` never
   * loads it (docs/operations.md).
   */
  tracing?: boolean
}

export interface Gatehouse {
  readonly config: ResolvedConfig
  readonly provider: OAuthServerProvider
  /** The store-backed provider (also when `provider` wraps it). */
  readonly base: GatehouseProvider
  readonly keys: SigningKeys
  /** Verifies Gatehouse's own access tokens (signature, issuer, audience, expiry, revocation). */
  readonly verifier: TokenVerifier
  /** Serves every OAuth endpoint and metadata document; other paths get an unhandled 404. */
  fetch: Handler
  /** Verifies the request's bearer token; throws `OAuthError` (see `bearerChallenge`). */
  verifyBearer(request: Request, options?: ProtectOptions): Promise<AccessToken>
  /** Wraps a handler so that it runs only with a valid token, answering 401/403 challenges itself. */
  protect(handler: ProtectedHandler, options?: ProtectOptions): Handler
  /** The logger in use (silent unless one was passed). */
  readonly logger: Logger
  /** The prom-client registry of this instance's metrics, when metrics are on. */
  readonly metricsRegistry: Registry | undefined
  /** Where this instance's audit events go (the gateway emits its decisions here too). */
  readonly audit: AuditSink
  /**
   * OpenTelemetry spans (when `@opentelemetry/api` is installed) and the `traceparent` for calls
   * a handler makes to other services (the gateway's MCP upstream) in the current request's trace.
   */
  readonly tracing: Tracing
  close(): Promise<void>
}

/** Creates the authorization server and guard. Validates everything before the first request. */
export async function createGatehouse(options: GatehouseOptions): Promise<Gatehouse> {
  const config = resolveConfig(options.config)
  const now = options.now ?? Date.now
  const ops = await createObservability(config, options, now)
  const onError = ops.errorHook(options.onError)
  const backend = ops.instrumentStore(options.store)
  const store = await createEncryptedStore(backend, {
    secret: config.secret,
    ...(options.valueCipher ? { valueCipher: options.valueCipher } : {}),
  })
  if (backend.scan !== undefined) ops.countGrants(store)
  const keys = await SigningKeys.load({
    store,
    audit: ops.audit,
    algorithm: config.signingAlgorithm,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    now,
    ...(options.signatureSigner ? { signer: options.signatureSigner } : {}),
  })
  const grants = new Grants({
    store,
    ttlSeconds: Math.max(config.refreshTokenTtlSeconds, config.accessTokenTtlSeconds),
    revocationCheckSeconds: config.revocationCheckSeconds,
    clockToleranceSeconds: config.clockToleranceSeconds,
    maxCached: config.guardCache.grants,
    now,
  })
  const verifier = createOwnTokenVerifier({
    config,
    keys,
    grants,
    now,
    ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
    observer: {
      cacheLookup: (hit) => {
        ops.metrics.tokenCache(hit)
      },
      inactiveGrant: () => {
        const context = currentContext()
        if (context) context.revoked = true
      },
    },
  })
  const identityAssertions = config.identityAssertion
    ? new IdentityAssertionVerifier({
        config,
        store,
        now,
        fetch: ops.fetch,
        ...(options.transport ? { transport: options.transport } : {}),
        ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
      })
    : undefined
  // RFC 8693 token exchange (grants/token-exchange.ts): only when enabled.
  const subjectTokens =
    config.tokenExchange?.enabled === true
      ? new SubjectTokenVerifier({
          config,
          ownTokens: verifier,
          grants,
          now,
          fetch: ops.fetch,
          ...(options.transport ? { transport: options.transport } : {}),
          ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
        })
      : undefined
  const clientMetadata = createClientMetadataResolver(
    config,
    store,
    now,
    options.transport,
    ops.audit,
  )
  // The /admin page's own client (presets/admin-sign-in.ts), when operators sign in through Gatehouse.
  const internalClient = adminSignInEnabled(config) ? await adminClient(config) : undefined
  const baseOptions = {
    config,
    store,
    ...(internalClient ? { internalClients: [internalClient] } : {}),
    ...(clientMetadata ? { clientMetadata } : {}),
    keys,
    verifier,
    grants,
    now,
    ...(identityAssertions ? { identityAssertions } : {}),
    ...(subjectTokens ? { subjectTokens } : {}),
    ...(options.authenticate ? { authenticate: options.authenticate } : {}),
    ...(options.sha256 ? { sha256: options.sha256 } : {}),
    onError,
    audit: ops.audit,
  }
  if ((config.upstream || config.upstreams) && options.dangerouslySkipConsent === true) {
    throw new ConfigError([
      'dangerouslySkipConsent: not allowed with an upstream identity provider; the proxy always shows its consent page',
    ])
  }
  const proxy = await createProxy(config, baseOptions, {
    fetch: ops.fetch,
    ...(options.transport ? { transport: options.transport } : {}),
    ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    observer: {
      keysLoaded: (outcome) => {
        ops.metrics.jwksFetch(outcome)
      },
    },
  })
  const base = proxy ?? (await createLocalProvider(options, baseOptions, config))
  const provider: OAuthServerProvider = options.provider ? options.provider(base) : base
  const minute = { windowSeconds: 60, now }
  // Registered clients' `jwks_uri`: only through a transport that checks resolved addresses.
  const clientJwks =
    options.transport && registrationAllowsPrivateKeyJWT(config)
      ? createClientJWKSSource({
          store,
          now,
          fetch: createGuardedFetch({
            transport: options.transport,
            maxBytes: MAX_JWKS_BYTES,
            allowHttpLoopback: config.registration.dangerouslyAllowLoopbackJwksUri,
          }),
        })
      : undefined
  const dpop = await createDPoPPolicy(config, store, now)
  // Platform tokens as client assertions under trust policies (oauth/workload-identity.ts).
  const withWorkloadIdentity = (own: ClientAssertionVerifier) =>
    config.workloadIdentity
      ? createWorkloadIdentityVerifier({
          config,
          store,
          now,
          own,
          fetch: ops.fetch,
          ...(options.transport ? { transport: options.transport } : {}),
          ...(options.signatureVerifier ? { signatureVerifier: options.signatureVerifier } : {}),
        })
      : own
  const deps = {
    config,
    provider,
    grants,
    now,
    clientAuthFailures: new RateLimiter({
      ...minute,
      limit: config.rateLimits.failedClientAuthPerMinute,
    }),
    registrations: new RateLimiter({ ...minute, limit: config.rateLimits.registrationsPerMinute }),
    ...(privateKeyJWTEnabled(config)
      ? {
          clientAssertions: withWorkloadIdentity(
            createClientAssertionVerifier({
              issuer: config.issuer,
              store,
              now,
              clockToleranceSeconds: config.clockToleranceSeconds,
              ...(clientJwks ? { jwks: clientJwks } : {}),
            }),
          ),
        }
      : {}),
    jwksUriSupported: clientJwks !== undefined,
    onError,
    audit: ops.audit,
    ...(dpop ? { dpop } : {}),
    ...(options.sha256 ? { sha256: options.sha256 } : {}),
  }
  const asMetadata = authorizationServerMetadata(config, {
    // The grants the token endpoint dispatches to (grants/index.ts) that the provider offers.
    // The refresh-token policy decides whether some client can use `refresh_token`.
    grantTypes: supportedGrantTypes(provider).filter(
      (type) => type !== 'refresh_token' || config.refreshTokens.issueTo !== 'none',
    ),
    extra: {
      // ID-JAG draft §6: the profile, never the list of trusted issuers.
      ...(provider.exchangeIdentityAssertion
        ? { authorization_grant_profiles_supported: [ID_JAG_PROFILE] }
        : {}),
      ...dpopServerMetadata(config),
    },
  })

  const p = config.basePath
  const addressOf = (request: Request) => {
    const address = clientAddressOf(request)
    return address === 'unknown' ? undefined : address
  }
  /** The /admin page's sign-in through Gatehouse itself (presets/admin-sign-in.ts), when configured. */
  const adminSignIn = (): AdminSignInPort | undefined => {
    if (!internalClient) return undefined
    if (!proxy && !options.authenticate) {
      throw new ConfigError([
        'admin.subjects: signing operators in through Gatehouse needs an upstream identity provider (upstream, upstreams) or an `authenticate` hook',
      ])
    }
    return createAdminSignIn({
      config,
      client: internalClient,
      token: (request) => handleToken(request, deps),
      verifier,
      grants,
    })
  }
  const routes = routeTable({
    config,
    endpoints: deps,
    metadata: asMetadata,
    keys,
    token: (r) => issueTokens(r, deps, ops),
    signIn: proxy ? proxy.routes() : base instanceof ConsentingProvider ? base.routes() : [],
    operations: ops.routes(
      p,
      [
        { name: 'store', check: () => backend.get('health:probe').then(() => true) },
        { name: 'signing_keys', check: () => keys.jwks().keys.length > 0 },
        // Discovery runs at start-up (createGatehouse fails without it): loaded once we are here.
        ...(config.upstream || config.upstreams
          ? [{ name: 'upstream', check: () => proxy !== undefined }]
          : []),
      ],
      addressOf,
    ),
    admin: config.admin.enabled
      ? await operatorPage(config, store, backend, ops, addressOf, now, adminSignIn())
      : [],
  })
  const paths = new Set(routes.map((r) => r.path))
  const fetch = withRequestLog(createRouter(routes, onError), {
    logger: ops.logger,
    metrics: ops.metrics,
    tracing: ops.tracing,
    component: 'fetch',
    routeOf: (request) => {
      const path = new URL(request.url).pathname
      return paths.has(path) ? path : 'unmatched'
    },
    addressOf,
    clientIdInQuery: new Set([`${p}/authorize`]),
    isUnhandled: (response) => response.headers.has(UNHANDLED_HEADER),
  })

  const guard = instrumentGuard(
    createGuard({ resources: config.resources, verifier, onError, ...(dpop ? { dpop } : {}) }),
    {
      logger: ops.logger,
      metrics: ops.metrics,
      tracing: ops.tracing,
      resources: config.resources,
      addressOf,
    },
  )

  return {
    config,
    provider,
    base,
    keys,
    verifier,
    fetch,
    verifyBearer: (request, opts) => guard.verifyBearer(request, opts),
    protect: (handler, opts) => guard.protect(handler, opts),
    logger: ops.logger,
    metricsRegistry: ops.registry,
    audit: ops.audit,
    tracing: ops.tracing,
    close: async () => {
      proxy?.close()
      await store.close()
      await ops.close()
    },
  }
}

/**
 * `POST /token` in the span `gatehouse.token` (with OpenTelemetry): the grant type and client of
 * the tokens issued, from the `tokens_issued` audit event of this request, and the status.
 */
function issueTokens(
  request: Request,
  deps: Parameters<typeof handleToken>[1],
  ops: Observability,
): Promise<Response> {
  if (!ops.tracing.enabled) return handleToken(request, deps)
  return ops.tracing.span('gatehouse.token', {}, async (span) => {
    try {
      const response = await handleToken(request, deps)
      span.setAttribute('http.response.status_code', response.status)
      return response
    } finally {
      const context = currentContext()
      if (context?.grantType !== undefined)
        span.setAttribute('gatehouse.oauth.grant_type', context.grantType)
      if (context?.clientId !== undefined)
        span.setAttribute('gatehouse.oauth.client_id', context.clientId)
    }
  })
}

/** The `/admin` page (config `admin`) over this instance's store and audit sink. */
async function operatorPage(
  config: ResolvedConfig,
  store: Store,
  backend: Store,
  ops: Observability,
  addressOf: (request: Request) => string | undefined,
  now: () => number,
  signIn: AdminSignInPort | undefined,
): Promise<Route[]> {
  const scan = store.scan?.bind(store)
  if (backend.scan === undefined || scan === undefined) {
    throw new ConfigError(['admin.enabled: the store cannot list keys (it has no scan)'])
  }
  return adminPageRoutes({
    config,
    adminFor: (actor) =>
      buildAdmin({
        config,
        store,
        scan,
        raw: backend,
        audit: ops.audit,
        now,
        actor,
        close: () => Promise.resolve(),
      }),
    ...(signIn ? { signIn } : {}),
    cookies: await createCookieSigner(config.secret),
    audit: ops.audit,
    recentAudit: () => ops.recentAudit(),
    sessions: store,
    addressOf,
    now,
  })
}

/**
 * The provider when no IdP is proxied: `authenticate` behind the consent page, or, with
 * `dangerouslySkipConsent`, called straight from `/authorize` (with a start-up warning).
 */
async function createLocalProvider(
  options: GatehouseOptions,
  baseOptions: GatehouseProviderOptions,
  config: ResolvedConfig,
): Promise<GatehouseProvider> {
  if (options.dangerouslySkipConsent === true) {
    ;(options.onWarning ?? console.warn)(
      'dangerouslySkipConsent: `authenticate` runs with no consent page, so any client that can register gets codes for the user it names',
    )
    return new GatehouseProvider(baseOptions)
  }
  if (!options.authenticate) return new GatehouseProvider(baseOptions)
  return new ConsentingProvider({
    ...baseOptions,
    cookies: await createCookieSigner(config.secret),
  })
}

/** The metadata-document resolver when enabled; refuses to start without a checking transport. */
function createClientMetadataResolver(
  config: ResolvedConfig,
  store: Store,
  now: () => number,
  transport: GuardedTransport | undefined,
  audit: AuditSink,
): ClientMetadataResolver | undefined {
  const settings = config.clientIdMetadataDocuments
  if (!settings.enabled) return undefined
  if (!transport) {
    // Fail closed: without a transport only literal addresses could be checked, and a name
    // pointing at the internal network would pass.
    throw new ConfigError([
      'clientIdMetadataDocuments.enabled: needs the `transport` option (createNodeTransport() from mcp-gatehouse/node) so that resolved addresses are checked',
    ])
  }
  const guard = {
    transport,
    timeoutMs: settings.timeoutSeconds * 1000,
    allowHttpLoopback: settings.dangerouslyAllowLoopback,
  }
  return new ClientMetadataResolver({
    config,
    store,
    now,
    audit,
    fetchDocument: createGuardedFetch({ ...guard, maxBytes: settings.maxDocumentBytes }),
    fetchKeys: createGuardedFetch({ ...guard, maxBytes: 64 * 1024 }),
  })
}
