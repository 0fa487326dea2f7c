/**
 * The identity-provider chooser ("Continue with Google / GitHub / …"), shown after consent when
 * Gatehouse has several IdPs (`upstreams`). Styled like the consent page and sent with the same
 * headers (CSP without scripts, `frame-ancestors 'none'`, no referrer): plain HTML, every value
 * escaped, one form whose buttons name an IdP by its id. Nothing secret is on the page: the
 * transaction id and a CSRF token bound to a signed cookie.
 */
import { escapeHTML, PAGE_HEADERS } from '../http/responses.js'

export interface ChooserView {
  action: string
  txn: string
  csrf: string
  /** The client's name (or id) as the consent page showed it. */
  clientName: string
  choices: readonly { id: string; label: string }[]
}

export function renderChooserPage(view: ChooserView, headers: HeadersInit = {}): Response {
  const buttons = view.choices
    .map(
      (c) =>
        `<button type="submit" name="idp" value="${escapeHTML(c.id)}" id="idp-${escapeHTML(c.id)}">Continue with ${escapeHTML(c.label)}</button>`,
    )
    .join('\n')
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in to continue</title>
<style>body{font:16px system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}button{display:block;width:100%;font-size:1rem;padding:.6rem 1.2rem;margin:.6rem 0;text-align:left}</style>
</head><body>
<h1>Sign in to continue to <span id="client-name">${escapeHTML(view.clientName)}</span></h1>
<p>Choose where you sign in:</p>
<form method="post" action="${escapeHTML(view.action)}">
<input type="hidden" name="txn" value="${escapeHTML(view.txn)}">
<input type="hidden" name="csrf" value="${escapeHTML(view.csrf)}">
${buttons}
</form>
</body></html>`
  const h = new Headers(PAGE_HEADERS)
  new Headers(headers).forEach((v, k) => {
    h.append(k, v)
  })
  return new Response(html, { status: 200, headers: h })
}
