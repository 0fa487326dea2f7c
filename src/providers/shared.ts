/**
 * What the generic profile builders share: the upstream client settings every `upstream` member
 * has, the dependencies of the IdP-token verifier, and the loopback rule for http IdPs.
 */
import type { ResolvedConfig } from '../config/schema.js'
import { isLoopbackHost } from '../config/urls.js'
import type { ProfileContext } from '../upstream/profile.js'

/** Any `upstream` member of the configuration. */
export type UpstreamConfig = NonNullable<ResolvedConfig['upstream']>

/** The `upstream` member of one kind. */
export type UpstreamOf<K extends UpstreamConfig['kind']> = Extract<UpstreamConfig, { kind: K }>

/** The upstream client settings taken as they are from any `upstream` member. */
export function commonSettings(up: UpstreamConfig) {
  return {
    clientId: up.clientId,
    ...(up.clientSecret !== undefined ? { clientSecret: up.clientSecret } : {}),
    tokenEndpointAuthMethod: up.tokenEndpointAuthMethod,
    extraTokenParams: { ...up.extraTokenParams },
    timeoutMs: up.timeoutSeconds * 1000,
  }
}

/** The clock, fetch, address checks, signature verifier and metrics of the IdP-token verifier. */
export function verifierDeps(ctx: ProfileContext<UpstreamConfig>) {
  const { deps } = ctx
  return {
    now: ctx.now,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.transport ? { transport: deps.transport } : {}),
    ...(deps.signatureVerifier ? { signatureVerifier: deps.signatureVerifier } : {}),
    clockToleranceSeconds: ctx.config.clockToleranceSeconds,
    ...(deps.observer ? { observer: deps.observer } : {}),
  }
}

/** An `http:` URL on a loopback host (development IdPs and stand-ins). */
export function isLoopbackURL(value: string): boolean {
  const url = new URL(value)
  return url.protocol === 'http:' && isLoopbackHost(url.hostname)
}
