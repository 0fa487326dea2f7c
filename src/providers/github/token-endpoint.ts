/**
 * GitHub's token endpoint (`/login/oauth/access_token`) bends OAuth 2.0 in two ways, undone here
 * in the fetch the upstream client uses, so the rest of the proxy sees RFC 6749:
 * 1. it answers in form encoding unless asked for JSON: `Accept: application/json` is always set;
 * 2. it reports errors with status 200 and `error` in the body: such an answer becomes a 400 with
 *    the RFC's code (`bad_verification_code` and `bad_refresh_token` are `invalid_grant`, so a
 *    refused refresh ends the grant; `incorrect_client_credentials` is `invalid_client`), and no
 *    GitHub text (`error_description`, `error_uri`) is passed on.
 * Calls to any other URL pass through untouched.
 */

const RFC_CODES: Readonly<Record<string, string>> = {
  bad_verification_code: 'invalid_grant',
  bad_refresh_token: 'invalid_grant',
  incorrect_client_credentials: 'invalid_client',
  redirect_uri_mismatch: 'invalid_grant',
  unsupported_grant_type: 'unsupported_grant_type',
  unverified_user_email: 'access_denied',
}

export function gitHubTokenFetch(tokenEndpoint: string, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const url = input instanceof Request ? input.url : String(input)
    if (url !== tokenEndpoint) return inner(input, init)
    const headers = new Headers(init?.headers)
    headers.set('accept', 'application/json')
    const response = await inner(input, { ...init, headers })
    if (response.status !== 200) return response
    let body: unknown
    try {
      body = await response.clone().json()
    } catch {
      return response
    }
    const error = (body as { error?: unknown } | null)?.error
    if (typeof error !== 'string') return response
    const code = RFC_CODES[error] ?? 'invalid_request'
    return Response.json(
      { error: code },
      { status: code === 'invalid_client' ? 401 : 400, headers: { 'cache-control': 'no-store' } },
    )
  }
}
