/**
 * Entra On-Behalf-Of through Gatehouse: cached per (user token, scopes) until shortly before it
 * expires, typed errors that keep Entra's codes and never carry the secret or the user's token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AzureOBOError } from '../../src/obo-error.js'
import type { AzureStandIn } from '../../src/dev/azure-stand-in/index.js'
import { azureOBOToken } from '../../src/mcp/azure.js'
import { toAuthInfo } from '../../src/mcp/auth-info.js'
import { bindContext } from '../../src/mcp/context.js'
import { createTestGatehouse } from '../helpers/gatehouse.js'
import {
  APP_ID,
  APP_SECRET,
  createAzureGatehouse,
  signIn,
  startStandIn,
  TENANT_A,
  USERS,
  type AzureSetup,
} from '../helpers/azure.js'

const USER_READ = 'https://graph.microsoft.com/User.Read'
const MAIL_READ = 'https://graph.microsoft.com/Mail.Read'

describe('Entra On-Behalf-Of', () => {
  let entra: AzureStandIn
  let setup: AzureSetup
  beforeAll(async () => {
    entra = await startStandIn({ tokenTtlSeconds: 3600 })
    setup = await createAzureGatehouse(entra, {
      requiredScopes: ['read'],
      additionalAuthorizeScopes: ['User.Read'],
    })
  })
  afterAll(() => entra.close())

  const oboCalls = () =>
    entra.requestsTo('token').filter((r) => r.params.requested_token_use === 'on_behalf_of')

  it('sends Entra’s OBO request with the user’s Entra token and returns a Graph token', async () => {
    const { token } = await signIn(setup, USERS.alice)
    const before = oboCalls().length
    const graph = await setup.provider.onBehalfOf(token!, [USER_READ])
    expect(oboCalls().length).toBe(before + 1)
    const sent = oboCalls().at(-1)!.params
    expect(sent).toMatchObject({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      requested_token_use: 'on_behalf_of',
      scope: USER_READ,
      assertion: await setup.provider.getUpstreamToken(token!),
    })
    const me = await fetch(`${entra.url}/v1.0/me`, {
      headers: { authorization: `Bearer ${graph}` },
    })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ displayName: 'Alice' })
  })

  it('answers a second call with the same user and scopes from the cache', async () => {
    const { token } = await signIn(setup, USERS.alice)
    const first = await setup.provider.onBehalfOf(token!, [USER_READ])
    const before = oboCalls().length
    const second = await setup.provider.onBehalfOf(token!, [USER_READ])
    expect(second).toBe(first)
    expect(oboCalls().length).toBe(before)
  })

  it('asks Entra again for other scopes, and after the cached token nears its expiry', async () => {
    const { token } = await signIn(setup, USERS.alice, {})
    await setup.provider.onBehalfOf(token!, [USER_READ])
    const before = oboCalls().length
    // Other scopes: another exchange (refused here: Mail.Read was never consented).
    await expect(setup.provider.onBehalfOf(token!, [MAIL_READ])).rejects.toBeInstanceOf(
      AzureOBOError,
    )
    expect(oboCalls().length).toBe(before + 1)
    // 3600 s lifetime, 120 s margin: at +3500 s the cached token is no longer used.
    setup.clock.advance(3500)
    const again = await setup.provider.onBehalfOf(token!, [USER_READ])
    expect(oboCalls().length).toBe(before + 2)
    expect(again).toBeTypeOf('string')
    setup.clock.advance(-3500)
  })

  it('sends one request for concurrent calls with the same user and scopes', async () => {
    const { token } = await signIn(setup, USERS.alice)
    setup.provider.close()
    const before = oboCalls().length
    const tokens = await Promise.all(
      Array.from({ length: 4 }, () => setup.provider.onBehalfOf(token!, [USER_READ])),
    )
    expect(new Set(tokens).size).toBe(1)
    expect(oboCalls().length).toBe(before + 1)
  })

  it('close() empties the cache', async () => {
    const { token } = await signIn(setup, USERS.alice)
    await setup.provider.onBehalfOf(token!, [USER_READ])
    // (gatehouse.close() calls this too.)
    setup.provider.close()
    const before = oboCalls().length
    await setup.provider.onBehalfOf(token!, [USER_READ])
    expect(oboCalls().length).toBe(before + 1)
  })

  it('keeps Entra’s code for missing consent (AADSTS65001), without the secret or the token', async () => {
    const { token } = await signIn(setup, USERS.alice)
    const assertion = await setup.provider.getUpstreamToken(token!)
    const error = (await setup.provider
      .onBehalfOf(token!, [MAIL_READ])
      .catch((e: unknown) => e)) as AzureOBOError
    expect(error).toBeInstanceOf(AzureOBOError)
    expect(error).toMatchObject({
      code: 'ERR_OBO_REFUSED',
      upstreamCode: 'invalid_grant',
      suberror: 'consent_required',
      entraCodes: [65001],
      interactionRequired: true,
    })
    expect(error.message).toContain('AADSTS65001')
    for (const text of [error.message, JSON.stringify(error), String(error.stack)]) {
      expect(text).not.toContain(APP_SECRET)
      expect(text).not.toContain(assertion)
    }
  })

  it('passes on interaction_required (MFA, AADSTS50076) with Entra’s claims challenge', async () => {
    const { token } = await signIn(setup, USERS.mfa)
    await expect(setup.provider.onBehalfOf(token!, [USER_READ])).rejects.toMatchObject({
      code: 'ERR_OBO_REFUSED',
      upstreamCode: 'interaction_required',
      entraCodes: [50076],
      interactionRequired: true,
      claims: expect.stringContaining('capolids') as unknown,
    })
  })

  it('passes on Entra’s refusal of scopes from two resources in one request (AADSTS28000)', async () => {
    const { token } = await signIn(setup, USERS.alice)
    await expect(
      setup.provider.onBehalfOf(token!, [USER_READ, `api://${APP_ID}/read`]),
    ).rejects.toMatchObject({ code: 'ERR_OBO_REFUSED', entraCodes: [28000] })
  })

  it('passes on invalid_grant for an expired user token (AADSTS500133)', async () => {
    const { token } = await signIn(setup, USERS.alice)
    // The stand-in's clock moves past the user token's expiry; Gatehouse's does not.
    entra.setNow(() => Date.now() + 7200_000)
    try {
      await expect(setup.provider.onBehalfOf(token!, [USER_READ])).rejects.toMatchObject({
        code: 'ERR_OBO_REFUSED',
        upstreamCode: 'invalid_grant',
        entraCodes: [500133],
        interactionRequired: false,
      })
    } finally {
      entra.setNow(Date.now)
    }
  })

  it('a wrong client secret fails the sign-in without the secret or Entra’s text', async () => {
    const wrong = await createAzureGatehouse(entra, { clientSecret: 'definitely-wrong-secret' })
    const { back } = await signIn(wrong, USERS.alice)
    // The code exchange itself fails: the client gets temporarily_unavailable, no upstream text.
    expect(back.searchParams.get('error')).toBe('temporarily_unavailable')
    expect(back.href).not.toContain('definitely-wrong-secret')
    expect(back.href).not.toContain('AADSTS')
  })

  it('is refused with ERR_OBO_NO_TOKEN when the grant behind the token was revoked', async () => {
    const { token } = await signIn(setup, USERS.alice)
    await setup.provider.grants.revoke(token!.grantId!)
    await expect(setup.provider.onBehalfOf(token!, [USER_READ])).rejects.toMatchObject({
      code: 'ERR_OBO_NO_TOKEN',
    })
  })

  it('is ERR_OBO_UNAVAILABLE when Entra cannot be reached', async () => {
    const gone = await startStandIn()
    const s = await createAzureGatehouse(gone, { additionalAuthorizeScopes: ['User.Read'] })
    const { token } = await signIn(s, USERS.alice)
    await gone.close()
    const error = (await s.provider
      .onBehalfOf(token!, [USER_READ])
      .catch((e: unknown) => e)) as AzureOBOError
    expect(error).toMatchObject({ code: 'ERR_OBO_UNAVAILABLE' })
    expect(error.message).not.toContain(APP_SECRET)
  })

  describe('azureOBOToken (tool helper)', () => {
    it('needs a Gatehouse-authenticated request', async () => {
      await expect(azureOBOToken({}, [USER_READ])).rejects.toMatchObject({
        name: 'AzureOBOError',
        code: 'ERR_OBO_NO_TOKEN',
      })
    })

    it('needs the Azure provider', async () => {
      const t = await createTestGatehouse()
      const token = { token: 'x', clientId: 'c', scopes: [], claims: {} }
      const info = toAuthInfo(token)
      bindContext(info.extra, { token, upstream: undefined })
      await expect(azureOBOToken({ authInfo: info }, [USER_READ])).rejects.toMatchObject({
        code: 'ERR_OBO_NOT_AZURE',
      })
      await t.gh.close()
    })

    it('returns the OBO token for the request’s user', async () => {
      const { token } = await signIn(setup, USERS.alice)
      const info = toAuthInfo(token!)
      bindContext(info.extra, { token: token!, upstream: setup.provider })
      const graph = await azureOBOToken({ authInfo: info }, [USER_READ])
      const me = await fetch(`${entra.url}/v1.0/me`, {
        headers: { authorization: `Bearer ${graph}` },
      })
      expect(me.status).toBe(200)
    })
  })

  it('the stand-in’s Graph accepts only On-Behalf-Of tokens', async () => {
    const { token } = await signIn(setup, USERS.alice)
    const own = await setup.provider.getUpstreamToken(token!)
    const me = await fetch(`${entra.url}/v1.0/me`, { headers: { authorization: `Bearer ${own}` } })
    expect(me.status).toBe(401)
  })

  describe('client secret on the code exchange and On-Behalf-Of', () => {
    /** Per token request: grant type, how the secret came, and the Basic credentials as sent. */
    const recorder = () => {
      const seen: { grant: string; basic: string | undefined; post: string | undefined }[] = []
      const fetchRecording: typeof fetch = async (input, init) => {
        const request = new Request(input, init)
        if (request.url.endsWith('/oauth2/v2.0/token')) {
          const body = new URLSearchParams(await request.clone().text())
          const header = request.headers.get('authorization')
          seen.push({
            grant: body.get('grant_type') ?? '',
            basic: header?.startsWith('Basic ') === true ? atob(header.slice(6)) : undefined,
            post: body.get('client_secret') ?? undefined,
          })
        }
        return fetch(request)
      }
      return { seen, fetchRecording }
    }
    const exchangeAndObo = async (options: { tokenEndpointAuthMethod?: 'client_secret_basic' }) => {
      const { seen, fetchRecording } = recorder()
      const s = await createAzureGatehouse(entra, {
        additionalAuthorizeScopes: ['User.Read'],
        fetch: fetchRecording,
        ...options,
      })
      const { token } = await signIn(s, USERS.alice)
      expect(token).toBeDefined()
      await s.provider.onBehalfOf(token!, [USER_READ])
      const code = seen.find((r) => r.grant === 'authorization_code')
      const obo = seen.find((r) => r.grant === 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      return { code: code!, obo: obo! }
    }

    it('sends the secret in the form body on both by default (client_secret_post)', async () => {
      const { code, obo } = await exchangeAndObo({})
      for (const r of [code, obo])
        expect(r).toEqual({ grant: r.grant, basic: undefined, post: APP_SECRET })
    })

    it('with client_secret_basic, encodes id and secret the same way on both (RFC 6749 §2.3.1)', async () => {
      const { code, obo } = await exchangeAndObo({ tokenEndpointAuthMethod: 'client_secret_basic' })
      // The secret has `-` and `~`, which form-urlencoding escapes and encodeURIComponent does not.
      const encoded = APP_SECRET.replaceAll('-', '%2D').replaceAll('~', '%7E')
      expect(code.basic).toBe(`${APP_ID.replaceAll('-', '%2D')}:${encoded}`)
      expect(obo.basic).toBe(code.basic)
      expect(obo.post).toBeUndefined()
    })

    it('the stand-in refuses Basic credentials that are not form-urlencoded', async () => {
      const token = (credentials: string) =>
        fetch(`${entra.url}/${TENANT_A}/oauth2/v2.0/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${btoa(credentials)}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=refresh_token&refresh_token=nope',
        })
      const raw = await token(`${APP_ID}:${APP_SECRET}`)
      expect(raw.status).toBe(401)
      expect(await raw.json()).toMatchObject({ error: 'invalid_client', error_codes: [7000215] })
      const enc = (v: string) => v.replaceAll('-', '%2D').replaceAll('~', '%7E')
      // Well-formed: past client authentication, to the (unknown) refresh token.
      const ok = await token(`${enc(APP_ID)}:${enc(APP_SECRET)}`)
      expect(await ok.json()).toMatchObject({ error: 'invalid_grant' })
    })
  })
})
