/**
 * OpenID Connect discovery for the OIDC proxy, done once at start-up (never on the request path).
 * `strict` (the default) requires the issuer to be exactly the one the configuration implies and the
 * document to name its endpoints, JWKS, response types and algorithms. The issuer implied is the
 * discovery URL without `/.well-known/openid-configuration`, unless the caller names it: OpenID
 * Connect Discovery §4 drops an issuer's terminating `/` before appending the well-known path, so
 * `https://tenant.auth0.com/` (Auth0's documented issuer, with the slash) has the same discovery URL
 * as `https://tenant.auth0.com`, and only the profile knows which one the provider documents (OCI
 * IAM even names one issuer for all its identity domains). The comparison is exact either way
 * (§4.3, RFC 8414 §3.3): never a "close enough" match. A query (Entra's `?appid=…`) and a `/` after
 * the well-known path are not part of the issuer; a strict discovery URL that implies no issuer at
 * all (no well-known path) is refused rather than left unchecked.
 */
import { ConfigError, UpstreamError } from '../errors.js'
import { cappedFetch } from './upstream-client.js'

export interface OIDCDiscovery {
  issuer: string
  authorizationEndpoint: string
  tokenEndpoint: string
  revocationEndpoint?: string
  userinfoEndpoint?: string
  jwksUri: string
  idTokenAlgorithms: string[]
  issParameterSupported: boolean
}

const WELL_KNOWN = '/.well-known/openid-configuration'

/**
 * The issuer the discovery URL `configUrl` implies: the text before
 * `/.well-known/openid-configuration`, once its query and fragment are removed and one trailing
 * `/` after the well-known path is dropped. The text is kept as written (no URL normalisation),
 * since issuers are compared exactly. `undefined` when the URL has no well-known path.
 */
export function issuerImpliedBy(configUrl: string): string | undefined {
  // Entra documents `…/v2.0/.well-known/openid-configuration?appid=…`: the query selects the
  // application's signing keys and is not part of the issuer.
  const path = configUrl.replace(/#.*$/s, '').replace(/\?.*$/s, '').replace(/\/$/, '')
  return path.endsWith(WELL_KNOWN) ? path.slice(0, -WELL_KNOWN.length) : undefined
}

/** Fetches and checks the discovery document; throws `ConfigError` for a document that fails the rules. */
export async function discoverOIDC(
  configUrl: string,
  options: {
    strict: boolean
    timeoutMs: number
    fetch?: typeof fetch
    /** The issuer the provider documents, compared exactly in strict mode (see the header). */
    issuer?: string
  },
): Promise<OIDCDiscovery> {
  let body: unknown
  try {
    const response = await cappedFetch(options.fetch)(configUrl, {
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { accept: 'application/json' },
    })
    if (response.status !== 200) throw new Error(`status ${response.status}`)
    body = await response.json()
  } catch (error) {
    throw new UpstreamError('ERR_UPSTREAM', `OIDC discovery at ${configUrl} failed`, {
      cause: error,
    })
  }
  return parseDiscovery(configUrl, body, options.strict, options.issuer)
}

/**
 * Checks a discovery document (separate from the fetch so it can be tested on its own);
 * `expectedIssuer` is the issuer the provider documents for the document at `configUrl` (usually
 * its prefix; OCI IAM serves the shared issuer `https://identity.oraclecloud.com/` at every
 * identity domain's URL).
 */
export function parseDiscovery(
  configUrl: string,
  body: unknown,
  strict: boolean,
  expectedIssuer?: string,
): OIDCDiscovery {
  const problems: string[] = []
  const doc = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>
  const url = (name: string, required: boolean): string | undefined => {
    const v = doc[name]
    if (v === undefined) {
      if (required) problems.push(`upstream discovery: ${name} is missing`)
      return undefined
    }
    if (typeof v !== 'string' || !URL.canParse(v)) {
      problems.push(`upstream discovery: ${name} is not a URL`)
      return undefined
    }
    return v
  }
  const issuer = url('issuer', true)
  const authorizationEndpoint = url('authorization_endpoint', true)
  const tokenEndpoint = url('token_endpoint', true)
  const jwksUri = url('jwks_uri', true)
  const revocationEndpoint = url('revocation_endpoint', false)
  const userinfoEndpoint = url('userinfo_endpoint', false)
  const algs = Array.isArray(doc.id_token_signing_alg_values_supported)
    ? doc.id_token_signing_alg_values_supported.filter((a): a is string => typeof a === 'string')
    : []
  if (strict) {
    if (expectedIssuer !== undefined) {
      if (issuer !== undefined && issuer !== expectedIssuer) {
        problems.push(`upstream discovery: the issuer is ${issuer}, not ${expectedIssuer}`)
      }
    } else {
      const expected = issuerImpliedBy(configUrl)
      if (expected === undefined) {
        // Without an issuer to compare, a strict check would silently check nothing.
        problems.push(
          `upstream.configUrl: ${configUrl} does not end in ${WELL_KNOWN}, so it implies no ` +
            'issuer to check: give the discovery document URL (or set upstream.strict: false)',
        )
      } else if (issuer !== undefined && issuer !== expected) {
        problems.push(`upstream discovery: issuer ${issuer} does not match the discovery URL`)
      }
    }
    const types = doc.response_types_supported
    if (!Array.isArray(types) || !types.includes('code')) {
      problems.push('upstream discovery: response_types_supported must include "code"')
    }
    if (algs.length === 0)
      problems.push('upstream discovery: id_token_signing_alg_values_supported is missing')
  }
  if (problems.length > 0 || !issuer || !authorizationEndpoint || !tokenEndpoint || !jwksUri) {
    throw new ConfigError(
      problems.length > 0 ? problems : ['upstream discovery: incomplete document'],
    )
  }
  return {
    issuer,
    authorizationEndpoint,
    tokenEndpoint,
    jwksUri,
    ...(revocationEndpoint ? { revocationEndpoint } : {}),
    ...(userinfoEndpoint ? { userinfoEndpoint } : {}),
    idTokenAlgorithms: algs,
    issParameterSupported: doc.authorization_response_iss_parameter_supported === true,
  }
}
