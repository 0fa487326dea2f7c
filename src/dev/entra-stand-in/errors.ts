/** Entra's error shapes: JSON at the token endpoint, query parameters on redirects. */

const TRACE = '00000000-0000-0000-0000-000000000000'

/** A token-endpoint error as Entra writes it (`AADSTSnnnn: …` descriptions, `error_codes`). */
export function entraError(
  status: number,
  error: string,
  code: number,
  text: string,
  extra: Record<string, unknown> = {},
): Response {
  return Response.json(
    {
      error,
      error_description: `AADSTS${code}: ${text} Trace ID: ${TRACE}`,
      error_codes: [code],
      timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
      trace_id: TRACE,
      correlation_id: TRACE,
      ...extra,
    },
    { status, headers: { 'cache-control': 'no-store' } },
  )
}

/** An authorize error sent back to the (registered) redirect URI. */
export function redirectError(
  redirectUri: string,
  state: string | undefined,
  error: string,
  code: number,
  text: string,
): Response {
  const url = new URL(redirectUri)
  url.searchParams.set('error', error)
  url.searchParams.set('error_description', `AADSTS${code}: ${text}`)
  url.searchParams.set('error_codes', String(code))
  if (state !== undefined) url.searchParams.set('state', state)
  return new Response(null, { status: 302, headers: { location: url.href } })
}

/** An authorize error that cannot be redirected (unknown client or redirect URI): a page. */
export function errorPage(code: number, text: string): Response {
  return new Response(
    `<!doctype html><title>Sign in</title><h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS${code}: ${escape(text)}</p>`,
    { status: 400, headers: { 'content-type': 'text/html; charset=utf-8' } },
  )
}

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
