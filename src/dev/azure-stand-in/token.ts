/**
 * `/{tenant}/oauth2/v2.0/token`: authorization_code, refresh_token and On-Behalf-Of
 * (`urn:ietf:params:oauth:grant-type:jwt-bearer` + `requested_token_use=on_behalf_of`). Entra's
 * rules kept here: client secret by Basic (id and secret form-urlencoded, RFC 6749 §2.3.1) or
 * form (AADSTS7000215 when wrong); PKCE verifier
 * required and checked (AADSTS501481); codes single use (AADSTS54005) and short-lived (AADSTS70008);
 * `scope` required on code redemption (AADSTS28003) and from ONE resource plus OIDC scopes
 * (AADSTS28000); unknown scopes refused (AADSTS70011); refresh tokens rotated. OBO: the assertion
 * is a live token of this stand-in for the calling app (AADSTS50013, AADSTS500133), the user must
 * have consented to the downstream scopes (AADSTS65001, `consent_required`) and may need MFA
 * (AADSTS50076, `interaction_required`); B2C refuses it.
 */
import { createHash } from 'node:crypto'
import { createLocalJWKSet, jwtVerify } from 'jose'
import { checkClientAssertion, parseBasic, same } from './client-auth.js'
import {
  GRAPH_RESOURCE,
  OIDC,
  type ResolvedScope,
  type StandInApp,
  type StandInUser,
} from './directory.js'
import { azureError } from './errors.js'
import { randomID, type StandInState } from './state.js'

export async function handleToken(
  state: StandInState,
  tenantSegment: string,
  request: Request,
): Promise<Response> {
  const form = new URLSearchParams(await request.text())
  const params = Object.fromEntries(form)
  const basic = parseBasic(request.headers.get('authorization'))
  state.record({
    endpoint: 'token',
    tenant: tenantSegment,
    params,
    clientAuth: basic
      ? 'basic'
      : params.client_secret !== undefined
        ? 'post'
        : params.client_assertion !== undefined
          ? 'private_key_jwt'
          : 'none',
  })
  const tenant = state.directory.tenantFor(tenantSegment)
  if (!tenant)
    return azureError(400, 'invalid_request', 90002, `Tenant '${tenantSegment}' not found.`)
  if (basic?.wellFormed === false) {
    return azureError(401, 'invalid_client', 7000215, 'Invalid client secret provided.')
  }
  const clientId = basic?.id ?? params.client_id
  const secret = basic?.secret ?? params.client_secret
  const app = state.directory.app(clientId)
  if (app && params.client_assertion !== undefined) {
    const refused = await checkClientAssertion(
      app,
      params,
      `${state.base}/${tenantSegment}/oauth2/v2.0/token`,
      state.now(),
    )
    if (refused) return refused
    return grant(state, app, tenant.b2c, params)
  }
  if (!app)
    return azureError(
      400,
      'unauthorized_client',
      700016,
      'Application was not found in the directory.',
    )
  if (secret === undefined) {
    return azureError(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
    )
  }
  if (!same(secret, app.clientSecret)) {
    return azureError(401, 'invalid_client', 7000215, 'Invalid client secret provided.')
  }
  return grant(state, app, tenant.b2c, params)
}

function grant(
  state: StandInState,
  app: StandInApp,
  b2c: boolean,
  params: Record<string, string>,
): Promise<Response> | Response {
  switch (params.grant_type) {
    case 'authorization_code':
      return redeemCode(state, app, params)
    case 'refresh_token':
      return redeemRefresh(state, app, params)
    case 'urn:ietf:params:oauth:grant-type:jwt-bearer':
      if (b2c)
        return azureError(
          400,
          'unsupported_grant_type',
          70003,
          'The app requested an unsupported grant type.',
        )
      return onBehalfOf(state, app, params)
    case undefined:
    default:
      return azureError(
        400,
        'unsupported_grant_type',
        70003,
        'The app requested an unsupported grant type.',
      )
  }
}

/** The one resource of a scope list (OIDC scopes aside), or an error response. */
function oneResource(
  state: StandInState,
  scope: string | undefined,
):
  | { resource: ResolvedScope | undefined; names: string[]; oidc: string[]; full: string[] }
  | Response {
  const list = (scope ?? '').split(' ').filter((s) => s !== '')
  const oidc = list.filter((s) => OIDC.has(s))
  const resolved: ResolvedScope[] = []
  const full: string[] = []
  for (const s of list.filter((x) => !OIDC.has(x))) {
    const r = state.directory.resolveScope(s)
    if (!r)
      return azureError(
        400,
        'invalid_scope',
        70011,
        `The provided value for the input parameter 'scope' is not valid. The scope ${s} is not valid.`,
      )
    resolved.push(r)
    full.push(`${r.resource}/${r.name}`)
  }
  if (new Set(resolved.map((r) => r.resource)).size > 1) {
    return azureError(
      400,
      'invalid_request',
      28000,
      'Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ' +
        list.join(' ') +
        ' is not valid.',
    )
  }
  return { resource: resolved[0], names: resolved.map((r) => r.name), oidc, full }
}

async function redeemCode(state: StandInState, app: StandInApp, params: Record<string, string>) {
  const issued = params.code === undefined ? undefined : state.codes.get(params.code)
  if (!issued)
    return azureError(400, 'invalid_grant', 70000, 'The provided authorization code is invalid.')
  if (issued.redeemed)
    return azureError(
      400,
      'invalid_grant',
      54005,
      'OAuth2 Authorization code was already redeemed.',
    )
  if (issued.expiresAt <= state.now())
    return azureError(
      400,
      'invalid_grant',
      70008,
      'The provided authorization code or refresh token has expired.',
    )
  const p = issued.pending
  if (p.app.clientId !== app.clientId)
    return azureError(400, 'invalid_grant', 70000, 'The code was issued to another client.')
  if (params.redirect_uri !== p.params.redirect_uri)
    return azureError(
      400,
      'invalid_grant',
      50148,
      'The redirect_uri does not match the one of the authorization request.',
    )
  const verifier = params.code_verifier
  const challenge =
    verifier === undefined ? undefined : createHash('sha256').update(verifier).digest('base64url')
  if (challenge === undefined || challenge !== p.params.code_challenge) {
    return azureError(
      400,
      'invalid_grant',
      501481,
      'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
    )
  }
  if (params.scope === undefined || params.scope.trim() === '') {
    return azureError(
      400,
      'invalid_scope',
      28003,
      'Provided value for the input parameter scope cannot be empty when requesting an access token using the provided authorization code.',
    )
  }
  const parsed = oneResource(state, params.scope)
  if (parsed instanceof Response) return parsed
  const consented = new Set(p.scopes.map((s) => fullForm(state, s)))
  for (const s of parsed.full) {
    if (!consented.has(s))
      return azureError(
        400,
        'invalid_grant',
        65001,
        'The user or administrator has not consented to use the application.',
        { suberror: 'consent_required' },
      )
  }
  issued.redeemed = true
  state.issued.authorization_code++
  return tokenResponse(state, app, issued.user, parsed, {
    refresh: p.scopes.includes('offline_access'),
    idToken: p.scopes.includes('openid'),
    profile: p.scopes.includes('profile'),
    nonce: p.params.nonce,
    consented: [...consented],
    tenantSegment: p.tenantSegment,
    b2c: p.b2c,
  })
}

async function redeemRefresh(state: StandInState, app: StandInApp, params: Record<string, string>) {
  const rt =
    params.refresh_token === undefined ? undefined : state.refresh.get(params.refresh_token)
  if (!rt?.live || rt.app.clientId !== app.clientId) {
    return azureError(
      400,
      'invalid_grant',
      70000,
      'The provided refresh token is invalid or expired.',
    )
  }
  const parsed = oneResource(state, params.scope ?? rt.scopes.join(' '))
  if (parsed instanceof Response) return parsed
  for (const s of parsed.full) {
    if (!rt.scopes.includes(s))
      return azureError(
        400,
        'invalid_grant',
        65001,
        'The user or administrator has not consented to use the application.',
        { suberror: 'consent_required' },
      )
  }
  rt.live = false
  state.issued.refresh_token++
  return tokenResponse(state, app, rt.user, parsed, {
    refresh: true,
    idToken: parsed.oidc.includes('openid'),
    profile: parsed.oidc.includes('profile'),
    nonce: undefined,
    consented: rt.scopes,
    tenantSegment: rt.tenantSegment,
    b2c: rt.b2c,
  })
}

async function tokenResponse(
  state: StandInState,
  app: StandInApp,
  user: StandInUser,
  parsed: { resource: ResolvedScope | undefined; names: string[]; full: string[] },
  o: {
    refresh: boolean
    idToken: boolean
    /** Whether `profile` was asked for: Entra's ID token has `oid`, `name` … only then. */
    profile: boolean
    nonce: string | undefined
    consented: string[]
    tenantSegment: string
    b2c: boolean
  },
): Promise<Response> {
  // Only OIDC scopes: Entra issues a Graph token (User.Read).
  const resource = parsed.resource ?? state.directory.resolveScope(`${GRAPH_RESOURCE}/User.Read`)
  if (!resource) throw new Error('unreachable')
  // `.default`: every scope the resource exposes (as if an admin had consented to them all).
  const names = parsed.resource
    ? parsed.names.flatMap((n) => (n === '.default' ? (parsed.resource?.app?.scopes ?? []) : [n]))
    : ['User.Read']
  const { token } = await state.accessToken({
    user,
    client: app,
    scope: resource,
    names,
    b2c: o.b2c,
    policy: o.b2c ? policyOf(o.tenantSegment) : undefined,
  })
  const body: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: (parsed.resource ? parsed.full : [`${GRAPH_RESOURCE}/User.Read`]).join(' '),
    expires_in: state.tokenTtlSeconds,
    ext_expires_in: state.tokenTtlSeconds,
    access_token: token,
  }
  if (o.refresh) {
    const rt = randomID() + randomID()
    state.refresh.set(rt, {
      app,
      user,
      scopes: o.consented.filter((s) => !OIDC.has(s)),
      tenantSegment: o.tenantSegment,
      b2c: o.b2c,
      live: true,
    })
    body.refresh_token = rt
  }
  if (o.idToken) {
    body.id_token = await state.idToken(user, app, o.nonce, o.b2c, {
      policy: o.b2c ? policyOf(o.tenantSegment) : undefined,
      profile: o.profile,
    })
  }
  return Response.json(body, { headers: { 'cache-control': 'no-store' } })
}

async function onBehalfOf(state: StandInState, app: StandInApp, params: Record<string, string>) {
  if (params.requested_token_use !== 'on_behalf_of') {
    return azureError(400, 'invalid_request', 50027, "requested_token_use must be 'on_behalf_of'.")
  }
  if (params.assertion === undefined) {
    return azureError(
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'assertion'.",
    )
  }
  let claims: Record<string, unknown>
  try {
    const result = await jwtVerify(params.assertion, createLocalJWKSet(state.keys.jwks()), {
      algorithms: ['RS256'],
      currentDate: new Date(state.now()),
    })
    claims = result.payload
  } catch (error) {
    const expired =
      error instanceof Error && (error as { code?: string }).code === 'ERR_JWT_EXPIRED'
    return expired
      ? azureError(400, 'invalid_grant', 500133, 'Assertion is not within its valid time range.')
      : azureError(400, 'invalid_grant', 50013, 'Assertion failed signature validation.')
  }
  const audiences = [app.clientId, state.directory.identifierUri(app)]
  if (typeof claims.aud !== 'string' || !audiences.includes(claims.aud)) {
    return azureError(
      400,
      'invalid_grant',
      50013,
      'Assertion audience does not match the Client app presenting the assertion.',
    )
  }
  const user = state.directory.users.find(
    (u) => state.oid(u) === claims.oid && u.tenantId === claims.tid,
  )
  if (!user)
    return azureError(
      400,
      'invalid_grant',
      50034,
      'The user account does not exist in the directory.',
    )
  if (params.scope === undefined || params.scope.trim() === '') {
    return azureError(
      400,
      'invalid_request',
      900144,
      "The request body must contain the following parameter: 'scope'.",
    )
  }
  const parsed = oneResource(state, params.scope)
  if (parsed instanceof Response) return parsed
  if (!parsed.resource)
    return azureError(
      400,
      'invalid_scope',
      70011,
      "The provided value for the input parameter 'scope' is not valid.",
    )
  if (user.requireMfaForObo === true) {
    return azureError(
      400,
      'interaction_required',
      50076,
      'Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.',
      {
        suberror: 'basic_action',
        claims:
          '{"access_token":{"capolids":{"essential":true,"values":["00000000-0000-0000-0000-000000000001"]}}}',
      },
    )
  }
  const consented = state.consented(user, app)
  for (const s of parsed.full) {
    if (!consented.has(s)) {
      return azureError(
        400,
        'invalid_grant',
        65001,
        `The user or administrator has not consented to use the application with ID '${app.clientId}'. Send an interactive authorization request for this user and resource.`,
        { suberror: 'consent_required' },
      )
    }
  }
  const { token } = await state.accessToken({
    user,
    client: app,
    scope: parsed.resource,
    names: parsed.names,
    b2c: false,
    obo: true,
  })
  state.issued.on_behalf_of++
  return Response.json(
    {
      token_type: 'Bearer',
      scope: parsed.full.join(' '),
      expires_in: state.tokenTtlSeconds,
      ext_expires_in: state.tokenTtlSeconds,
      access_token: token,
    },
    { headers: { 'cache-control': 'no-store' } },
  )
}

/** B2C: the policy of a tenant segment `{name}.onmicrosoft.com/{policy}`. */
function policyOf(tenantSegment: string): string | undefined {
  return tenantSegment.split('/').at(1)
}

function fullForm(state: StandInState, scope: string): string {
  if (OIDC.has(scope)) return scope
  const r = state.directory.resolveScope(scope)
  return r ? `${r.resource}/${r.name}` : scope
}
