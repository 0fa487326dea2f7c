/**
 * The Google provider profile against the local Google stand-in: what Gatehouse sends Google
 * (`access_type=offline`, `prompt=consent`, `hd` as a hint, no `offline_access`), the refresh
 * token Google gives only then, the ID token's `hd` and `email_verified` checked (a user outside
 * the domain can sign in at Google; Gatehouse refuses them), both forms of Google's issuer, and
 * the upstream refresh keeping Google's (unrotated) refresh token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import {
  startGoogleStandIn,
  type GoogleStandIn,
  type GoogleStandInUser,
} from '../../src/dev/google-stand-in/index.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { OAuthProxy } from '../../src/upstream/oauth-proxy.js'
import { createClock, type TestClock } from '../helpers/gatehouse.js'
import { signInThrough } from '../helpers/provider-sign-in.js'

const GH = 'http://127.0.0.1:7794'
const CLIENT = '1234567890-abc.apps.googleusercontent.com'
const SECRET = 'GOCSPX-google-client-secret'

const users = {
  ada: {
    email: 'ada@example.com',
    password: 'ada-pw',
    sub: '110169484474386276334',
    name: 'Ada Lovelace',
    hd: 'example.com',
  },
  gmail: { email: 'grace@gmail.example', password: 'grace-pw', sub: '220000000000000000001' },
  other: {
    email: 'eve@other.example',
    password: 'eve-pw',
    sub: '330000000000000000001',
    hd: 'other.example',
  },
  unverified: {
    email: 'new@example.com',
    password: 'new-pw',
    sub: '440000000000000000001',
    hd: 'example.com',
    emailVerified: false,
  },
} satisfies Record<string, GoogleStandInUser>

const cred = (u: GoogleStandInUser) => ({ username: u.email, password: u.password })

describe('Google provider', () => {
  let google: GoogleStandIn
  beforeAll(async () => {
    google = await startGoogleStandIn({
      clients: [{ clientId: CLIENT, clientSecret: SECRET, redirectUris: [`${GH}/auth/callback`] }],
      users: Object.values(users),
    })
  })
  afterAll(() => google.close())

  interface Setup {
    gh: Gatehouse
    clock: TestClock
    provider: OAuthProxy
    errors: (string | undefined)[]
    warnings: string[]
  }

  async function gatehouse(upstream: Record<string, unknown> = {}): Promise<Setup> {
    const clock = createClock()
    const errors: (string | undefined)[] = []
    const warnings: string[] = []
    const gh = await createGatehouse({
      config: {
        issuer: GH,
        secret: 'g'.repeat(32),
        resources: [{ url: `${GH}/mcp` }],
        upstream: {
          kind: 'google',
          discoveryUrl: google.discoveryUrl,
          clientId: CLIENT,
          clientSecret: SECRET,
          ...upstream,
        },
      },
      store: createMemoryStore(),
      now: clock.now,
      signatureVerifier: nodeSignatureVerifier,
      onError: (e) => errors.push(e.reason),
      onWarning: (m) => warnings.push(m),
    })
    if (!(gh.base instanceof OAuthProxy) || gh.base.profile.kind !== 'google') {
      throw new Error('expected the Google profile')
    }
    return { gh, clock, provider: gh.base, errors, warnings }
  }

  it('signs a user in: offline access with consent, a refresh token, the ID token’s subject', async () => {
    const { gh, provider } = await gatehouse()
    google.clearRequests()
    const result = await signInThrough(gh, GH, cred(users.ada))
    expect(result.token?.subject).toBe(users.ada.sub)
    expect(result.token?.upstream).toEqual({ issuer: google.url, subject: users.ada.sub })
    const authorize = google.requestsTo('authorize')[0]!.params
    expect(authorize).toMatchObject({
      client_id: CLIENT,
      redirect_uri: `${GH}/auth/callback`,
      scope: 'openid email profile',
      access_type: 'offline',
      prompt: 'consent',
      code_challenge_method: 'S256',
    })
    expect(authorize.nonce).toBeTypeOf('string')
    expect(authorize.hd).toBeUndefined()
    expect(authorize.resource).toBeUndefined()
    const token = google.requestsTo('token')[0]!
    expect(token.clientAuth).toBe('post')
    expect(token.params.scope).toBeUndefined()
    const grant = await provider.grants.get(result.token!.grantId!)
    expect(grant?.claims).toMatchObject({
      email: 'ada@example.com',
      email_verified: true,
      hd: 'example.com',
      name: 'Ada Lovelace',
    })
    expect((grant?.upstream as { refreshToken?: string }).refreshToken).toMatch(/^1\/\//)
    expect(result.token?.roles ?? []).toEqual([])
  })

  it('without prompt=consent Google gives no refresh token to a user who consented before', async () => {
    const { gh, provider, warnings } = await gatehouse({ prompt: 'select_account' })
    expect(warnings.join()).toMatch(/first consent/)
    // Ada consented in the test above: Google remembers it.
    const result = await signInThrough(gh, GH, cred(users.ada))
    const grant = await provider.grants.get(result.token!.grantId!)
    expect((grant?.upstream as { refreshToken?: string }).refreshToken).toBeUndefined()
  })

  it('hostedDomains: sends hd as a hint and checks the ID token’s hd claim', async () => {
    const { gh, errors } = await gatehouse({ hostedDomains: ['Example.com'] })
    google.clearRequests()
    const ok = await signInThrough(gh, GH, cred(users.ada))
    expect(ok.token?.subject).toBe(users.ada.sub)
    expect(google.requestsTo('authorize')[0]!.params.hd).toBe('example.com')
    // Google lets these users sign in despite the hint; Gatehouse refuses them.
    for (const user of [users.other, users.gmail]) {
      const refused = await signInThrough(gh, GH, cred(user))
      expect(refused.back.searchParams.get('error')).toBe('access_denied')
      expect(refused.tokens).toBeUndefined()
    }
    expect(errors.filter((r) => r === 'upstream_hosted_domain_not_allowed')).toHaveLength(2)
  })

  it('refuses an account whose email Google has not verified', async () => {
    const { gh, errors } = await gatehouse()
    const result = await signInThrough(gh, GH, cred(users.unverified))
    expect(result.back.searchParams.get('error')).toBe('access_denied')
    expect(errors).toContain('upstream_email_unverified')
  })

  it('requireVerifiedEmail: false signs the user in but keeps no unverified email', async () => {
    const { gh, provider } = await gatehouse({ requireVerifiedEmail: false })
    const result = await signInThrough(gh, GH, cred(users.unverified))
    const grant = await provider.grants.get(result.token!.grantId!)
    expect(grant?.claims?.email).toBeUndefined()
  })

  it('accepts ID tokens with the scheme-less issuer Google also uses', async () => {
    const { gh } = await gatehouse()
    google.setSchemelessIssuer(true)
    try {
      const result = await signInThrough(gh, GH, cred(users.ada))
      expect(result.token?.subject).toBe(users.ada.sub)
    } finally {
      google.setSchemelessIssuer(false)
    }
  })

  it('refreshes Google’s opaque access token with the kept refresh token', async () => {
    const { gh, clock, provider } = await gatehouse()
    const result = await signInThrough(gh, GH, cred(users.ada))
    const first = await provider.getUpstreamToken(result.token!)
    clock.advance(3600)
    const second = await provider.getUpstreamToken(result.token!)
    expect(second).not.toBe(first)
    const refresh = google.requestsTo('token').at(-1)!
    expect(refresh.params.grant_type).toBe('refresh_token')
    // Google does not rotate refresh tokens: the same one is kept for the next refresh.
    clock.advance(3600)
    await provider.getUpstreamToken(result.token!)
    const again = google.requestsTo('token').at(-1)!
    expect(again.params.refresh_token).toBe(refresh.params.refresh_token)
    const me = await fetch(`${google.url}/v1/userinfo`, {
      headers: { authorization: `Bearer ${await provider.getUpstreamToken(result.token!)}` },
    })
    expect(((await me.json()) as { email: string }).email).toBe('ada@example.com')
  })
})
