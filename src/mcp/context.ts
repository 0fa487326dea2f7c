/**
 * What a tool handler can reach besides the `AuthInfo` the SDK hands it: the verified token itself
 * and the OAuth proxy that holds the identity provider's tokens. Kept beside the `AuthInfo` (a
 * `WeakMap` keyed by its `extra` object) so nothing of it can be serialised or sent to the client.
 */
import type { AccessToken } from '../jwt/access-token.js'

/**
 * What tools may ask of the provider behind a Gatehouse: the identity provider's token for a
 * grant, and the profile's optional capabilities (On-Behalf-Of). A port: `OAuthProxy`
 * (upstream/oauth-proxy.ts) is one, so mcp/ asks a capability, never a provider class.
 */
export interface UpstreamAccess {
  getUpstreamToken(token: AccessToken): Promise<string>
  readonly capabilities?: {
    readonly onBehalfOf?: (token: AccessToken, scopes: readonly string[]) => Promise<string>
  }
}

/** `base` as an `UpstreamAccess` when it is one (an OAuth proxy), else `undefined`. */
export function upstreamAccessOf(base: unknown): UpstreamAccess | undefined {
  if (typeof base !== 'object' || base === null) return undefined
  const candidate = base as Partial<Record<keyof UpstreamAccess, unknown>>
  return typeof candidate.getUpstreamToken === 'function' ? (base as UpstreamAccess) : undefined
}

/** Internal: the request's token and, when the provider is an OAuth proxy, the proxy. */
export interface RequestContext {
  readonly token: AccessToken
  readonly upstream: UpstreamAccess | undefined
}

const contexts = new WeakMap<object, RequestContext>()

/** Remembers the context of an `AuthInfo.extra` object (replacing an earlier one). */
export function bindContext(extra: object, context: RequestContext): void {
  contexts.set(extra, context)
}

/** The context bound to an `AuthInfo.extra` object, if any. */
export function contextOf(extra: object | undefined): RequestContext | undefined {
  return extra === undefined ? undefined : contexts.get(extra)
}
