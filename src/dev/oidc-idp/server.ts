/**
 * An embedded OpenID provider for `gatehouse dev` and the integration tests: a real upstream
 * identity provider WITHOUT dynamic client registration (like Entra), built on oidc-provider.
 *
 * Static clients only, authorization code flow only, PKCE S256 required, ID tokens signed with one
 * asymmetric algorithm (RS256 unless `idTokenSigningAlg` says otherwise), refresh
 * tokens (rotated) with `offline_access`, consent granted automatically, and a real sign-in page
 * checking the configured users' passwords. It listens on a loopback address only.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose'
import type { Provider } from 'oidc-provider'

import { createDevIdPStore } from './store.js'
import { buildProviderConfiguration, impliedConsentForOfflineAccess } from './config.js'
import { handleInteractionRoute } from './interactions.js'
import {
  accountsFrom,
  clientsFrom,
  loopbackURLHost,
  scopesFrom,
  signingAlgorithm,
  ttl,
} from './options.js'
import { renderErrorPage, sendHTML } from './login-page.js'
import type { DevIdPClient, DevIdPSettings, DevIdPSigningAlgorithm, DevIdPUser } from './types.js'

export {
  DEV_IDP_SIGNING_ALGORITHMS,
  type DevIdPClient,
  type DevIdPSigningAlgorithm,
  type DevIdPUser,
} from './types.js'

/** How to start the dev IdP. */
export interface DevIdPOptions {
  /** Port to listen on; default 0, a free port. */
  port?: number
  /** Loopback address to listen on; default `'127.0.0.1'`. Anything else is a `TypeError`. */
  host?: string
  /** The users who can sign in; at least one. */
  users: DevIdPUser[]
  /** The registered clients; at least one. */
  clients: DevIdPClient[]
  /** Access token lifetime; default 600 seconds. */
  accessTokenTtlSeconds?: number
  /** ID token lifetime; default `accessTokenTtlSeconds`. */
  idTokenTtlSeconds?: number
  /** Refresh token lifetime; default 86400 seconds. */
  refreshTokenTtlSeconds?: number
  /**
   * Issue a refresh token with every code grant, without `offline_access` (Amazon Cognito's rule:
   * it has no such scope). Default false: only with `offline_access`, as OIDC Core says.
   */
  refreshTokenWithoutOfflineAccess?: boolean
  /** Scopes to accept besides `openid profile email offline_access`. */
  scopes?: string[]
  /**
   * The algorithm the ID tokens (and signed userinfo) are signed with; the signing key is of the
   * matching type (RSA, EC P-256/384/521, Ed25519). The only value in the discovery document's
   * `id_token_signing_alg_values_supported` and every client's `id_token_signed_response_alg`.
   * Default `'RS256'`.
   */
  idTokenSigningAlg?: DevIdPSigningAlgorithm
  /**
   * The issuer identifier, when it is not `http://HOST:PORT` (the IdP is then reached through a
   * proxy at that origin, as the provider stand-ins do): an http loopback URL whose path, if any,
   * is where the OpenID endpoints are mounted (`/realms/demo`, `/oauth2/default`), or `/` for an
   * issuer with a trailing slash. Requests under that path reach oidc-provider with it stripped.
   */
  issuer?: string
}

/** One request the dev IdP received: method and path only, never the query or the body. */
export interface DevIdPRequest {
  method: string
  path: string
}

/** A running dev IdP. */
export interface DevIdP {
  /** The issuer identifier, `http://127.0.0.1:PORT` (no trailing slash) unless `issuer` was given. */
  readonly issuer: string
  /** Where it listens, `http://HOST:PORT` (the issuer's origin unless `issuer` was configured). */
  readonly listeningOn: string
  /** The requests received, oldest first (the last {@link REQUEST_LOG_LIMIT}); tests may clear it. */
  readonly requests: DevIdPRequest[]
  /** The public signing keys, as served at the `jwks_uri`. */
  jwks(): { keys: JWK[] }
  /** Signs with a new key from now on; the previous key stays published for verification. */
  rotateKeys(): Promise<void>
  /** Stops listening, drops open connections and forgets all sessions, grants and tokens. */
  close(): Promise<void>
}

/** How many entries {@link DevIdP.requests} keeps. */
export const REQUEST_LOG_LIMIT = 1000

const PRIVATE_JWK_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'])

/**
 * Starts the development identity provider on a loopback address.
 *
 * @throws TypeError when the options are unusable (non-loopback host, no users or clients, a
 *   client without a secret for a secret-based auth method, …).
 */
export async function startDevIdentityProvider(options: DevIdPOptions): Promise<DevIdP> {
  const host = options.host ?? '127.0.0.1'
  const urlHost = loopbackURLHost(host)
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError('port must be an integer from 0 to 65535')
  }
  const accessTokenTtl = ttl('accessTokenTtlSeconds', options.accessTokenTtlSeconds, 600)
  const alg = signingAlgorithm(options.idTokenSigningAlg)
  const store = createDevIdPStore()
  const settings: DevIdPSettings = {
    ...accountsFrom(options.users),
    clients: clientsFrom(options.clients),
    scopes: scopesFrom(options.scopes ?? []),
    accessTokenTtl,
    idTokenTtl: ttl('idTokenTtlSeconds', options.idTokenTtlSeconds, accessTokenTtl),
    refreshTokenTtl: ttl('refreshTokenTtlSeconds', options.refreshTokenTtlSeconds, 86_400),
    refreshTokenWithoutOfflineAccess: options.refreshTokenWithoutOfflineAccess === true,
    cookieKeys: [randomBytes(32).toString('base64url')],
    adapter: store.adapter,
    signingAlg: alg,
  }
  const ProviderClass = await loadProviderClass()
  let keys: JWK[] = [await generateSigningKey(alg)]

  const requests: DevIdPRequest[] = []
  let current: { provider: Provider; handle: ReturnType<Provider['callback']> } | undefined
  const routes = {
    provider: (): Provider => {
      if (current === undefined) throw new Error('the dev IdP is not started')
      return current.provider
    },
    accounts: settings.accounts,
    origin: '',
  }

  const mount = mountPath(options.issuer)
  const dispatch = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/'
    // oidc-provider builds its URLs from the part of `originalUrl` that `url` lacks (the mount).
    if (mount !== '' && (path === mount || path.startsWith(`${mount}/`))) {
      ;(req as IncomingMessage & { originalUrl?: string }).originalUrl = req.url ?? '/'
      req.url = (req.url ?? '/').slice(mount.length) || '/'
    }
    requests.push({ method: req.method ?? 'GET', path })
    if (requests.length > REQUEST_LOG_LIMIT) requests.splice(0, requests.length - REQUEST_LOG_LIMIT)
    if (current === undefined) {
      sendHTML(res, 503, renderErrorPage('Starting', 'The identity provider is starting.'))
      return
    }
    if (await handleInteractionRoute(routes, req, res, path)) return
    await current.handle(req, res)
  }

  const server = createServer((req, res) => {
    dispatch(req, res).catch(() => {
      if (res.headersSent) res.destroy()
      else sendHTML(res, 500, renderErrorPage('Server error', 'The identity provider failed.'))
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })

  const listeningOn = `http://${urlHost}:${(server.address() as AddressInfo).port}`
  const issuer = options.issuer ?? listeningOn
  routes.origin = new URL(issuer).origin
  const build = (): void => {
    const provider = new ProviderClass(issuer, buildProviderConfiguration(settings, keys))
    impliedConsentForOfflineAccess(provider)
    current = { provider, handle: provider.callback() }
  }
  try {
    build()
    await validateClients(routes.provider(), settings)
  } catch (error) {
    server.close()
    throw error
  }

  let closed: Promise<void> | undefined
  return {
    issuer,
    listeningOn,
    requests,
    jwks: () => ({ keys: keys.map(publicJWK) }),
    async rotateKeys() {
      const [previous] = keys
      const next = await generateSigningKey(alg)
      keys = previous === undefined ? [next] : [next, previous]
      build()
    },
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => {
          store.clear()
          if (error) reject(error)
          else resolve()
        })
        server.closeAllConnections()
      })
      return closed
    },
  }
}

/** The path of a configured issuer without its trailing slash ('' for none); loopback http only. */
function mountPath(issuer: string | undefined): string {
  if (issuer === undefined) return ''
  const url = URL.parse(issuer)
  if (url?.protocol !== 'http:' || url.search !== '' || url.hash !== '') {
    throw new TypeError('issuer must be an http URL without query or fragment')
  }
  loopbackURLHost(url.hostname.replace(/^\[|\]$/g, ''))
  return url.pathname.replace(/\/+$/, '')
}

/** oidc-provider checks static clients on first use only; check them up front instead. */
async function validateClients(provider: Provider, settings: DevIdPSettings): Promise<void> {
  for (const [index, metadata] of settings.clients.entries()) {
    try {
      await provider.Client.validate(metadata)
    } catch (cause) {
      const detail =
        cause instanceof Error && 'error_description' in cause
          ? String(cause.error_description)
          : String(cause)
      throw new TypeError(`clients[${index}]: ${detail}`, { cause })
    }
  }
}

async function generateSigningKey(alg: DevIdPSigningAlgorithm): Promise<JWK> {
  // jose picks the key type from the algorithm: RSA 2048, EC on the matching curve, Ed25519.
  const { privateKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(privateKey)
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' }
}

function publicJWK(jwk: JWK): JWK {
  return Object.fromEntries(
    Object.entries(jwk).filter(([member]) => !PRIVATE_JWK_MEMBERS.has(member)),
  )
}

async function loadProviderClass(): Promise<typeof Provider> {
  try {
    const module = await importWithoutRuntimeWarning()
    return module.Provider
  } catch (cause) {
    throw new Error(
      'the development identity provider needs the oidc-provider package (npm install --save-dev oidc-provider)',
      { cause },
    )
  }
}

/** What oidc-provider prints (through `console.warn`) when imported on Node older than 22 LTS. */
const RUNTIME_WARNING = 'oidc-provider WARNING: Unsupported runtime'

/**
 * Imports oidc-provider without its "Unsupported runtime" warning: on Node 20 it is the first line
 * `gatehouse dev` printed, though the dev IdP passes its tests there. Only that warning is
 * dropped, only while the module is first evaluated; every other warning passes through.
 */
async function importWithoutRuntimeWarning(): Promise<{ Provider: typeof Provider }> {
  const warn = console.warn
  const filtered = (...args: unknown[]): void => {
    if (typeof args[0] === 'string' && args[0].includes(RUNTIME_WARNING)) return
    warn.apply(console, args)
  }
  console.warn = filtered
  try {
    return await import('oidc-provider')
  } finally {
    // Someone else may have replaced it meanwhile: then leave theirs.
    if (console.warn === filtered) console.warn = warn
  }
}
