/**
 * Several identity providers (`upstreams`): the roles, groups and Entra directory an IdP asserts
 * are named by that IdP (`<id>:<value>`), so one IdP cannot give its users what the operator meant
 * as another's. Two embedded dev IdPs whose user claims the same role `ops`; only Alpha's opens
 * the `/admin` page (`admin.roles: ['alpha:ops']`), and the access tokens say whose role it is.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nodeSignatureVerifier } from '../../src/adapters/node-crypto.js'
import { toNodeHandler } from '../../src/adapters/node.js'
import { startDevIdentityProvider, type DevIdP } from '../../src/dev/oidc-idp/server.js'
import { createGatehouse, type Gatehouse } from '../../src/gatehouse.js'
import { createMemoryStore } from '../../src/storage/memory.js'
import { pkcePair } from '../helpers/gatehouse.js'
import { approveAndSignIn, UserAgent } from '../helpers/user-agent.js'

const MALLORY = { username: 'mallory', password: 'pw' }
const CLIENT_CB = 'http://127.0.0.1:3997/callback'

describe('several IdPs: roles, groups and tenant are named by the IdP that asserts them', () => {
  let server: Server
  let base: string
  let alpha: DevIdP
  let beta: DevIdP
  let gh: Gatehouse
  const audit: unknown[] = []

  beforeAll(async () => {
    let handler = toNodeHandler(() => Promise.resolve(new Response(null, { status: 503 })))
    server = createServer((req, res) => {
      handler(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`
    // Both IdPs say their user has the role `ops`, is in `staff` and in directory `t1`.
    const idp = () =>
      startDevIdentityProvider({
        users: [
          {
            ...MALLORY,
            sub: 'mallory',
            claims: { roles: ['ops'], groups: ['staff', 7], tid: 't1' },
          },
        ],
        clients: [
          {
            clientId: 'gatehouse',
            clientSecret: 'upstream-secret',
            redirectUris: [`${base}/auth/callback/alpha`, `${base}/auth/callback/beta`],
          },
        ],
      })
    alpha = await idp()
    beta = await idp()
    const up = (i: DevIdP) => ({
      kind: 'oidc' as const,
      configUrl: `${i.issuer}/.well-known/openid-configuration`,
      clientId: 'gatehouse',
      clientSecret: 'upstream-secret',
    })
    gh = await createGatehouse({
      config: {
        issuer: base,
        secret: 'm'.repeat(32),
        resources: [{ url: `${base}/mcp` }],
        upstreams: [
          { id: 'alpha', upstream: up(alpha) },
          { id: 'beta', upstream: up(beta) },
        ],
        admin: { enabled: true, roles: ['alpha:ops'] },
      },
      store: createMemoryStore(),
      signatureVerifier: nodeSignatureVerifier,
      audit: (e) => audit.push(e),
    })
    handler = toNodeHandler(gh.fetch)
  })
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve))
    await gh.close()
    await alpha.close()
    await beta.close()
  })

  /** Signs in at the `/admin` page through `idp`; the page that follows. */
  async function adminThrough(idp: string) {
    const ua = new UserAgent()
    const callback = await approveAndSignIn(
      ua,
      `${base}/admin`,
      MALLORY,
      `${base}/admin/callback`,
      idp,
    )
    await ua.request(callback.href)
    const page = await ua.request(`${base}/admin`)
    return { status: page.status, html: await page.text() }
  }

  it("admits Alpha's ops to /admin, and not Beta's user who claims the same role", async () => {
    audit.length = 0
    const refused = await adminThrough('beta')
    expect(refused.html).not.toContain('Signed in as')
    expect(audit).not.toContainEqual(
      expect.objectContaining({ event: 'admin_action', outcome: 'success' }),
    )
    const admitted = await adminThrough('alpha')
    expect(admitted.status).toBe(200)
    expect(admitted.html).toContain('Signed in as <code>alpha|mallory</code>')
  })

  /** Signs a new public client in through `idp`; its tokens and the verified access token. */
  async function signInThrough(idp: string) {
    const ua = new UserAgent()
    const reg = await ua.request(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [CLIENT_CB],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    })
    const { client_id } = (await reg.json()) as { client_id: string }
    const { verifier, challenge } = pkcePair()
    const query = new URLSearchParams({
      response_type: 'code',
      client_id,
      redirect_uri: CLIENT_CB,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource: `${base}/mcp`,
    })
    const back = await approveAndSignIn(ua, `${base}/authorize?${query}`, MALLORY, CLIENT_CB, idp)
    const token = await ua.request(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: back.searchParams.get('code')!,
        redirect_uri: CLIENT_CB,
        client_id,
        code_verifier: verifier,
        resource: `${base}/mcp`,
      }).toString(),
    })
    const tokens = (await token.json()) as { access_token: string; refresh_token: string }
    return { clientId: client_id, tokens, verified: await verified(tokens.access_token) }
  }

  const verified = (accessToken: string) =>
    gh.verifyBearer(
      new Request(`${base}/mcp`, { headers: { authorization: `Bearer ${accessToken}` } }),
    )

  it("carries the IdP's name on the roles of the access token and on the grant's groups and tid", async () => {
    const claimsThrough = async (idp: string) => (await signInThrough(idp)).verified
    const viaBeta = await claimsThrough('beta')
    expect(viaBeta.roles).toEqual(['beta:ops'])
    expect(viaBeta.upstream?.tenantId).toBe('beta:t1')
    const viaAlpha = await claimsThrough('alpha')
    expect(viaAlpha.roles).toEqual(['alpha:ops'])
    const grant = await gh.base.grants.get(viaAlpha.grantId!)
    expect(grant?.claims?.groups).toEqual(['alpha:staff'])
  })
  it('reads no roles, groups or tid from a grant made through upstreams before they were named', async () => {
    const { clientId, tokens, verified: first } = await signInThrough('beta')
    const grantId = first.grantId!
    // As such a grant was stored: the IdP's claims as sent, here a partner IdP's literal
    // `alpha:ops`, and no mark that Gatehouse named them.
    const grant = (await gh.base.grants.get(grantId))!
    const claims: Record<string, unknown> = {
      ...grant.claims,
      roles: ['alpha:ops'],
      groups: ['alpha:staff'],
      tid: 'alpha:t1',
    }
    delete claims.authority_named
    expect(await gh.base.grants.update(grantId, { ...grant, claims })).toBe(true)
    const refreshed = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        client_id: clientId,
        resource: `${base}/mcp`,
      }).toString(),
    })
    expect(refreshed.status, await refreshed.clone().text()).toBe(200)
    const again = await verified(
      ((await refreshed.json()) as { access_token: string }).access_token,
    )
    expect(again.roles).toBeUndefined()
    expect(again.upstream?.tenantId).toBeUndefined()
    expect(again.upstream?.issuer).toBe(beta.issuer)
  })
})
