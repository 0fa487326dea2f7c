/**
 * The OCI IAM identity domain profile (`upstream.kind: 'oci'`): OpenID Connect at one identity
 * domain (Oracle Cloud Infrastructure; formerly IDCS), with the rules Oracle documents:
 * - the discovery document is at the domain URL, but its issuer is the one every domain shares,
 *   `https://identity.oraclecloud.com/` (`upstream.issuer`): discovery is strict and compared
 *   exactly with that issuer, never with the domain. Since the issuer does not tell domains
 *   apart, the domain's own key set (from its document) and the client id as audience do;
 * - the ID token's `aud` also holds the issuer: extra audiences are allowed, the client id must be
 *   one of them (and `azp`, which the code exchange checks);
 * - the key set is served only when the domain's "Configure client access" setting is on: it is
 *   fetched at start-up, and a refusal fails naming that setting;
 * - scopes `openid profile email offline_access`; the groups in the ID token's `groupsClaim` (put
 *   there by a custom claim) become Gatehouse roles (`../roles.ts`). `urn:opc:idm:__myscopes__` is
 *   not asked for: it grants the identity domain's own admin API scopes, not groups.
 */
import { ASYMMETRIC_ALGORITHMS } from '../../config/protocol.js'
import { ConfigError, UpstreamError } from '../../errors.js'
import { JWTVerifier } from '../../jwt/verifier.js'
import { discoverOIDC } from '../../upstream/oidc-discovery.js'
import {
  verifiedIdentity,
  type ProfileContext,
  type ProviderProfile,
  type UserIdentity,
} from '../../upstream/profile.js'
import { UpstreamClient } from '../../upstream/upstream-client.js'
import { stringList, withRoles } from '../roles.js'
import { commonSettings, isLoopbackURL, verifierDeps, type UpstreamOf } from '../shared.js'

export type OCIUpstream = UpstreamOf<'oci'>

export const OCI_SCOPES = ['openid', 'profile', 'email', 'offline_access']

const CLIENT_ACCESS =
  'OCI Console → Identity & Security → Domains → your domain → Settings → Edit domain ' +
  'settings → Configure client access'

export async function buildOCIProfile(ctx: ProfileContext<OCIUpstream>): Promise<ProviderProfile> {
  const up = ctx.upstream
  const domain = up.domainUrl.replace(/\/+$/, '')
  const timeoutMs = up.timeoutSeconds * 1000
  const d = await discoverOIDC(`${domain}/.well-known/openid-configuration`, {
    strict: true,
    issuer: up.issuer,
    timeoutMs,
    ...(ctx.deps.fetch ? { fetch: ctx.deps.fetch } : {}),
  }).catch((error: unknown) => {
    if (!(error instanceof ConfigError)) throw error
    throw new ConfigError(
      error.issues.map((issue) =>
        issue.includes('the issuer is')
          ? `${issue} (check upstream.domainUrl: OCI Console → Identity & Security → Domains → ` +
            'your domain → Domain URL; upstream.issuer is the issuer the domain names)'
          : issue,
      ),
    )
  })
  await checkClientAccess(d.jwksUri, timeoutMs, ctx.deps.fetch)
  const algorithms = d.idTokenAlgorithms.filter((a) =>
    (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a),
  )
  if (algorithms.length === 0) {
    throw new ConfigError([
      'upstream discovery: the identity domain offers no asymmetric ID-token algorithm',
    ])
  }
  const upstream = new UpstreamClient(
    {
      ...commonSettings(up),
      issuer: d.issuer,
      authorizationEndpoint: d.authorizationEndpoint,
      tokenEndpoint: d.tokenEndpoint,
      ...(d.revocationEndpoint ? { revocationEndpoint: d.revocationEndpoint } : {}),
      jwksUri: d.jwksUri,
      issParameterSupported: d.issParameterSupported,
      openid: true,
      idTokenAlgorithms: algorithms,
      extraAuthorizeParams: { ...up.extraAuthorizeParams },
      allowInsecureRequests: isLoopbackURL(domain),
    },
    ctx.deps.fetch,
    ctx.now,
  )
  const idTokens = new JWTVerifier({
    issuer: d.issuer,
    audience: up.clientId,
    // Oracle adds its issuer to the ID token's audience.
    allowExtraAudiences: true,
    jwksUri: d.jwksUri,
    algorithms,
    allowHttpLoopback: isLoopbackURL(d.jwksUri),
    dangerouslyAllowPrivateNetwork: isLoopbackURL(d.jwksUri) || up.dangerouslyAllowPrivateNetwork,
    ...verifierDeps(ctx),
  })
  const identifyUser = verifiedIdentity(idTokens)
  const scopes = up.scopes ?? OCI_SCOPES
  return {
    kind: 'oci',
    upstream,
    redirectPath: up.redirectPath,
    scopes: { authorize: () => scopes },
    async identify(result): Promise<UserIdentity> {
      const identity = await identifyUser(result)
      const claims = result.tokens.idToken
        ? (await idTokens.verifyToken(result.tokens.idToken))?.claims
        : undefined
      return withRoles(identity, stringList(claims?.[up.groupsClaim]))
    },
  }
}

/** Fetches the domain's key set once; a 401/403 means "Configure client access" is off. */
async function checkClientAccess(
  jwksUri: string,
  timeoutMs: number,
  fetchImpl: typeof fetch = fetch,
): Promise<void> {
  let status: number
  try {
    const response = await fetchImpl(jwksUri, {
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json' },
    })
    status = response.status
    await response.body?.cancel()
  } catch (error) {
    throw new UpstreamError('ERR_UPSTREAM', `the identity domain's keys at ${jwksUri} failed`, {
      cause: error,
    })
  }
  if (status === 401 || status === 403) {
    throw new ConfigError([
      `upstream: the identity domain refuses its signing keys to anonymous callers (${jwksUri}, ` +
        `status ${String(status)}): turn on ${CLIENT_ACCESS}`,
    ])
  }
  if (status !== 200) {
    throw new UpstreamError('ERR_UPSTREAM', `the identity domain's keys at ${jwksUri} failed`, {
      cause: new Error(`status ${String(status)}`),
    })
  }
}
