/**
 * OpenID Connect discovery for the OIDC proxy, done once at start-up (never on the request path).
 * `strict` (the default) requires the issuer to match the discovery URL and the document to name
 * its endpoints, JWKS, response types and algorithms.
 */
import { ConfigError, UpstreamError } from '../errors.js'

export interface OidcDiscovery {
  issuer: string
  authorizationEndpoint: string
  tokenEndpoint: string
  revocationEndpoint?: string
  jwksUri: string
  idTokenAlgorithms: string[]
  issParameterSupported: boolean
}

const WELL_KNOWN = '/.well-known/openid-configuration'

/** Fetches and checks the discovery document; throws `ConfigError` for a document that fails the rules. */
export async function discoverOidc(
  configUrl: string,
  options: { strict: boolean; timeoutMs: number; fetch?: typeof fetch },
): Promise<OidcDiscovery> {
  let body: unknown
  try {
    const response = await (options.fetch ?? fetch)(configUrl, {
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
  return parseDiscovery(configUrl, body, options.strict)
}

/** Checks a discovery document (separate from the fetch so it can be tested on its own). */
export function parseDiscovery(configUrl: string, body: unknown, strict: boolean): OidcDiscovery {
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
  const algs = Array.isArray(doc.id_token_signing_alg_values_supported)
    ? doc.id_token_signing_alg_values_supported.filter((a): a is string => typeof a === 'string')
    : []
  if (strict) {
    const expected = configUrl.endsWith(WELL_KNOWN)
      ? configUrl.slice(0, -WELL_KNOWN.length)
      : undefined
    if (issuer !== undefined && expected !== undefined && issuer !== expected) {
      problems.push(`upstream discovery: issuer ${issuer} does not match the discovery URL`)
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
    idTokenAlgorithms: algs,
    issParameterSupported: doc.authorization_response_iss_parameter_supported === true,
  }
}
