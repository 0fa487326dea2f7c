/**
 * Builds the upstream of a route from its configuration: a Streamable HTTP server or a stdio
 * program. Credentials are loaded here, at start-up, so a missing secret stops the gateway.
 */
import type { AuditSink } from '../audit-event.js'
import type { GatewayRoute } from '../config/gateway-schema.js'
import { OAuthError } from '../errors.js'
import type { AccessToken } from '../jwt/access-token.js'
import type { SigningKeys } from '../tokens/keys.js'
import { loadCredential, loadEnvCredential } from './credentials.js'
import { createHTTPUpstream, type UpstreamTracing } from './http-upstream.js'
import { createSSEUpstream } from './sse-upstream.js'
import { createStdioUpstream } from './stdio-upstream.js'
import type { Upstream } from './upstream.js'

export interface UpstreamDeps {
  env?: NodeJS.ProcessEnv
  /** Operational messages (failures, restarts, the child's stderr); never secrets. */
  log?: (message: string) => void
  /** The user's access token at the identity provider (`idp-token`; stdio `userTokenEnv`, ...). */
  userToken?: (token: AccessToken) => Promise<string>
  /** Gatehouse's keys and issuer, for `gatehouse-token` credentials. */
  signer?: { keys: SigningKeys; issuer: string }
  /** Where credential failures and process exits are audited (`gatehouse.audit`). */
  audit?: AuditSink
  /** Entra On-Behalf-Of (`azure-obo` credentials): the Azure provider's `onBehalfOf` capability. */
  onBehalfOf?: (token: AccessToken, scopes: readonly string[]) => Promise<string>
  /** The groups of the user behind a token from their grant (signed tokens for upstreams). */
  groupsOf?: (token: AccessToken) => Promise<readonly string[]>
  /** Ends the sign-in behind a token (revokes its grant): an STS refused the user's IdP token. */
  endSignIn?: (token: AccessToken) => Promise<void>
  /** Gatehouse's `tracing`: HTTP upstreams get the request's `traceparent` and a client span. */
  tracing?: UpstreamTracing
}

export function createUpstream(
  route: GatewayRoute,
  index: number,
  deps: UpstreamDeps = {},
): Upstream {
  const log = deps.log ?? (() => undefined)
  const u = route.upstream
  const audit = deps.audit
  const credentialDeps = {
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.signer ? { signer: deps.signer } : {}),
    ...(deps.userToken ? { userToken: deps.userToken } : {}),
    ...(deps.onBehalfOf ? { onBehalfOf: deps.onBehalfOf } : {}),
    ...(deps.endSignIn ? { endSignIn: deps.endSignIn } : {}),
    ...(deps.groupsOf ? { groupsOf: deps.groupsOf } : {}),
  }
  const onCredentialFailure = (token: AccessToken, error: unknown) => {
    audit?.emit({
      event: 'gateway_credential_failed',
      outcome: 'failure',
      route: route.path,
      clientId: token.clientId,
      ...(token.machine !== true && token.subject !== undefined ? { subject: token.subject } : {}),
      ...(token.grantId !== undefined ? { grantId: token.grantId } : {}),
      reason: failureReason(error),
    })
  }
  switch (u.kind) {
    case 'http':
      return createHTTPUpstream({
        url: u.url,
        timeoutMs: u.timeoutSeconds * 1000,
        maxTimeoutMs: u.maxTimeoutSeconds * 1000,
        credential: loadCredential(
          u.credential,
          u.identityHeaders,
          u.url,
          `gateway.routes.${index}.upstream.credential`,
          credentialDeps,
        ),
        onError: (m) => {
          log(`route ${route.path}: ${m}`)
        },
        onCredentialFailure,
        ...(deps.tracing ? { tracing: deps.tracing } : {}),
      })
    case 'sse':
      return createSSEUpstream({
        url: u.url,
        timeoutMs: u.timeoutSeconds * 1000,
        maxTimeoutMs: u.maxTimeoutSeconds * 1000,
        eventBuffer: u.eventBuffer,
        idleSeconds: u.idleSeconds,
        maxSessions: u.maxSessions,
        credential: loadCredential(
          u.credential,
          u.identityHeaders,
          u.url,
          `gateway.routes.${index}.upstream.credential`,
          credentialDeps,
        ),
        onError: (m) => {
          log(`route ${route.path}: ${m}`)
        },
        onCredentialFailure,
        ...(deps.tracing ? { tracing: deps.tracing } : {}),
      })
    case 'stdio': {
      const where = `gateway.routes.${index}.upstream`
      const secretEnv: Record<string, string> = {}
      const callerEnv: [string, (token: AccessToken) => Promise<string>][] = []
      if (u.userTokenEnv !== undefined) {
        const loaded = loadEnvCredential(
          { kind: 'idp-token' },
          `${where}.userTokenEnv`,
          credentialDeps,
        )
        if (loaded.forCaller) callerEnv.push([u.userTokenEnv, loaded.forCaller])
      }
      for (const [name, credential] of Object.entries(u.credentialEnv)) {
        const loaded = loadEnvCredential(
          credential,
          `${where}.credentialEnv.${name}`,
          credentialDeps,
        )
        if (loaded.forCaller) callerEnv.push([name, loaded.forCaller])
        else secretEnv[name] = loaded.fixed
      }
      return createStdioUpstream(u, {
        env: deps.env ?? process.env,
        secretEnv,
        callerEnv,
        log: (m) => {
          log(`route ${route.path}: ${m}`)
        },
        onCredentialFailure,
        onExit: (restarting, reason) => {
          audit?.emit({
            event: 'gateway_upstream_exited',
            outcome: 'failure',
            route: route.path,
            reason,
            restarting,
          })
        },
      })
    }
  }
}

/**
 * A slug for why a credential could not be had: the `OAuthError` reason (`token_exchange_refused`,
 * the IdP refusing a refresh …), an Entra On-Behalf-Of code (`ERR_OBO_REFUSED` → `obo_refused`),
 * else `credential_unavailable`. Never the error's text.
 */
function failureReason(error: unknown): string {
  if (error instanceof OAuthError) return error.reason ?? error.code
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && /^ERR_[A-Z_]+$/.test(code)) return code.slice(4).toLowerCase()
  return 'credential_unavailable'
}
