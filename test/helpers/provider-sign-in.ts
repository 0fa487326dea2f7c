/**
 * A whole sign-in of an MCP client through Gatehouse and a provider stand-in, for provider
 * profile tests: register a public client, approve the consent page, sign in at the stand-in's
 * login page, redeem Gatehouse's code, verify the access token. Gatehouse runs in process at `base`.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Gatehouse } from '../../src/gatehouse.js'
import type { AccessToken } from '../../src/jwt/access-token.js'
import { approveAndSignIn, UserAgent } from './user-agent.js'

export const CLIENT_CB = 'http://127.0.0.1:5591/cb'

export interface ProviderSignIn {
  /** Where the browser came back to the MCP client (`code` or `error`). */
  back: URL
  tokens?: { access_token: string; refresh_token?: string; scope?: string }
  token?: AccessToken
}

export async function signInThrough(
  gh: Gatehouse,
  base: string,
  user: { username: string; password: string },
): Promise<ProviderSignIn> {
  const reg = await gh.fetch(
    new Request(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [CLIENT_CB],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
      }),
    }),
  )
  const { client_id: clientId } = (await reg.json()) as { client_id: string }
  const verifier = randomBytes(32).toString('base64url')
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: CLIENT_CB,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: 'client-state',
  })
  const ua = new UserAgent({ [base]: (r) => gh.fetch(r) })
  const back = await approveAndSignIn(ua, `${base}/authorize?${q}`, user, CLIENT_CB)
  const code = back.searchParams.get('code')
  if (code === null) return { back }
  const res = await gh.fetch(
    new Request(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: verifier,
        redirect_uri: CLIENT_CB,
        client_id: clientId,
      }).toString(),
    }),
  )
  const tokens = (await res.json()) as NonNullable<ProviderSignIn['tokens']>
  const token = await gh.verifier.verifyToken(tokens.access_token)
  return { back, tokens, ...(token ? { token } : {}) }
}
