/**
 * The start-up check the named providers (Keycloak, Auth0 …) share: fetch the discovery document
 * where the provider's settings say it is, and fail with a `ConfigError` that names the options and
 * the provider's console setting when there is no document there (404: a wrong realm, pool or
 * authorization server) or its issuer is not the one those settings imply (a wrong domain, a
 * proxy or custom domain the IdP was not told about).
 */
import { ConfigError, UpstreamError } from '../errors.js'
import { parseDiscovery, type OIDCDiscovery } from '../upstream/oidc-discovery.js'
import { cappedFetch } from '../upstream/upstream-client.js'

const WELL_KNOWN = '/.well-known/openid-configuration'

/** The discovery document URL of `issuer` (OpenID Discovery §4: a trailing slash is dropped). */
export function discoveryURLOf(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}${WELL_KNOWN}`
}

/**
 * The provider's discovery document, whose issuer must be `expected` exactly; `hint` says which
 * options and console settings to check.
 */
export async function discoverExpectedIssuer(
  expected: string,
  hint: string,
  options: { timeoutMs: number; fetch?: typeof fetch },
): Promise<OIDCDiscovery> {
  const url = discoveryURLOf(expected)
  let response: Response
  let body: unknown
  try {
    response = await cappedFetch(options.fetch)(url, {
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { accept: 'application/json' },
    })
    body = response.status === 200 ? await response.json() : undefined
  } catch (error) {
    throw new UpstreamError('ERR_UPSTREAM', `OIDC discovery at ${url} failed`, { cause: error })
  }
  if (response.status === 404) {
    throw new ConfigError([`upstream: there is no discovery document at ${url} (404): ${hint}`])
  }
  if (response.status !== 200) {
    throw new UpstreamError('ERR_UPSTREAM', `OIDC discovery at ${url} failed`, {
      cause: new Error(`status ${response.status}`),
    })
  }
  const found = parseDiscovery(url, body, false)
  if (found.issuer !== expected) {
    throw new ConfigError([
      `upstream: the identity provider's issuer is ${found.issuer}, not ${expected}: ${hint}`,
    ])
  }
  return found
}
