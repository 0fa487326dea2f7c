/**
 * Which Entra tokens Gatehouse accepts: the tenant's v2 issuer for a single tenant (GUID or
 * domain), the token's own `tid` for `organizations` (optionally an allow-list), v1 issuers only
 * when switched on, B2C with or without a configured issuer; app roles carried to Gatehouse's token.
 */
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AzureJWTVerifier } from '../../src/providers/azure/azure-jwt-verifier.js'
import type { AzureStandIn } from '../../src/dev/azure-stand-in/index.js'
import { AzureProvider, createAzureB2CProxy } from '../../src/presets/azure.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import {
  APP_ID,
  APP_SECRET,
  B2C_TENANT,
  createAzureGatehouse,
  GH,
  signIn,
  startStandIn,
  TENANT_A,
  TENANT_B,
  TENANT_C,
  USERS,
  V1_APP_ID,
} from '../helpers/azure.js'

describe('Azure tenants and issuers', () => {
  let entra: AzureStandIn
  beforeAll(async () => {
    entra = await startStandIn()
  })
  afterAll(() => entra.close())

  /** A token as Entra would issue it for the app, with `claims` changed. */
  const entraToken = (claims: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000)
    return entra.sign({
      iss: entra.issuer(TENANT_A),
      aud: APP_ID,
      tid: TENANT_A,
      oid: 'o-1',
      sub: 's-1',
      azp: 'some-client',
      scp: 'read',
      ver: '2.0',
      iat: now,
      nbf: now,
      exp: now + 600,
      ...claims,
    })
  }
  const verifier = (options: Partial<ConstructorParameters<typeof AzureJWTVerifier>[0]> = {}) =>
    new AzureJWTVerifier({
      clientId: APP_ID,
      tenantId: TENANT_A,
      authority: entra.url,
      requiredScopes: ['read'],
      ...options,
    })

  describe('single tenant', () => {
    it('signs in a user of the tenant configured by domain, and carries app roles', async () => {
      const setup = await createAzureGatehouse(entra, { tenantId: 'a.onmicrosoft.com' })
      const { token } = await signIn(setup, USERS.alice)
      expect(token?.roles).toEqual(['Tools.Admin'])
      const grant = await setup.provider.grants.get(token!.grantId!)
      expect(grant?.claims).toMatchObject({
        tid: TENANT_A,
        upstream_iss: entra.issuer(TENANT_A),
      })
    })

    it('refuses a user of another tenant (the stand-in refuses, Gatehouse would too)', async () => {
      const setup = await createAzureGatehouse(entra, { tenantId: TENANT_A })
      const { back } = await signIn(setup, USERS.bob)
      expect(back.searchParams.get('error')).toBe('access_denied')
    })

    it('signs in with openid but no profile (Entra’s ID token then has no oid); compares oid when present', async () => {
      const idTokens: Record<string, unknown>[] = []
      const recording: typeof fetch = async (input, init) => {
        const request = new Request(input, init)
        const response = await fetch(request)
        if (request.url.endsWith('/oauth2/v2.0/token')) {
          const body = (await response.clone().json()) as { id_token?: string }
          if (body.id_token !== undefined) idTokens.push(decodeJwt(body.id_token))
        }
        return response
      }
      const plain = await createAzureGatehouse(entra, {
        requiredScopes: ['read', 'openid'],
        fetch: recording,
      })
      expect((await signIn(plain, USERS.alice)).token?.subject).toBeTypeOf('string')
      expect(idTokens.at(-1)).toMatchObject({ tid: TENANT_A })
      expect(idTokens.at(-1)).not.toHaveProperty('oid')
      expect(idTokens.at(-1)).not.toHaveProperty('name')
      expect(idTokens.at(-1)).not.toHaveProperty('preferred_username')
      const profile = await createAzureGatehouse(entra, {
        requiredScopes: ['read', 'openid', 'profile'],
        fetch: recording,
      })
      expect((await signIn(profile, USERS.alice)).token?.subject).toBeTypeOf('string')
      expect(idTokens.at(-1)).toHaveProperty('oid')
      // The tenant is always compared; the oid whenever the ID token has one.
      const access = await entraToken()
      const id = { iss: entra.issuer(TENANT_A), aud: APP_ID, tid: TENANT_A, sub: 'pairwise' }
      await expect(
        plain.provider.identify({ tokens: { accessToken: access }, idTokenClaims: id }),
      ).resolves.toMatchObject({ subject: 's-1' })
      for (const claims of [
        { ...id, oid: 'o-2' },
        { ...id, tid: TENANT_B },
      ]) {
        await expect(
          plain.provider.identify({ tokens: { accessToken: access }, idTokenClaims: claims }),
        ).rejects.toMatchObject({ code: 'access_denied', reason: 'upstream_id_token_mismatch' })
      }
    })

    it('refuses app-only tokens (client credentials) on the proxy path and when asked (OBO-02)', async () => {
      const app = { oid: 'sp-1', sub: 'sp-1', scp: undefined, roles: ['Tools.Admin'] }
      const appTokens = [
        await entraToken({ ...app, idtyp: 'app' }),
        // Without the optional idtyp claim: no scp and oid = sub.
        await entraToken(app),
      ]
      const user = await entraToken({ idtyp: 'user' })
      const open = verifier({ requiredScopes: [] })
      const strict = verifier({ requiredScopes: [], refuseAppOnlyTokens: true })
      for (const t of appTokens) {
        // A resource server may serve daemons: accepted unless asked otherwise.
        expect(await open.verifyToken(t)).toMatchObject({ subject: 'sp-1' })
        expect(await strict.verifyToken(t)).toBeUndefined()
      }
      expect(await strict.verifyToken(user)).toMatchObject({ subject: 's-1' })
      expect(await strict.verifyToken(await entraToken())).toMatchObject({ subject: 's-1' })
      // The proxy signs users in: its verifier refuses them, and so does identify().
      const setup = await createAzureGatehouse(entra, { requiredScopes: ['openid'] })
      for (const t of appTokens) {
        expect(await setup.provider.azure.accessTokenVerifier.verifyToken(t)).toBeUndefined()
        await expect(setup.provider.identify({ tokens: { accessToken: t } })).rejects.toMatchObject(
          { code: 'access_denied', reason: 'upstream_token_unverified' },
        )
      }
      await expect(
        setup.provider.identify({ tokens: { accessToken: user } }),
      ).resolves.toMatchObject({ subject: 's-1' })
    })

    it('accepts the tenant’s v2 issuer only', async () => {
      const v = verifier()
      expect(await v.verifyToken(await entraToken())).toMatchObject({ scopes: ['read'] })
      expect(
        await v.verifyToken(await entraToken({ iss: entra.issuer(TENANT_B), tid: TENANT_B })),
      ).toBeUndefined()
      // tid and iss must agree.
      expect(await v.verifyToken(await entraToken({ tid: TENANT_B }))).toBeUndefined()
    })

    it('checks audience (client id or identifier URI) and the required scopes', async () => {
      const v = verifier()
      expect(await v.verifyToken(await entraToken({ aud: `api://${APP_ID}` }))).toBeDefined()
      expect(
        await v.verifyToken(await entraToken({ aud: 'https://graph.microsoft.com' })),
      ).toBeUndefined()
      expect(await v.verifyToken(await entraToken({ scp: 'write' }))).toBeUndefined()
    })

    it('accepts v1 issuers only when allowV1Tokens is on', async () => {
      const v1 = await entraToken({
        iss: `https://sts.windows.net/${TENANT_A}/`,
        aud: `api://${APP_ID}`,
        ver: '1.0',
      })
      expect(await verifier().verifyToken(v1)).toBeUndefined()
      expect(await verifier({ allowV1Tokens: true }).verifyToken(v1)).toMatchObject({
        issuer: `https://sts.windows.net/${TENANT_A}/`,
      })
    })

    it('signs in through an app whose manifest asks for v1 tokens when switched on, not otherwise', async () => {
      const off = await createAzureGatehouse(entra, { clientId: V1_APP_ID })
      const refused = await signIn(off, USERS.alice)
      expect(refused.back.searchParams.get('error')).toBe('access_denied')
      expect(off.errors.map((e) => e.reason)).toContain('upstream_token_unverified')
      const on = await createAzureGatehouse(entra, { clientId: V1_APP_ID, allowV1Tokens: true })
      const ok = await signIn(on, USERS.alice)
      expect(ok.token?.subject).toBeTypeOf('string')
    })

    it('keeps accepting tokens after the stand-in rotates its signing key', async () => {
      let now = Date.now()
      const v = verifier({ now: () => now })
      expect(await v.verifyToken(await entraToken())).toBeDefined()
      await entra.rotateKeys()
      // An unknown kid reloads the keys once the refetch cooldown (5 min) has passed.
      now += 301_000
      expect(await v.verifyToken(await entraToken({ oid: 'o-2' }))).toBeDefined()
    })
  })

  describe('organizations (multi-tenant)', () => {
    it('signs in users of two tenants, each checked against its own issuer (ID tokens too)', async () => {
      // `openid`: Entra's ID tokens name the user's tenant, checked with the same template.
      const setup = await createAzureGatehouse(entra, {
        tenantId: 'organizations',
        requiredScopes: ['read', 'openid'],
      })
      const a = await signIn(setup, USERS.alice)
      const b = await signIn(setup, USERS.bob)
      const ga = await setup.provider.grants.get(a.token!.grantId!)
      const gb = await setup.provider.grants.get(b.token!.grantId!)
      expect(ga?.claims).toMatchObject({ tid: TENANT_A, upstream_iss: entra.issuer(TENANT_A) })
      expect(gb?.claims).toMatchObject({ tid: TENANT_B, upstream_iss: entra.issuer(TENANT_B) })
      expect(entra.requestsTo('authorize').at(-1)?.tenant).toBe('organizations')
      expect(entra.requestsTo('authorize').at(-1)?.params.nonce).toBeTypeOf('string')
      // The refresh answer carries a new ID token, again from the user's own tenant.
      await setup.provider.getUpstreamToken(b.token!)
      setup.clock.advance(7200)
      expect(await setup.provider.getUpstreamToken(b.token!)).toBeTypeOf('string')
      expect(entra.requestsTo('token').at(-1)?.params.grant_type).toBe('refresh_token')
    })

    it('warns at start-up when organizations/common run without allowedTenants', async () => {
      const warning = (w: string[]) => w.filter((m) => m.includes('without allowedTenants'))
      for (const tenantId of ['organizations', 'common', 'Organizations']) {
        const open = await createAzureGatehouse(entra, { tenantId })
        expect(warning(open.warnings)).toHaveLength(1)
        expect(warning(open.warnings)[0]).toMatch(/roles.*scp.*tenant/)
        const listed = await createAzureGatehouse(entra, { tenantId, allowedTenants: [TENANT_A] })
        expect(listed.warnings).toEqual([])
      }
      expect((await createAzureGatehouse(entra, { tenantId: TENANT_A })).warnings).toEqual([])
      expect((await createAzureGatehouse(entra, { tenantId: 'consumers' })).warnings).toEqual([])
    })

    it('with allowedTenants, refuses users of other tenants', async () => {
      const setup = await createAzureGatehouse(entra, {
        tenantId: 'organizations',
        allowedTenants: [TENANT_A, TENANT_B],
      })
      expect((await signIn(setup, USERS.bob)).token).toBeDefined()
      const carol = await signIn(setup, USERS.carol)
      expect(carol.back.searchParams.get('error')).toBe('access_denied')
      expect(carol.token).toBeUndefined()
    })

    it('takes allowedTenants in any case; an ID token of another tenant is access_denied', async () => {
      const setup = await createAzureGatehouse(entra, {
        tenantId: 'organizations',
        allowedTenants: [TENANT_B.toUpperCase()],
        requiredScopes: ['read', 'openid', 'profile'],
      })
      const bob = await signIn(setup, USERS.bob)
      expect(bob.back.searchParams.get('error')).toBeNull()
      expect(bob.token?.subject).toBeTypeOf('string')
      const carol = await signIn(setup, USERS.carol)
      expect(carol.back.searchParams.get('error')).toBe('access_denied')
      expect(carol.token).toBeUndefined()
      expect(setup.errors.at(-1)?.reason).toBe('upstream_tenant_not_allowed')
    })

    it('refuses a token whose issuer names another tenant than its tid', async () => {
      const v = verifier({ tenantId: 'organizations' })
      expect(
        await v.verifyToken(await entraToken({ iss: entra.issuer(TENANT_B), tid: TENANT_B })),
      ).toBeDefined()
      expect(
        await v.verifyToken(await entraToken({ iss: entra.issuer(TENANT_B), tid: TENANT_C })),
      ).toBeUndefined()
      expect(await v.verifyToken(await entraToken({ tid: 'not-a-guid' }))).toBeUndefined()
      // Personal accounts are not `organizations`.
      const msa = '9188040d-6c67-4c5b-b112-36a304b66dad'
      const personal = await entraToken({ iss: entra.issuer(msa), tid: msa })
      expect(await v.verifyToken(personal)).toBeUndefined()
      expect(await verifier({ tenantId: 'common' }).verifyToken(personal)).toBeDefined()
    })
  })

  describe('B2C', () => {
    const b2cIssuer = () => `${entra.url}/${B2C_TENANT}/v2.0/`
    const b2cToken = (claims: Record<string, unknown> = {}) =>
      entraToken({ iss: b2cIssuer(), tid: B2C_TENANT, tfp: 'B2C_1_susi', ...claims })
    const b2c = (tokenIssuer?: string) =>
      new AzureJWTVerifier({
        clientId: APP_ID,
        authority: entra.url,
        b2c: {
          tenantName: 'contosob2c',
          policyName: 'B2C_1_susi',
          ...(tokenIssuer !== undefined ? { tokenIssuer } : {}),
        },
        requiredScopes: ['read'],
      })

    it('derives the endpoints and identifier URI from tenant and policy', () => {
      const v = new AzureJWTVerifier({
        clientId: APP_ID,
        b2c: { tenantName: 'contosob2c', policyName: 'B2C_1_susi' },
        requiredScopes: ['read'],
      })
      expect(v.authority.authorizationEndpoint).toBe(
        'https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/B2C_1_susi/oauth2/v2.0/authorize',
      )
      expect(v.scopesSupported).toEqual([`https://contosob2c.onmicrosoft.com/${APP_ID}/read`])
    })

    it('checks the configured tokenIssuer', async () => {
      const v = b2c(b2cIssuer())
      expect(await v.verifyToken(await b2cToken())).toBeDefined()
      expect(
        await v.verifyToken(await b2cToken({ iss: `${entra.url}/${TENANT_A}/v2.0/` })),
      ).toBeUndefined()
    })

    it('without tokenIssuer, skips the issuer check but not signature, host and audience', async () => {
      const v = b2c()
      expect(
        await v.verifyToken(await b2cToken({ iss: `${entra.url}/${TENANT_C}/v2.0/` })),
      ).toBeDefined()
      expect(
        await v.verifyToken(await b2cToken({ iss: 'https://evil.example/x/v2.0/' })),
      ).toBeUndefined()
      expect(await v.verifyToken(await b2cToken({ aud: 'someone-else' }))).toBeUndefined()
      const forged = (await b2cToken()).slice(0, -4) + 'AAAA'
      expect(await v.verifyToken(forged)).toBeUndefined()
    })

    it('accepts only tokens of the configured policy (tfp, or the legacy acr), in any case', async () => {
      for (const v of [b2c(b2cIssuer()), b2c()]) {
        expect(await v.verifyToken(await b2cToken())).toBeDefined()
        expect(await v.verifyToken(await b2cToken({ tfp: 'b2c_1_SUSI' }))).toBeDefined()
        expect(
          await v.verifyToken(await b2cToken({ tfp: undefined, acr: 'b2c_1_susi' })),
        ).toBeDefined()
        expect(await v.verifyToken(await b2cToken({ tfp: 'B2C_1_weak' }))).toBeUndefined()
        // `tfp` wins over `acr` when both are there.
        expect(
          await v.verifyToken(await b2cToken({ tfp: 'B2C_1_weak', acr: 'b2c_1_susi' })),
        ).toBeUndefined()
        expect(await v.verifyToken(await b2cToken({ tfp: undefined }))).toBeUndefined()
      }
    })

    const b2cGatehouse = async (policyName: string) => {
      const gh = await createAzureB2CProxy({
        baseUrl: GH,
        clientId: APP_ID,
        clientSecret: APP_SECRET,
        tenantName: 'contosob2c',
        policyName,
        identifierUri: `api://${APP_ID}`,
        tokenIssuer: b2cIssuer(),
        authority: entra.url,
        requiredScopes: ['read', 'openid'],
        secret: 's'.repeat(32),
        store: createMemoryStore(),
      })
      const provider = gh.base
      if (!(provider instanceof AzureProvider)) throw new Error('expected the Azure provider')
      const errors: { code: string; reason: string | undefined }[] = []
      return { gh, provider, clock: { now: Date.now, advance: () => 0 }, warnings: [], errors }
    }

    it('refuses the access and ID tokens of another user flow of the same tenant', async () => {
      // A user signs in through the weaker flow (same tenant, keys, issuer and app) ...
      const weak = await b2cGatehouse('B2C_1_weak')
      const { token } = await signIn(weak, USERS.b2c)
      expect(entra.requestsTo('authorize').at(-1)?.tenant).toBe(
        'contosob2c.onmicrosoft.com/B2C_1_weak',
      )
      const weakToken = await weak.provider.getUpstreamToken(token!)
      // ... and presents that token to a Gatehouse configured for B2C_1_susi.
      const strict = await b2cGatehouse('B2C_1_susi')
      expect(await strict.provider.azure.accessTokenVerifier.verifyToken(weakToken)).toBeUndefined()
      expect(await weak.provider.azure.accessTokenVerifier.verifyToken(weakToken)).toBeDefined()
      // An ID token of the weak flow with an access token of the right one: refused too.
      const now = Math.floor(Date.now() / 1000)
      const susiAccess = await b2cToken({ oid: 'o-1', tid: B2C_TENANT })
      const idClaims = { iss: b2cIssuer(), aud: APP_ID, tid: B2C_TENANT, oid: 'o-1', iat: now }
      await expect(
        strict.provider.identify({
          tokens: { accessToken: susiAccess },
          idTokenClaims: { ...idClaims, tfp: 'B2C_1_weak' },
        }),
      ).rejects.toMatchObject({ code: 'access_denied', reason: 'upstream_id_token_mismatch' })
      await expect(
        strict.provider.identify({
          tokens: { accessToken: susiAccess },
          idTokenClaims: { ...idClaims, tfp: 'B2C_1_SUSI' },
        }),
      ).resolves.toMatchObject({ subject: 's-1' })
    })

    it('signs a B2C user in end to end, and refuses On-Behalf-Of', async () => {
      const gh = await createAzureB2CProxy({
        baseUrl: GH,
        clientId: APP_ID,
        clientSecret: APP_SECRET,
        tenantName: 'contosob2c',
        policyName: 'B2C_1_susi',
        identifierUri: `api://${APP_ID}`,
        tokenIssuer: b2cIssuer(),
        authority: entra.url,
        requiredScopes: ['read'],
        secret: 's'.repeat(32),
        store: createMemoryStore(),
      })
      const provider = gh.base
      if (!(provider instanceof AzureProvider)) throw new Error('expected the Azure provider')
      const { token } = await signIn(
        { gh, provider, clock: { now: Date.now, advance: () => 0 }, warnings: [], errors: [] },
        USERS.b2c,
      )
      expect(token?.subject).toBeTypeOf('string')
      expect(entra.requestsTo('authorize').at(-1)?.tenant).toBe(
        'contosob2c.onmicrosoft.com/B2C_1_susi',
      )
      await expect(
        provider.onBehalfOf(token!, ['https://graph.microsoft.com/User.Read']),
      ).rejects.toMatchObject({ name: 'AzureOBOError', code: 'ERR_OBO_NOT_SUPPORTED' })
    })
  })
})
