/**
 * The consent page (MCP §Confused Deputy): names the client, where its credentials will be sent,
 * and what it asks for, before the browser is sent to the identity provider. Plain HTML, every
 * value escaped, no scripts, no third-party resources.
 */
import { escapeHTML, PAGE_HEADERS } from '../http/responses.js'

export interface ConsentView {
  action: string
  txn: string
  csrf: string
  clientId: string
  clientName?: string
  redirectUri: string
  scopes: readonly string[]
  resource: string
  /** The host of a Client ID Metadata Document, shown as the client's verified domain. */
  documentHost?: string
}

/** Whether every redirect URI is loopback: anyone's local app can claim it (MCP §Localhost Redirect URI Risks). */
export function isLoopbackRedirect(uri: string): boolean {
  try {
    const host = new URL(uri).hostname
    return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host)
  } catch {
    return false
  }
}

export function renderConsentPage(view: ConsentView, headers: HeadersInit = {}): Response {
  const name = view.clientName ?? view.clientId
  const host = (() => {
    try {
      return new URL(view.redirectUri).host
    } catch {
      return view.redirectUri
    }
  })()
  const scopes =
    view.scopes.length > 0
      ? `<ul>${view.scopes.map((s) => `<li><code>${escapeHTML(s)}</code></li>`).join('')}</ul>`
      : '<p>No specific permissions (basic sign-in).</p>'
  const warning = isLoopbackRedirect(view.redirectUri)
    ? `<p class="warn"><strong>Check this is an app you just started on this computer.</strong> It receives your sign-in at a local address (${escapeHTML(host)}), which any program on this machine could claim.</p>`
    : ''
  const verified = view.documentHost
    ? `<p>Client published by <strong>${escapeHTML(view.documentHost)}</strong>.</p>`
    : '<p>This client registered itself; its name is not verified.</p>'
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Allow ${escapeHTML(name)}?</title>
<style>body{font:16px system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2rem}.warn{background:#fff4e5;border:1px solid #f0a020;padding:.6rem}button{font-size:1rem;padding:.5rem 1.2rem;margin-right:.6rem}</style>
</head><body>
<h1>Allow <span id="client-name">${escapeHTML(name)}</span> to use your account?</h1>
${verified}
<p>After you sign in, access will be sent to <strong id="redirect-host">${escapeHTML(host)}</strong><br><small>${escapeHTML(view.redirectUri)}</small></p>
${warning}
<p>It asks for access to <code>${escapeHTML(view.resource)}</code> with:</p>
${scopes}
<form method="post" action="${escapeHTML(view.action)}">
<input type="hidden" name="txn" value="${escapeHTML(view.txn)}">
<input type="hidden" name="csrf" value="${escapeHTML(view.csrf)}">
<button type="submit" name="action" value="approve" id="approve">Allow</button>
<button type="submit" name="action" value="deny" id="deny">Deny</button>
</form>
</body></html>`
  const h = new Headers(PAGE_HEADERS)
  new Headers(headers).forEach((v, k) => {
    h.append(k, v)
  })
  return new Response(html, { status: 200, headers: h })
}
