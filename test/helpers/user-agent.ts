/**
 * A small scripted user agent for flows across Gatehouse and an identity provider: per-origin
 * cookie jars, manual redirects, and a hook that routes Gatehouse's own origin to its in-process
 * handler (everything else goes over the network to loopback servers).
 */
export interface Hop {
  url: string
  status: number
  location?: string
}

export class UserAgent {
  readonly jars = new Map<string, Map<string, string>>()
  readonly hops: Hop[] = []
  readonly local: Record<string, (request: Request) => Promise<Response>>
  constructor(local: Record<string, (request: Request) => Promise<Response>> = {}) {
    this.local = local
  }

  cookieHeader(url: string): string | undefined {
    const jar = this.jars.get(new URL(url).origin)
    if (!jar || jar.size === 0) return undefined
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  /** One request, with this agent's cookies for the URL's origin; stores the cookies it gets. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    const cookie = this.cookieHeader(url)
    if (cookie) headers.set('cookie', cookie)
    const origin = new URL(url).origin
    const handler = this.local[origin]
    const response = handler
      ? await handler(new Request(url, { ...init, headers, redirect: 'manual' }))
      : await fetch(url, { ...init, headers, redirect: 'manual' })
    const jar = this.jars.get(origin) ?? new Map<string, string>()
    for (const set of response.headers.getSetCookie()) {
      const [pair] = set.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (/max-age=0/i.test(set) || value === '') jar.delete(name)
      else jar.set(name, value)
    }
    this.jars.set(origin, jar)
    const location = response.headers.get('location') ?? undefined
    this.hops.push({
      url,
      status: response.status,
      ...(location ? { location: new URL(location, url).href } : {}),
    })
    return response
  }

  /** GETs `url` and follows redirects until a non-redirect or a URL for which `stop` is true. */
  async follow(
    url: string,
    stop: (url: string) => boolean = () => false,
  ): Promise<{ url: string; response?: Response }> {
    let current = url
    for (let i = 0; i < 20; i++) {
      if (stop(current)) return { url: current }
      const response = await this.request(current)
      const location = response.headers.get('location')
      if (response.status < 300 || response.status >= 400 || location === null)
        return { url: current, response }
      current = new URL(location, current).href
    }
    throw new Error('too many redirects')
  }
}

/** The value of a hidden input in an HTML page. */
export function hiddenInput(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)
  if (!m) throw new Error(`no hidden input ${name}`)
  return m[1]!.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)))
}

/**
 * Posts the form of a consent (or chooser) page `html` to `url` as the browser would, same-origin,
 * with the page's `txn` and `csrf` and `action` (approve by default).
 */
export function postConsent(
  ua: UserAgent,
  url: string,
  html: string,
  action = 'approve',
): Promise<Response> {
  return ua.request(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
    },
    body: new URLSearchParams({
      txn: hiddenInput(html, 'txn'),
      csrf: hiddenInput(html, 'csrf'),
      action,
    }).toString(),
  })
}

/**
 * The whole browser part of a proxy sign-in: follow `authorizeURL` to Gatehouse's consent page,
 * approve it, sign in at the dev IdP's login page, and follow redirects until a URL starting with
 * `callbackPrefix` (the MCP client's redirect URI). Returns that URL (with `code`, `state`, `iss`).
 * With `idp` (Gatehouse with several IdPs), the chooser after consent picks that IdP.
 */
export async function approveAndSignIn(
  ua: UserAgent,
  authorizeUrl: string,
  user: { username: string; password: string },
  callbackPrefix: string,
  idp?: string,
): Promise<URL> {
  const consent = await ua.follow(authorizeUrl)
  const html = await consent.response!.text()
  const approved = await postConsent(ua, new URL('/consent', consent.url).href, html)
  const toIdp =
    idp === undefined
      ? approved.headers.get('location')!
      : await chooseIdP(ua, approved.headers.get('location')!, idp)
  const login = await ua.follow(toIdp)
  const posted = await ua.request(`${login.url.replace(/\/$/, '')}/login`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: new URL(login.url).origin,
    },
    body: new URLSearchParams(user).toString(),
  })
  const done = await ua.follow(new URL(posted.headers.get('location')!, login.url).href, (u) =>
    u.startsWith(callbackPrefix),
  )
  return new URL(done.url)
}

/** Loads the IdP chooser at `chooserUrl` and posts the choice of `idp`; returns where it leads. */
export async function chooseIdP(ua: UserAgent, chooserUrl: string, idp: string): Promise<string> {
  const page = await ua.request(chooserUrl)
  if (page.status !== 200) throw new Error(`chooser answered ${String(page.status)}`)
  const html = await page.text()
  const chosen = await ua.request(new URL('/consent/provider', chooserUrl).href, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'sec-fetch-site': 'same-origin',
    },
    body: new URLSearchParams({
      txn: hiddenInput(html, 'txn'),
      csrf: hiddenInput(html, 'csrf'),
      idp,
    }).toString(),
  })
  if (chosen.status !== 303) throw new Error(`choice answered ${String(chosen.status)}`)
  return chosen.headers.get('location')!
}
