/**
 * Builds the upstream of a route from its configuration: a Streamable HTTP server or a stdio
 * program. Credentials are loaded here, at start-up, so a missing secret stops the gateway.
 */
import type { GatewayRoute } from '../config/gateway-schema.js'
import type { AccessToken } from '../jwt/access-token.js'
import type { SigningKeys } from '../tokens/keys.js'
import { loadCredential } from './credentials.js'
import { createHttpUpstream, type UpstreamTracing } from './http-upstream.js'
import { createStdioUpstream } from './stdio-upstream.js'
import type { Upstream } from './upstream.js'

export interface UpstreamDeps {
  env?: NodeJS.ProcessEnv
  /** Operational messages (failures, restarts, the child's stderr); never secrets. */
  log?: (message: string) => void
  /** The user's access token at the identity provider (`idp-token`; stdio `userTokenEnv`). */
  userToken?: (token: AccessToken) => Promise<string>
  /** Gatehouse's keys and issuer, for `gatehouse-token` credentials. */
  signer?: { keys: SigningKeys; issuer: string }
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
  switch (u.kind) {
    case 'http':
      return createHttpUpstream({
        url: u.url,
        timeoutMs: u.timeoutSeconds * 1000,
        credential: loadCredential(
          u.credential,
          u.identityHeaders,
          u.url,
          `gateway.routes.${index}.upstream.credential`,
          {
            ...(deps.env ? { env: deps.env } : {}),
            ...(deps.signer ? { signer: deps.signer } : {}),
            ...(deps.userToken ? { userToken: deps.userToken } : {}),
          },
        ),
        onError: (m) => {
          log(`route ${route.path}: ${m}`)
        },
        ...(deps.tracing ? { tracing: deps.tracing } : {}),
      })
    case 'stdio':
      return createStdioUpstream(u, {
        env: deps.env ?? process.env,
        ...(deps.userToken ? { userToken: deps.userToken } : {}),
        log: (m) => {
          log(`route ${route.path}: ${m}`)
        },
      })
  }
}
