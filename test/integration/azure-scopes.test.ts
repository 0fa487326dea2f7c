/**
 * The Entra scope table (docs/providers/azure.md), row by row, observed at the local Entra
 * stand-in: the authorize query and the token requests Gatehouse actually sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AzureStandIn } from '../../src/dev/azure-stand-in/index.js'
import {
  APP_ID,
  createAzureGatehouse,
  GH,
  lastScopes,
  signIn,
  startStandIn,
  USERS,
} from '../helpers/azure.js'

const API = `api://${APP_ID}`
const MAIL_READ = 'https://graph.microsoft.com/Mail.Read'

describe('Azure scope rules, as Entra sees them', () => {
  let entra: AzureStandIn
  beforeAll(async () => {
    entra = await startStandIn({ tokenTtlSeconds: 600 })
  })
  afterAll(() => entra.close())

  it('prefixes this API’s scopes with the identifier URI, dotted names included', async () => {
    const setup = await createAzureGatehouse(entra, {
      requiredScopes: ['read', 'write', 'my.scope'],
    })
    const { token } = await signIn(setup, USERS.alice)
    expect(lastScopes(entra, 'authorize')).toEqual([
      `${API}/read`,
      `${API}/write`,
      `${API}/my.scope`,
      'offline_access',
    ])
    expect(lastScopes(entra, 'token')).toEqual([
      `${API}/read`,
      `${API}/write`,
      `${API}/my.scope`,
      'offline_access',
    ])
    expect(token?.scopes).toEqual(['read', 'write', 'my.scope'])
  })

  it('sends OIDC scopes unprefixed and does not require them in Entra’s token', async () => {
    const setup = await createAzureGatehouse(entra, {
      requiredScopes: ['read', 'openid', 'profile'],
    })
    const { token } = await signIn(setup, USERS.alice)
    expect(lastScopes(entra, 'authorize')).toEqual([
      `${API}/read`,
      'openid',
      'profile',
      'offline_access',
    ])
    expect(lastScopes(entra, 'token')).toEqual([
      `${API}/read`,
      'openid',
      'profile',
      'offline_access',
    ])
    // Entra's access token carries `scp: "read"` only, and the sign-in still succeeded.
    expect(token?.subject).toBeTypeOf('string')
    expect(setup.warnings).toEqual([])
  })

  it('sends fully qualified scopes as they are', async () => {
    const setup = await createAzureGatehouse(entra, { requiredScopes: ['read', `${API}/write`] })
    await signIn(setup, USERS.alice)
    expect(lastScopes(entra, 'authorize')).toEqual([
      `${API}/read`,
      `${API}/write`,
      'offline_access',
    ])
    expect(lastScopes(entra, 'token')).toEqual([`${API}/read`, `${API}/write`, 'offline_access'])
  })

  it('sends additionalAuthorizeScopes to authorize only, never validates or advertises them', async () => {
    const setup = await createAzureGatehouse(entra, {
      requiredScopes: ['read'],
      additionalAuthorizeScopes: ['User.Read', 'https://graph.microsoft.com/Mail.Read'],
    })
    const { token } = await signIn(setup, USERS.alice)
    expect(lastScopes(entra, 'authorize')).toEqual([
      `${API}/read`,
      'offline_access',
      'User.Read',
      'https://graph.microsoft.com/Mail.Read',
    ])
    // One resource per token request (Entra's AADSTS28000 otherwise).
    expect(lastScopes(entra, 'token')).toEqual([`${API}/read`, 'offline_access'])
    expect(token?.scopes).toEqual(['read'])
    const prm = (await (
      await setup.gh.fetch(new Request(`${GH}/.well-known/oauth-protected-resource/mcp`))
    ).json()) as { scopes_supported: string[] }
    expect(prm.scopes_supported).toEqual(['read'])
  })

  it('never sends an MCP client’s scope of another resource to Entra; additionalAuthorizeScopes only', async () => {
    // No scopes listed for the resource: Gatehouse lets the client name any scope.
    const setup = await createAzureGatehouse(entra, { requiredScopes: [] })
    const { back } = await signIn(setup, USERS.alice, { scope: MAIL_READ })
    expect(lastScopes(entra, 'authorize')).toEqual([`${API}/.default`, 'offline_access'])
    // Entra did not grant Mail.Read (it was never asked), so neither does Gatehouse.
    expect(back.searchParams.get('error')).toBe('access_denied')
    await signIn(setup, USERS.alice, {
      scope: `${MAIL_READ} read api://someone-else/read ${API}/write openid`,
    })
    expect(lastScopes(entra, 'authorize')).toEqual([
      `${API}/read`,
      `${API}/write`,
      'openid',
      'offline_access',
    ])
    // The operator can still ask for it.
    const graph = await createAzureGatehouse(entra, {
      requiredScopes: [],
      additionalAuthorizeScopes: [MAIL_READ],
    })
    await signIn(graph, USERS.alice, { scope: MAIL_READ })
    expect(lastScopes(entra, 'authorize')).toEqual([`${API}/.default`, 'offline_access', MAIL_READ])
  })

  it('advertises the full configured set to MCP clients, OIDC scopes included', async () => {
    const setup = await createAzureGatehouse(entra, { requiredScopes: ['read', 'write', 'openid'] })
    const prm = (await (
      await setup.gh.fetch(new Request(`${GH}/.well-known/oauth-protected-resource/mcp`))
    ).json()) as { scopes_supported: string[] }
    expect(prm.scopes_supported).toEqual(['read', 'write', 'openid'])
    const challenge = await setup.gh.verifyBearer(new Request(`${GH}/mcp`)).catch((e: unknown) => e)
    expect(challenge).toMatchObject({ code: 'invalid_token' })
  })

  it('with only OIDC scopes configured, turns scope validation off and says so', async () => {
    const setup = await createAzureGatehouse(entra, { requiredScopes: ['openid', 'profile'] })
    expect(setup.warnings).toHaveLength(1)
    expect(setup.warnings[0]).toMatch(/without a scope check/)
    const { token } = await signIn(setup, USERS.alice)
    expect(lastScopes(entra, 'authorize')).toEqual([
      'openid',
      'profile',
      `${API}/.default`,
      'offline_access',
    ])
    expect(lastScopes(entra, 'token')).toEqual([
      'openid',
      'profile',
      `${API}/.default`,
      'offline_access',
    ])
    expect(token?.subject).toBeTypeOf('string')
  })

  it('keeps the scopes Entra echoes back in short form', async () => {
    const setup = await createAzureGatehouse(entra, { requiredScopes: ['read', 'write'] })
    const { token } = await signIn(setup, USERS.alice)
    const grant = await setup.provider.grants.get(token!.grantId!)
    // The stand-in echoed `api://…/read api://…/write`, as Entra does.
    expect((grant?.upstream as { scope?: string }).scope).toBe('read write')
    expect((grant?.claims as { scp?: string[] }).scp).toEqual(['read', 'write'])
  })

  it('asks Entra for the client’s own scopes at code exchange, and the configured ones when it asked for none', async () => {
    const setup = await createAzureGatehouse(entra, { requiredScopes: ['read', 'write', 'openid'] })
    const narrow = await signIn(setup, USERS.alice, { scope: 'write' })
    // The configured OIDC scope is always asked for (Gatehouse then expects Entra's ID token).
    expect(lastScopes(entra, 'authorize')).toEqual([`${API}/write`, 'openid', 'offline_access'])
    expect(lastScopes(entra, 'token')).toEqual([`${API}/write`, 'openid', 'offline_access'])
    expect(narrow.token?.scopes).toEqual(['write'])
    // Gatehouse's guard, not the sign-in, asks for the rest of the required set (step-up).
    const refused = await setup.gh
      .verifyBearer(
        new Request(`${GH}/mcp`, {
          headers: { authorization: `Bearer ${narrow.tokens!.access_token}` },
        }),
      )
      .catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: 'insufficient_scope' })
    const none = await signIn(setup, USERS.alice, { scope: 'openid' })
    expect(none.token?.scopes).toEqual(['openid'])
    expect(lastScopes(entra, 'token')).toEqual([
      'openid',
      `${API}/read`,
      `${API}/write`,
      'offline_access',
    ])
  })

  it('sends the same one-resource scopes on the upstream refresh, never the additional ones', async () => {
    const setup = await createAzureGatehouse(entra, {
      requiredScopes: ['read', 'openid'],
      additionalAuthorizeScopes: ['User.Read'],
    })
    const { token } = await signIn(setup, USERS.alice)
    const first = await setup.provider.getUpstreamToken(token!)
    setup.clock.advance(600)
    const before = entra.issued.refresh_token
    const fresh = await setup.provider.getUpstreamToken(token!)
    expect(fresh).not.toBe(first)
    expect(entra.issued.refresh_token).toBe(before + 1)
    const refresh = entra.requestsTo('token').at(-1)!
    expect(refresh.params.grant_type).toBe('refresh_token')
    expect(refresh.params.scope?.split(' ')).toEqual([`${API}/read`, 'openid', 'offline_access'])
  })

  it('never forwards the client’s resource or prompt; a configured prompt reaches Entra', async () => {
    const setup = await createAzureGatehouse(entra, { prompt: 'select_account' })
    const { token } = await signIn(setup, USERS.alice, {
      resource: `${GH}/mcp`,
      prompt: 'consent',
    })
    const sent = entra.requestsTo('authorize').at(-1)!.params
    expect(sent.resource).toBeUndefined()
    expect(sent.prompt).toBe('select_account')
    expect(entra.requestsTo('token').at(-1)!.params.resource).toBeUndefined()
    // The client's resource still binds Gatehouse's own token (RFC 8707, checked locally).
    expect(token?.resource).toBe(`${GH}/mcp`)
  })

  it('the stand-in refuses what Entra refuses: a forwarded resource, an unknown scope', async () => {
    const q = (extra: Record<string, string>) =>
      new URLSearchParams({
        client_id: APP_ID,
        redirect_uri: `${GH}/auth/callback`,
        response_type: 'code',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
        scope: `${API}/read`,
        state: 's',
        ...extra,
      })
    const withResource = await fetch(
      `${entra.url}/a.onmicrosoft.com/oauth2/v2.0/authorize?${q({ resource: `${GH}/mcp` })}`,
      { redirect: 'manual' },
    )
    const l1 = new URL(withResource.headers.get('location')!)
    expect(l1.searchParams.get('error_description')).toMatch(/^AADSTS9010010:/)
    const unknown = await fetch(
      `${entra.url}/a.onmicrosoft.com/oauth2/v2.0/authorize?${q({ scope: `${API}/delete` })}`,
      { redirect: 'manual' },
    )
    const l2 = new URL(unknown.headers.get('location')!)
    expect(l2.searchParams.get('error_description')).toMatch(/^AADSTS650053:/)
    const noPkce = await fetch(
      `${entra.url}/a.onmicrosoft.com/oauth2/v2.0/authorize?${q({ code_challenge_method: 'plain' })}`,
      { redirect: 'manual' },
    )
    expect(new URL(noPkce.headers.get('location')!).searchParams.get('error')).toBe(
      'invalid_request',
    )
  })
})
