/**
 * The embedded development identity provider, driven through the real authorization code flow
 * with oauth4webapi as the client and a hand-rolled browser (manual redirects + a cookie jar).
 */
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/index.js'

// The dev IdP is plain http on loopback; oauth4webapi marks this opt-in as deprecated on purpose.
// eslint-disable-next-line @typescript-eslint/no-deprecated
const insecure = { [oauth.allowInsecureRequests]: true } as const

const ALICE = {
  username: 'alice',
  password: 'correct horse battery staple',
  sub: 'user-alice-0001',
  email: 'alice@example.test',
  name: 'Alice Example',
  claims: { groups: ['admins', 'devs'] },
}
const BOB = { username: 'bob', password: 'hunter2-but-longer' }
const CONFIDENTIAL = {
  clientId: 'gatehouse-upstream',
  clientSecret: 'upstream-client-secret-0123456789',
  redirectUris: ['http://127.0.0.1:9/callback'],
  clientName: 'Gatehouse <proxy> & co',
}
const PUBLIC = { clientId: 'cli-app', redirectUris: ['http://127.0.0.1:9/cli-callback'] }

/** A browser's cookie jar, ignoring paths and domains (everything goes to one IdP). */
class CookieJar {
  readonly #cookies = new Map<string, string>()

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attributes.some((attribute) => {
        const [key = '', val = ''] = attribute.trim().split('=')
        if (/^max-age$/i.test(key)) return Number(val) <= 0
        if (/^expires$/i.test(key)) return Date.parse(val) <= Date.now()
        return false
      })
      if (expired || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

type Outcome =
  | { kind: 'page'; status: number; url: URL; headers: Headers; html: string }
  | { kind: 'left'; location: URL }

interface TestClient {
  client: oauth.Client
  auth: oauth.ClientAuth
  redirectUri: string
}

let idp: DevIdP
let as: oauth.AuthorizationServer
let confidential: TestClient
let publicClient: TestClient
const seenSecrets: string[] = [ALICE.password, BOB.password, CONFIDENTIAL.clientSecret]

beforeAll(async () => {
  idp = await startDevIdentityProvider({
    users: [ALICE, BOB],
    clients: [CONFIDENTIAL, PUBLIC],
    accessTokenTtlSeconds: 300,
  })
  const issuer = new URL(idp.issuer)
  as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
  )
  confidential = {
    client: { client_id: CONFIDENTIAL.clientId },
    auth: oauth.ClientSecretBasic(CONFIDENTIAL.clientSecret),
    redirectUri: CONFIDENTIAL.redirectUris[0]!,
  }
  publicClient = {
    client: { client_id: PUBLIC.clientId },
    auth: oauth.None(),
    redirectUri: PUBLIC.redirectUris[0]!,
  }
})

afterAll(async () => {
  await idp.close()
})

/** Requests `url`, following redirects inside the IdP; stops at a page or a redirect out of it. */
async function navigate(
  jar: CookieJar,
  url: URL,
  form?: Record<string, string>,
  origin: string = idp.issuer,
): Promise<Outcome> {
  let next = url
  let body = form === undefined ? undefined : new URLSearchParams(form).toString()
  for (let hops = 0; hops < 10; hops += 1) {
    const headers: Record<string, string> = { cookie: jar.header() }
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      headers.origin = origin
    }
    const response = await fetch(next, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      redirect: 'manual',
      ...(body === undefined ? {} : { body }),
    })
    jar.store(response)
    const location = response.headers.get('location')
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel()
      const target = new URL(location, next)
      if (target.origin !== idp.issuer) return { kind: 'left', location: target }
      next = target
      body = undefined
      continue
    }
    const html = await response.text()
    return { kind: 'page', status: response.status, url: next, headers: response.headers, html }
  }
  throw new Error('too many redirects')
}

function expectPage(outcome: Outcome): Extract<Outcome, { kind: 'page' }> {
  if (outcome.kind !== 'page') throw new Error(`expected a page, left to ${outcome.location.href}`)
  return outcome
}

function expectLeft(outcome: Outcome): URL {
  if (outcome.kind !== 'left') throw new Error(`expected a redirect out, got ${outcome.status}`)
  return outcome.location
}

/** Submits the sign-in form found on `page`. */
async function signIn(
  jar: CookieJar,
  page: Extract<Outcome, { kind: 'page' }>,
  username: string,
  password: string,
): Promise<Outcome> {
  const action = /<form[^>]*action="([^"]+)"/.exec(page.html)?.[1]
  if (action === undefined) throw new Error('no sign-in form on the page')
  return navigate(jar, new URL(action.replaceAll('&amp;', '&'), page.url), { username, password })
}

interface Started {
  jar: CookieJar
  page: Extract<Outcome, { kind: 'page' }>
  state: string
  nonce: string
  verifier: string
}

/** Starts an authorization request and returns the sign-in page it leads to. */
async function startAuthorization(test: TestClient, scope: string): Promise<Started> {
  const jar = new CookieJar()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const verifier = oauth.generateRandomCodeVerifier()
  const url = new URL(as.authorization_endpoint!)
  url.search = new URLSearchParams({
    client_id: test.client.client_id,
    redirect_uri: test.redirectUri,
    response_type: 'code',
    scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString()
  const page = expectPage(await navigate(jar, url))
  return { jar, page, state, nonce, verifier }
}

/** Runs the whole flow for `user` and exchanges the code. */
async function authorize(
  test: TestClient,
  scope: string,
  user: { username: string; password: string } = ALICE,
): Promise<oauth.TokenEndpointResponse> {
  const started = await startAuthorization(test, scope)
  const location = expectLeft(await signIn(started.jar, started.page, user.username, user.password))
  return exchange(test, started, location)
}

async function exchange(
  test: TestClient,
  started: Started,
  location: URL,
): Promise<oauth.TokenEndpointResponse> {
  const params = oauth.validateAuthResponse(as, test.client, location, started.state)
  seenSecrets.push(params.get('code')!)
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    test.client,
    test.auth,
    params,
    test.redirectUri,
    started.verifier,
    insecure,
  )
  const tokens = await oauth.processAuthorizationCodeResponse(as, test.client, response, {
    expectedNonce: started.nonce,
    requireIdToken: true,
  })
  for (const token of [tokens.access_token, tokens.id_token, tokens.refresh_token]) {
    if (token !== undefined) seenSecrets.push(token)
  }
  return tokens
}

describe('dev identity provider', () => {
  it('refuses non-loopback hosts and unusable options', async () => {
    const base = { users: [BOB], clients: [PUBLIC] }
    for (const host of ['0.0.0.0', '::', 'localhost', '192.168.1.10', 'example.com']) {
      await expect(startDevIdentityProvider({ ...base, host })).rejects.toThrow(TypeError)
    }
    await expect(startDevIdentityProvider({ ...base, users: [] })).rejects.toThrow(TypeError)
    await expect(startDevIdentityProvider({ ...base, clients: [] })).rejects.toThrow(TypeError)
    await expect(
      startDevIdentityProvider({
        ...base,
        clients: [{ ...PUBLIC, clientSecret: 'x', tokenEndpointAuthMethod: 'none' }],
      }),
    ).rejects.toThrow(/public client/)
    await expect(
      startDevIdentityProvider({
        ...base,
        clients: [{ ...PUBLIC, tokenEndpointAuthMethod: 'client_secret_post' }],
      }),
    ).rejects.toThrow(/needs a clientSecret/)
    await expect(
      startDevIdentityProvider({ ...base, clients: [{ ...PUBLIC, redirectUris: ['ftp://x/cb'] }] }),
    ).rejects.toThrow(/clients\[0\]: redirect_uris/)
    await expect(
      startDevIdentityProvider({ ...base, users: [{ ...BOB, claims: { sub: 'x' } }] }),
    ).rejects.toThrow(/claims\.sub/)
    for (const alg of ['HS256', 'none', 'Ed25519', 'rs256']) {
      await expect(
        // @ts-expect-error: refused at run time too, for callers without types
        startDevIdentityProvider({ ...base, idTokenSigningAlg: alg }),
      ).rejects.toThrow(/idTokenSigningAlg must be one of RS256, .*EdDSA/)
    }
  })

  it('publishes discovery for static clients only: no registration, code flow, S256 only', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(as.issuer).toBe(idp.issuer)
    const raw = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as {
      [key: string]: unknown
    }
    expect(raw).not.toHaveProperty('registration_endpoint')
    expect(raw.code_challenge_methods_supported).toEqual(['S256'])
    expect(raw.response_types_supported).toEqual(['code'])
    expect(raw.id_token_signing_alg_values_supported).toEqual(['RS256'])
    expect(raw.scopes_supported).toEqual(
      expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']),
    )
    expect(raw.grant_types_supported).toEqual(
      expect.arrayContaining(['authorization_code', 'refresh_token']),
    )
    expect(raw.authorization_response_iss_parameter_supported).toBe(true)
  })

  it('serves its own sign-in page and re-renders it, without a code, on a wrong password', async () => {
    const started = await startAuthorization(confidential, 'openid email')
    const { page } = started
    expect(page.status).toBe(200)
    expect(page.url.pathname).toMatch(/^\/interaction\/[\w-]+$/)
    expect(page.html).toContain('Gatehouse development identity provider')
    expect(page.html).toContain('Gatehouse &lt;proxy&gt; &amp; co')
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    )
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    expect(page.headers.get('cache-control')).toBe('no-store')
    // Cookie names of its own: browsers share 127.0.0.1 cookies across ports.
    expect(started.jar.header()).toMatch(/(^|; )gatehouse_dev_idp_interaction=/)

    const wrong = expectPage(await signIn(started.jar, page, '<b>alice</b>', ALICE.password))
    expect(wrong.status).toBe(200)
    expect(wrong.html).toContain('Invalid username or password.')
    expect(wrong.html).toContain('value="&lt;b&gt;alice&lt;/b&gt;"')
    expect(wrong.html).not.toContain('<b>alice</b>')
    const again = expectPage(await signIn(started.jar, wrong, ALICE.username, 'not the password'))
    expect(again.html).toContain('Invalid username or password.')
    expect(again.url.pathname).toBe(`${page.url.pathname}/login`)

    // The same interaction still completes with the right password.
    const location = expectLeft(await signIn(started.jar, again, ALICE.username, ALICE.password))
    expect(location.searchParams.get('code')).toBeTruthy()
  })

  it('signs in with the right password and the code yields validated OIDC tokens', async () => {
    const tokens = await authorize(confidential, 'openid profile email')
    expect(tokens.token_type.toLowerCase()).toBe('bearer')
    expect(tokens.expires_in).toBe(300)
    expect(tokens.refresh_token).toBeUndefined() // no offline_access asked

    const claims = oauth.getValidatedIdTokenClaims(tokens)!
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: CONFIDENTIAL.clientId,
      sub: ALICE.sub,
      email: ALICE.email,
      email_verified: true,
      name: ALICE.name,
      preferred_username: ALICE.username,
      groups: ALICE.claims.groups,
    })

    // oauth4webapi trusts the token endpoint for the signature; check it against the JWKS too.
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri!))
    const verified = await jwtVerify(tokens.id_token!, jwks, {
      issuer: idp.issuer,
      audience: CONFIDENTIAL.clientId,
      algorithms: ['RS256'],
    })
    expect(verified.protectedHeader.kid).toBe(idp.jwks().keys[0]!.kid)
    expect(idp.jwks().keys[0]).not.toHaveProperty('d')

    const userinfo = await oauth.processUserInfoResponse(
      as,
      confidential.client,
      ALICE.sub,
      await oauth.userInfoRequest(as, confidential.client, tokens.access_token, insecure),
    )
    expect(userinfo).toMatchObject({ sub: ALICE.sub, email: ALICE.email })
  })

  it('omits claims of scopes not requested', async () => {
    const tokens = await authorize(publicClient, 'openid', BOB)
    const claims = oauth.getValidatedIdTokenClaims(tokens)!
    expect(claims.sub).toBe(BOB.username) // sub defaults to the username
    expect(claims).not.toHaveProperty('email')
    expect(claims).not.toHaveProperty('preferred_username')
  })

  it('issues refresh tokens with offline_access, and rotates them on every use', async () => {
    // No prompt=consent needed (unlike stock oidc-provider), as with Entra.
    const tokens = await authorize(publicClient, 'openid email offline_access')
    const first = tokens.refresh_token!
    expect(first).toBeTruthy()

    const refresh = async (token: string): Promise<oauth.TokenEndpointResponse> => {
      const response = await oauth.refreshTokenGrantRequest(
        as,
        publicClient.client,
        publicClient.auth,
        token,
        insecure,
      )
      const result = await oauth.processRefreshTokenResponse(as, publicClient.client, response)
      for (const t of [result.access_token, result.id_token, result.refresh_token]) {
        if (t !== undefined) seenSecrets.push(t)
      }
      return result
    }

    const refreshed = await refresh(first)
    expect(refreshed.access_token).not.toBe(tokens.access_token)
    expect(oauth.getValidatedIdTokenClaims(refreshed)?.sub).toBe(ALICE.sub)
    // Rotation: a new refresh token each time, and the used one is dead.
    expect(refreshed.refresh_token).toBeTruthy()
    expect(refreshed.refresh_token).not.toBe(first)
    await expect(refresh(first)).rejects.toMatchObject({ error: 'invalid_grant' })
    // Reusing a rotated-out token revokes the whole grant, the new refresh token included.
    await expect(refresh(refreshed.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    })
  })

  it('refuses an authorization request without PKCE, or with the plain method', async () => {
    for (const pkce of [{}, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }]) {
      const url = new URL(as.authorization_endpoint!)
      url.search = new URLSearchParams({
        client_id: PUBLIC.clientId,
        redirect_uri: publicClient.redirectUri,
        response_type: 'code',
        scope: 'openid',
        state: 'st',
        ...pkce,
      }).toString()
      const location = expectLeft(await navigate(new CookieJar(), url))
      expect(location.href.startsWith(publicClient.redirectUri)).toBe(true)
      expect(location.searchParams.get('error')).toBe('invalid_request')
      expect(location.searchParams.get('error_description')).toMatch(/PKCE|code_challenge/)
      expect(location.searchParams.has('code')).toBe(false)
    }
  })

  it('refuses an unknown redirect_uri without redirecting to it', async () => {
    const url = new URL(as.authorization_endpoint!)
    url.search = new URLSearchParams({
      client_id: CONFIDENTIAL.clientId,
      redirect_uri: 'http://127.0.0.1:9/elsewhere',
      response_type: 'code',
      scope: 'openid',
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: 'S256',
    }).toString()
    const page = expectPage(await navigate(new CookieJar(), url))
    expect(page.status).toBe(400)
    expect(page.html).toContain('redirect_uri')
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
  })

  it('refuses a sign-in posted from another origin, or without the interaction cookie', async () => {
    const started = await startAuthorization(confidential, 'openid')
    const action = `${started.page.url.pathname}/login`
    const crossSite = expectPage(
      await navigate(
        started.jar,
        new URL(action, idp.issuer),
        { username: ALICE.username, password: ALICE.password },
        'http://attacker.test',
      ),
    )
    expect(crossSite.status).toBe(403)
    const noCookie = expectPage(
      await navigate(new CookieJar(), new URL(action, idp.issuer), {
        username: ALICE.username,
        password: ALICE.password,
      }),
    )
    expect(noCookie.status).toBe(400)
    expect(noCookie.html).toContain('Start again')
  })

  it('rotates signing keys and keeps the previous key published', async () => {
    const before = await authorize(confidential, 'openid')
    const oldKid = decodeProtectedHeader(before.id_token!).kid
    await idp.rotateKeys()
    const kids = idp.jwks().keys.map((key) => key.kid)
    expect(kids).toHaveLength(2)
    expect(kids[1]).toBe(oldKid)

    const after = await authorize(confidential, 'openid')
    expect(decodeProtectedHeader(after.id_token!).kid).toBe(kids[0])
    const served = (await (await fetch(as.jwks_uri!)).json()) as { keys: { kid: string }[] }
    expect(served.keys.map((key) => key.kid)).toEqual(kids)
  })

  it('logs method and path only, never a password, code, token or secret', () => {
    expect(idp.requests.length).toBeGreaterThan(20)
    for (const entry of idp.requests) {
      expect(Object.keys(entry).sort()).toEqual(['method', 'path'])
      expect(entry.path).not.toContain('?')
    }
    expect(idp.requests).toContainEqual({ method: 'POST', path: '/token' })
    const log = JSON.stringify(idp.requests)
    expect(seenSecrets.length).toBeGreaterThan(10)
    for (const secret of seenSecrets) expect(log).not.toContain(secret)
  })
})
