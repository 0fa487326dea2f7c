/**
 * `gatehouse check-config --online`: fetches the identity providers' discovery documents and key
 * sets the configuration names, by the rules the server applies at start-up (strict discovery,
 * the guarded fetch with the configuration's private-network settings), and reports each as ok
 * or failed with a reason. Never prints a response body.
 */
import { createNodeTransport } from '../adapters/node-transport.js'
import { resolveAuthority } from '../providers/azure/authority.js'
import type { ResolvedConfig } from '../config/schema.js'
import { isLoopbackHost, parseURL } from '../config/urls.js'
import { ConfigError } from '../errors.js'
import { createGuardedFetch } from '../http/guarded-fetch.js'
import { createDiscoverySource, createJWKSURISource, type KeySource } from '../jwt/key-source.js'
import { auth0Issuer } from '../providers/auth0/profile.js'
import { discoverOIDC } from '../upstream/oidc-discovery.js'

/** The outcome of one probe. */
export interface OnlineCheck {
  /** What was tried, e.g. `upstream discovery`. */
  what: string
  url: string
  ok: boolean
  /** Why it failed, or a short note on success (`2 keys`). */
  detail: string
}

/** Runs every probe the configuration calls for, one after another. */
export async function checkOnline(config: ResolvedConfig): Promise<OnlineCheck[]> {
  const checks: OnlineCheck[] = []
  const up = config.upstream
  if (up?.kind === 'oidc' || up?.kind === 'google') {
    const timeoutMs = up.timeoutSeconds * 1000
    const configUrl = up.kind === 'oidc' ? up.configUrl : up.discoveryUrl
    const strict = up.kind === 'oidc' ? up.strict : true
    let jwksUri: string | undefined
    checks.push(
      await probe('upstream discovery', configUrl, async () => {
        const d = await discoverOIDC(configUrl, { strict, timeoutMs })
        jwksUri = d.jwksUri
        return `issuer ${d.issuer}`
      }),
    )
    if (jwksUri !== undefined) {
      checks.push(await probeKeys('upstream JWKS', jwksUri, up.dangerouslyAllowPrivateNetwork))
    }
  } else if (up?.kind === 'auth0') {
    // Strict, against the issuer Auth0 documents (with its trailing slash), as the profile does.
    const issuer = auth0Issuer(up)
    const configUrl = `${issuer}.well-known/openid-configuration`
    let jwksUri: string | undefined
    checks.push(
      await probe('upstream discovery', configUrl, async () => {
        const d = await discoverOIDC(configUrl, {
          strict: true,
          issuer,
          timeoutMs: up.timeoutSeconds * 1000,
        })
        jwksUri = d.jwksUri
        return `issuer ${d.issuer}`
      }),
    )
    if (jwksUri !== undefined) {
      checks.push(await probeKeys('upstream JWKS', jwksUri, up.dangerouslyAllowPrivateNetwork))
    }
  } else if (up?.kind === 'oauth') {
    checks.push(await probeKeys('upstream JWKS', up.jwksUri, up.dangerouslyAllowPrivateNetwork))
  } else if (up?.kind === 'azure') {
    const authority = resolveAuthority(up)
    checks.push(
      await probe('upstream discovery', authority.discoveryUrl, async () => {
        // Entra's multi-tenant documents name a `{tenantid}` issuer: not strict.
        const d = await discoverOIDC(authority.discoveryUrl, {
          strict: false,
          timeoutMs: up.timeoutSeconds * 1000,
        })
        return `issuer ${d.issuer}`
      }),
    )
    checks.push(
      await probeKeys('upstream JWKS', authority.jwksUri, up.dangerouslyAllowPrivateNetwork),
    )
  }
  for (const [i, t] of (config.identityAssertion?.trustedIssuers ?? []).entries()) {
    const what = `identityAssertion.trustedIssuers.${i} keys`
    if (t.jwksUri !== undefined) {
      checks.push(await probeKeys(what, t.jwksUri, t.allowPrivateNetwork))
    } else if (t.discoveryUrl !== undefined) {
      const source = createDiscoverySource(t.discoveryUrl, t.issuer)
      checks.push(await probeKeys(what, t.discoveryUrl, t.allowPrivateNetwork, source))
    }
  }
  return checks
}

/** Fetches a key set (directly or through discovery) as the verifiers do; needs at least one key. */
function probeKeys(
  what: string,
  url: string,
  allowPrivateNetwork: boolean,
  source: KeySource = createJWKSURISource(url),
): Promise<OnlineCheck> {
  // As the server (providers/registry.ts): http only on loopback; private addresses for an
  // http loopback URL or when the configuration allows them.
  const loopback = isLoopbackURL(url)
  const fetch = createGuardedFetch({
    transport: createNodeTransport(),
    allowHttpLoopback: loopback,
    dangerouslyAllowPrivateNetwork: loopback || allowPrivateNetwork,
  })
  return probe(what, url, async () => {
    const jwks = (await source.load(fetch)) as { keys?: unknown } | null
    const keys = Array.isArray(jwks?.keys) ? jwks.keys.length : 0
    if (keys === 0) throw new Error('the key set holds no keys')
    return `${keys} key${keys === 1 ? '' : 's'}`
  })
}

async function probe(what: string, url: string, run: () => Promise<string>): Promise<OnlineCheck> {
  try {
    return { what, url, ok: true, detail: await run() }
  } catch (error) {
    return { what, url, ok: false, detail: reasonOf(error) }
  }
}

/** A one-line reason: the network cause when there is one, else the error's own words. */
function reasonOf(error: unknown): string {
  if (error instanceof ConfigError) return error.issues.join('; ')
  const codes: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'timed out',
    CERT_HAS_EXPIRED: 'TLS certificate expired',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  }
  const messages: string[] = []
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && codes[code]) return codes[code]
    if (e.name === 'TimeoutError') return 'timed out'
    messages.push(e.message)
    e = e.cause
  }
  // The outermost message is ours (no remote text); the first one with a status says more.
  return messages.find((m) => /\bstatus \d{3}\b/.test(m)) ?? messages[0] ?? 'failed'
}

function isLoopbackURL(value: string): boolean {
  const url = parseURL(value)
  return url?.protocol === 'http:' && isLoopbackHost(url.hostname)
}
