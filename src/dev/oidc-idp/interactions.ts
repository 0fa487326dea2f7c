/**
 * The dev IdP's own interaction routes: the sign-in form and automatic consent.
 *
 * `GET /interaction/:uid` shows the form (or grants consent and moves on), `POST
 * /interaction/:uid/login` checks the credentials. oidc-provider's signed interaction cookie, scoped
 * to `/interaction/:uid`, binds the browser to the interaction; the uid in the path must match it.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Interaction, Provider } from 'oidc-provider'

import type { DevIdPAccount } from './types.js'
import { renderErrorPage, renderLoginPage, sendHTML } from './login-page.js'

/** What the interaction routes need from the running IdP. */
export interface InteractionRoutes {
  /** The current provider (it is rebuilt when the keys rotate). */
  provider(): Provider
  accounts: readonly DevIdPAccount[]
  /** The IdP's origin, `http://127.0.0.1:PORT`. */
  origin: string
}

const SHOW = /^\/interaction\/([A-Za-z0-9_-]{1,128})$/
const LOGIN = /^\/interaction\/([A-Za-z0-9_-]{1,128})\/login$/
const MAX_FORM_BYTES = 16 * 1024
const BAD_CREDENTIALS = 'Invalid username or password.'

/**
 * Handles the request when it is for an interaction route; answers `false` (and leaves the
 * response alone) otherwise.
 */
export async function handleInteractionRoute(
  routes: InteractionRoutes,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<boolean> {
  const show = SHOW.exec(path)
  const login = show ? null : LOGIN.exec(path)
  const uid = show?.[1] ?? login?.[1]
  if (uid === undefined) return false

  const method = req.method ?? 'GET'
  const allowed = show ? ['GET', 'HEAD'] : ['POST']
  if (!allowed.includes(method)) {
    res.setHeader('Allow', allowed.join(', '))
    sendHTML(res, 405, renderErrorPage('Method not allowed', `Use ${allowed.join(' or ')}.`))
    return true
  }

  if (show) await showInteraction(routes, req, res, uid)
  else await submitLogin(routes, req, res, uid)
  return true
}

async function showInteraction(
  routes: InteractionRoutes,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
): Promise<void> {
  const provider = routes.provider()
  const interaction = await findInteraction(provider, req, res, uid)
  if (interaction === undefined) return

  switch (interaction.prompt.name) {
    case 'login':
      await renderLogin(provider, res, interaction, {})
      return
    case 'consent':
      await grantConsent(provider, req, res, interaction)
      return
    default:
      sendHTML(res, 400, renderErrorPage('Unsupported prompt', interaction.prompt.name))
  }
}

async function submitLogin(
  routes: InteractionRoutes,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
): Promise<void> {
  const origin = req.headers.origin
  if (origin !== undefined && origin !== routes.origin) {
    sendHTML(res, 403, renderErrorPage('Forbidden', 'The form was posted from another origin.'))
    return
  }
  const contentType = req.headers['content-type'] ?? ''
  if (!/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
    sendHTML(res, 415, renderErrorPage('Unsupported form', 'Expected a URL-encoded form.'))
    return
  }
  const body = await readBody(req, MAX_FORM_BYTES)
  if (body === undefined) {
    sendHTML(res, 413, renderErrorPage('Form too large', 'The form was too large.'))
    return
  }

  const provider = routes.provider()
  const interaction = await findInteraction(provider, req, res, uid)
  if (interaction === undefined) return
  if (interaction.prompt.name !== 'login') {
    sendHTML(res, 400, renderErrorPage('Nothing to sign in', 'This step does not need a sign-in.'))
    return
  }

  const form = new URLSearchParams(body)
  const username = form.get('username') ?? ''
  const account = verifyCredentials(routes.accounts, username, form.get('password') ?? '')
  if (account === undefined) {
    await renderLogin(provider, res, interaction, { username, error: BAD_CREDENTIALS })
    return
  }
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: account.sub } },
    { mergeWithLastSubmission: false },
  )
}

/** Loads the browser's interaction and checks it is the one in the path; answers the error itself. */
async function findInteraction(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  uid: string,
): Promise<Interaction | undefined> {
  let interaction: Interaction
  try {
    interaction = await provider.interactionDetails(req, res)
  } catch {
    sendHTML(
      res,
      400,
      renderErrorPage(
        'Sign-in expired',
        'This sign-in is unknown, finished or expired, or the browser did not send its cookie. Start again from the application.',
      ),
    )
    return undefined
  }
  if (interaction.uid !== uid) {
    sendHTML(
      res,
      400,
      renderErrorPage('Sign-in mismatch', 'This sign-in page belongs to another sign-in.'),
    )
    return undefined
  }
  return interaction
}

async function renderLogin(
  provider: Provider,
  res: ServerResponse,
  interaction: Interaction,
  state: { username?: string; error?: string },
): Promise<void> {
  const clientId = stringParam(interaction.params.client_id) ?? ''
  const client = await provider.Client.find(clientId)
  const scopes = (stringParam(interaction.params.scope) ?? '').split(' ').filter(Boolean)
  const html = renderLoginPage({
    uid: interaction.uid,
    clientName: client?.clientName ?? clientId,
    scopes,
    ...(state.username === undefined ? {} : { username: state.username }),
    ...(state.error === undefined ? {} : { error: state.error }),
  })
  sendHTML(res, 200, html)
}

/** Grants whatever the consent prompt found missing, then resumes the authorization. */
async function grantConsent(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  interaction: Interaction,
): Promise<void> {
  const accountId = interaction.session?.accountId
  const clientId = stringParam(interaction.params.client_id)
  if (accountId === undefined || clientId === undefined) {
    sendHTML(res, 400, renderErrorPage('Sign-in expired', 'Start again from the application.'))
    return
  }
  const existing =
    interaction.grantId === undefined ? undefined : await provider.Grant.find(interaction.grantId)
  const grant = existing ?? new provider.Grant({ accountId, clientId })
  const details = interaction.prompt.details
  const scopes = stringList(details.missingOIDCScope)
  if (scopes.length > 0) grant.addOIDCScope(scopes)
  const claims = stringList(details.missingOIDCClaims)
  if (claims.length > 0) grant.addOIDCClaims(claims)
  const resources = details.missingResourceScopes
  if (typeof resources === 'object' && resources !== null) {
    for (const [resource, list] of Object.entries(resources)) {
      grant.addResourceScope(resource, stringList(list))
    }
  }
  const grantId = await grant.save()
  await provider.interactionFinished(
    req,
    res,
    { consent: { grantId } },
    { mergeWithLastSubmission: true },
  )
}

/** The account whose username and password match; both compared in constant time. */
function verifyCredentials(
  accounts: readonly DevIdPAccount[],
  username: string,
  password: string,
): DevIdPAccount | undefined {
  let found: DevIdPAccount | undefined
  for (const account of accounts) {
    if (sameSecret(account.username, username) && sameSecret(account.password, password)) {
      found ??= account
    }
  }
  return found
}

function sameSecret(expected: string, given: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()
  return timingSafeEqual(digest(expected), digest(given))
}

function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item) => typeof item === 'string') : []
}

/** Reads the request body as UTF-8; `undefined` when it exceeds `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
