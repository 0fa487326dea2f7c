/** Entra's error shapes: JSON at the token endpoint, query parameters on redirects. */

const TRACE = '00000000-0000-0000-0000-000000000000'

/**
 * Headers of the stand-in's HTML pages: no script, style or anything else loaded, no framing, no
 * caching. No `form-action`: browsers (Chromium at least) check it against every redirect after
 * the sign-in form's POST, and that chain ends, past Gatehouse's callback, at the MCP client's
 * redirect URI, which the stand-in cannot know (another loopback port, a custom scheme). Even
 * `form-action 'self'` plus the registered redirect URI's origin blocks the last hop, after
 * Gatehouse has spent the code. The form's target is the stand-in's own absolute URL, and with
 * no script an injected form could not be submitted.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  // Not `no-referrer`: with it, browsers send `Origin: null` on the form post.
  'referrer-policy': 'same-origin',
}

/** A token-endpoint error as Entra writes it (`AADSTSnnnn: …` descriptions, `error_codes`). */
export function azureError(
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
    { status: 400, headers: PAGE_HEADERS },
  )
}

export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}
