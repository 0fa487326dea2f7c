/**
 * What a tool handler can reach besides the `AuthInfo` the SDK hands it: the verified token itself
 * and the OAuth proxy that holds the identity provider's tokens. Kept beside the `AuthInfo` (a
 * `WeakMap` keyed by its `extra` object) so nothing of it can be serialised or sent to the client.
 */
import type { AccessToken } from '../jwt/access-token.js'
import type { OAuthProxy } from '../upstream/oauth-proxy.js'

/** Internal: the request's token and, when the provider is an `OAuthProxy`, the proxy. */
export interface RequestContext {
  readonly token: AccessToken
  readonly upstream: OAuthProxy | undefined
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
