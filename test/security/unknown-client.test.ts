/**
 * SEP-2352: an authorization server answers `invalid_client` for a client it does not know, so that
 * MCP clients re-register. Everywhere a client id is looked up: /authorize shows an error page
 * (never a redirect), /token, /revoke and /introspect answer 401 (with `WWW-Authenticate: Basic`
 * when the credentials came in the header), including for a client that was deleted after it got
 * its tokens.
 */
import { describe, expect, it } from 'vitest'
import {
  authorizeURL,
  basic,
  createTestGatehouse,
  form,
  getTokens,
  pkcePair,
  RESOURCE,
} from '../helpers/gatehouse.js'

describe('A.2.7 invalid_client for unknown clients', () => {
  it('UC-01 /token, /revoke and /introspect answer 401 invalid_client for an unknown client, by body or header', async () => {
    const t = await createTestGatehouse()
    for (const path of ['/token', '/revoke', '/introspect']) {
      const params = { grant_type: 'authorization_code', code: 'x', code_verifier: 'y', token: 'z' }
      const byBody = await t.call(path, form({ ...params, client_id: 'nobody' }))
      expect(byBody.status).toBe(401)
      expect(((await byBody.json()) as { error: string }).error).toBe('invalid_client')
      const byHeader = await t.call(path, {
        ...form(params),
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic('nobody', 'a-secret-that-must-not-be-echoed'),
        },
      })
      expect(byHeader.status).toBe(401)
      expect(byHeader.headers.get('www-authenticate')).toMatch(/^Basic /)
      const text = await byHeader.text()
      expect(JSON.parse(text)).toMatchObject({ error: 'invalid_client' })
      expect(text).not.toContain('a-secret-that-must-not-be-echoed')
    }
  })

  it('UC-02 /authorize shows an error page for an unknown client and never redirects', async () => {
    const t = await createTestGatehouse()
    const res = await t.call(
      authorizeURL({
        response_type: 'code',
        client_id: 'nobody',
        redirect_uri: 'https://app.test/cb',
        code_challenge: pkcePair().challenge,
        code_challenge_method: 'S256',
        state: 's',
        resource: RESOURCE,
      }),
    )
    expect(res.status).toBe(400)
    expect(res.headers.get('location')).toBeNull()
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
  })

  it('UC-03 a client deleted after it got tokens gets 401 invalid_client when it refreshes, so it can re-register', async () => {
    const t = await createTestGatehouse()
    const { client, tokens } = await getTokens(t)
    await t.store.delete(`client:${client.client_id}`)
    const res = await t.call(
      '/token',
      form({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: client.client_id,
      }),
    )
    expect(res.status).toBe(401)
    const text = await res.text()
    expect(JSON.parse(text)).toMatchObject({ error: 'invalid_client' })
    expect(text).not.toContain(tokens.refresh_token!)
  })
})
