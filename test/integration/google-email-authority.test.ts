/**
 * Linking accounts by email with Google behind the same Gatehouse as a corporate IdP: Google is
 * authoritative for an address only when it is `@gmail.com` (or `@googlemail.com`) or that of a
 * Workspace account (`hd`, its organization's primary domain; the address may be on another domain
 * the organization verified). A consumer Google account registered with the corporate
 * address must not become the corporate user; Gmail and Workspace users still link.
 */
import { createHash, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { startGoogleStandIn, type GoogleStandIn } from '../../src/dev/google-stand-in/index.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/server.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import type { AccessToken } from '../../src/jwt/access-token.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { approveAndSignIn, UserAgent } from '../helpers/user-agent.js'

const GH = 'http://127.0.0.1:7811'
const CB = 'http://127.0.0.1:5591/cb'
const GOOGLE_CLIENT = '1234567890-abc.apps.googleusercontent.com'
const GOOGLE_SECRET = 'GOCSPX-google-client-secret'

/** Signs `user` in at IdP `idp` through Gatehouse's chooser; the access token Gatehouse issues. */
async function signIn(
  gh: Gatehouse,
  idp: string,
  user: { username: string; password: string },
): Promise<AccessToken> {
  const registered = await gh.fetch(
    new Request(`${GH}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [CB], token_endpoint_auth_method: 'none' }),
    }),
  )
  const { client_id } = (await registered.json()) as { client_id: string }
  const verifier = randomBytes(32).toString('base64url')
  const query = new URLSearchParams({
    response_type: 'code',
    client_id,
    redirect_uri: CB,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 's',
  })
  const ua = new UserAgent({ [GH]: (r) => gh.fetch(r) })
  const back = await approveAndSignIn(ua, `${GH}/authorize?${query}`, user, CB, idp)
  const code = back.searchParams.get('code')
  if (code === null) throw new Error(`no code: ${back.href}`)
  const response = await gh.fetch(
    new Request(`${GH}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: CB,
        client_id,
      }).toString(),
    }),
  )
  const tokens = (await response.json()) as { access_token: string }
  const token = await gh.verifier.verifyToken(tokens.access_token)
  if (token === undefined) throw new Error('Gatehouse issued a token it does not accept')
  return token
}

describe('Google email authority when linking accounts by email', () => {
  let google: GoogleStandIn
  let corp: DevIdP
  let gh: Gatehouse
  beforeAll(async () => {
    google = await startGoogleStandIn({
      clients: [
        {
          clientId: GOOGLE_CLIENT,
          clientSecret: GOOGLE_SECRET,
          redirectUris: [`${GH}/auth/callback/google`],
        },
      ],
      users: [
        // A consumer account someone registered with the corporate address (no `hd`).
        { email: 'alice@corp.example', password: 'mallory-pw', sub: '999000000000000000001' },
        { email: 'grace@gmail.com', password: 'grace-pw', sub: '999000000000000000002' },
        {
          email: 'bob@corp.example',
          password: 'bob-pw',
          sub: '999000000000000000003',
          hd: 'corp.example',
        },
        // A Workspace account of an organization whose primary domain is other.example and which
        // verified corp.example as a secondary domain: Google hosts that address.
        {
          email: 'carol@corp.example',
          password: 'carol-pw',
          sub: '999000000000000000004',
          hd: 'other.example',
        },
      ],
    })
    corp = await startDevIdentityProvider({
      users: [
        { username: 'alice', password: 'alice-pw', sub: 'corp-alice', email: 'alice@corp.example' },
        { username: 'bob', password: 'bob-pw', sub: 'corp-bob', email: 'bob@corp.example' },
      ],
      clients: [
        {
          clientId: 'gatehouse',
          clientSecret: 'corp-secret',
          redirectUris: [`${GH}/auth/callback/corp`],
        },
      ],
    })
    gh = await createGatehouse({
      config: {
        issuer: GH,
        secret: 'g'.repeat(32),
        resources: [{ url: `${GH}/mcp` }],
        upstreams: [
          {
            id: 'corp',
            emailAuthoritative: true,
            upstream: {
              kind: 'oidc',
              configUrl: `${corp.issuer}/.well-known/openid-configuration`,
              clientId: 'gatehouse',
              clientSecret: 'corp-secret',
            },
          },
          {
            id: 'google',
            emailAuthoritative: true,
            upstream: {
              kind: 'google',
              discoveryUrl: google.discoveryUrl,
              clientId: GOOGLE_CLIENT,
              clientSecret: GOOGLE_SECRET,
            },
          },
        ],
        linkAccountsByEmail: true,
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
    })
  })
  afterAll(async () => {
    await gh.close()
    await google.close()
    await corp.close()
  })

  it('does not link a consumer Google account (no hd, not Gmail) to a corporate address', async () => {
    const real = await signIn(gh, 'corp', { username: 'alice', password: 'alice-pw' })
    expect(real.subject).toBe('email|alice@corp.example')
    const viaGoogle = await signIn(gh, 'google', {
      username: 'alice@corp.example',
      password: 'mallory-pw',
    })
    expect(viaGoogle.subject).not.toBe(real.subject)
    expect(viaGoogle.subject).toBe('google|999000000000000000001')
  })

  it('links a Workspace account on a secondary domain of its organization (hd names the primary one)', async () => {
    const viaGoogle = await signIn(gh, 'google', {
      username: 'carol@corp.example',
      password: 'carol-pw',
    })
    expect(viaGoogle.subject).toBe('email|carol@corp.example')
  })

  it('links a Gmail account by its address', async () => {
    const viaGoogle = await signIn(gh, 'google', {
      username: 'grace@gmail.com',
      password: 'grace-pw',
    })
    expect(viaGoogle.subject).toBe('email|grace@gmail.com')
  })

  it('links a Workspace account in its own domain to the same user at the corporate IdP', async () => {
    const real = await signIn(gh, 'corp', { username: 'bob', password: 'bob-pw' })
    const viaGoogle = await signIn(gh, 'google', {
      username: 'bob@corp.example',
      password: 'bob-pw',
    })
    expect(real.subject).toBe('email|bob@corp.example')
    expect(viaGoogle.subject).toBe(real.subject)
  })
})
