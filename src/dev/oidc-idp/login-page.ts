/**
 * The HTML pages of the development identity provider: its sign-in form and its error page.
 *
 * Plain strings, no script, every interpolated value HTML-escaped; served with a strict CSP.
 */
import type { ServerResponse } from 'node:http'

/** Escapes the five characters that matter in HTML text and quoted attribute values. */
export function escapeHTML(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

/** What the sign-in form shows. */
export interface LoginPageView {
  /** The interaction the form belongs to (it is in the form's action). */
  uid: string
  /** The client's display name. */
  clientName: string
  /** The scopes the client asked for. */
  scopes: readonly string[]
  /** The username to put back in the form after a failed attempt. */
  username?: string
  /** Why the last attempt failed. */
  error?: string
}

const STYLE = `
body{font:15px/1.5 system-ui,sans-serif;background:#f4f4f5;color:#18181b;margin:0}
main{max-width:360px;margin:8vh auto;background:#fff;border:1px solid #e4e4e7;border-radius:8px;padding:24px 28px}
h1{font-size:18px;margin:0 0 4px}
.note{font-size:13px;color:#71717a;margin:0 0 16px}
.banner{background:#fef3c7;border:1px solid #f59e0b;border-radius:4px;padding:6px 10px;font-size:13px;margin:0 0 16px}
.error{background:#fee2e2;border:1px solid #ef4444;border-radius:4px;padding:6px 10px;margin:0 0 12px}
label{display:block;font-weight:600;margin:10px 0 4px}
input{box-sizing:border-box;width:100%;padding:8px;border:1px solid #a1a1aa;border-radius:4px;font:inherit}
button{margin-top:16px;width:100%;padding:9px;border:0;border-radius:4px;background:#2563eb;color:#fff;font:inherit;font-weight:600;cursor:pointer}
code{font-size:13px}
`

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHTML(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<p class="banner">Gatehouse development identity provider: for local testing only, never for real accounts.</p>
${body}
</main>
</body>
</html>
`
}

/** Renders the username + password form that posts to `/interaction/:uid/login`. */
export function renderLoginPage(view: LoginPageView): string {
  const action = `/interaction/${encodeURIComponent(view.uid)}/login`
  const error =
    view.error === undefined ? '' : `<p class="error" role="alert">${escapeHTML(view.error)}</p>`
  const scopes =
    view.scopes.length === 0
      ? ''
      : `<p class="note">Requested scopes: <code>${escapeHTML(view.scopes.join(' '))}</code></p>`
  return layout(
    'Sign in: Gatehouse development identity provider',
    `<h1>Sign in to ${escapeHTML(view.clientName)}</h1>
<p class="note">Gatehouse development identity provider</p>
${scopes}
${error}
<form method="post" action="${escapeHTML(action)}" autocomplete="off">
<label for="username">Username</label>
<input id="username" name="username" type="text" required autofocus value="${escapeHTML(view.username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>`,
  )
}

/** Renders an error page; `message` is shown escaped. */
export function renderErrorPage(title: string, message: string): string {
  return layout(
    `${title}: Gatehouse development identity provider`,
    `<h1>${escapeHTML(title)}</h1>\n<p>${escapeHTML(message)}</p>`,
  )
}

/**
 * The headers every dev IdP page carries. No `form-action`: browsers apply it to every redirect
 * after a form submission, and a sign-in ends several redirects later at a client the IdP cannot
 * know (Gatehouse's callback, then the MCP client's redirect URI). The page has no scripts.
 */
export function pageHeaders(): Record<string, string> {
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'`,
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    // Not `no-referrer`: with it, browsers send `Origin: null` on the form post.
    'Referrer-Policy': 'same-origin',
  }
}

/** Sends an HTML page with {@link pageHeaders}. */
export function sendHTML(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status
  for (const [name, value] of Object.entries(pageHeaders())) res.setHeader(name, value)
  res.end(html)
}
