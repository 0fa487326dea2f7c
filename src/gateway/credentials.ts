/**
 * Per-route upstream credentials: what an HTTP upstream receives instead of the client's token (a
 * static secret, a short-lived token Gatehouse signs for the upstream's audience, or the user's
 * own IdP access token), plus optional identity headers. Secrets are read once at start-up from
 * the environment or a file (never the command line or the configuration), so a missing secret
 * fails at start, and the value is kept only in memory.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type {
  IdentityHeaders,
  StdioCredentialEnv,
  UpstreamCredential,
} from '../config/gateway-schema.js'
import { ConfigError, OAuthError, StoreError } from '../errors.js'
import type { AccessToken } from '../jwt/access-token.js'
import { signAccessToken } from '../tokens/access-token.js'
import { signIdentityToken } from '../tokens/identity-token.js'
import type { SigningKeys } from '../tokens/keys.js'
import { RPC, rpcError } from './messages.js'

/** Headers (name, value) for one caller; may reject (`OAuthError` `invalid_token` → 401). */
export type CredentialHeaders = (
  token: AccessToken,
) => readonly (readonly [string, string])[] | Promise<readonly (readonly [string, string])[]>

export interface CredentialDeps {
  env?: NodeJS.ProcessEnv
  /** Gatehouse's keys and issuer (`gatehouse-token`). */
  signer?: { keys: SigningKeys; issuer: string }
  /** The user's access token at the identity provider, refreshed when due (`idp-token`). */
  userToken?: (token: AccessToken) => Promise<string>
  /** Entra On-Behalf-Of for the user behind `token` (`azure-obo`; the Azure provider's capability). */
  onBehalfOf?: (token: AccessToken, scopes: readonly string[]) => Promise<string>
  /**
   * Ends the sign-in behind `token` (revokes its grant): a security token service refused the
   * user's IdP token, so the client must sign the user in again, not refresh into the same refusal.
   */
  endSignIn?: (token: AccessToken) => Promise<void>
  /**
   * The groups of the user behind `token` from their grant, for a token that carries none (an IdP
   * whose groups are too many for a token): copied into the tokens Gatehouse signs for upstreams.
   */
  groupsOf?: (token: AccessToken) => Promise<readonly string[]>
  now?: () => number
}

const NONE: readonly (readonly [string, string])[] = []

/**
 * The headers a route adds to upstream requests: its credential, then its identity headers.
 * `upstreamUrl` is the default audience of a `gatehouse-token`; `where` prefixes config errors.
 */
export function loadCredential(
  credential: UpstreamCredential,
  identity: IdentityHeaders | undefined,
  upstreamUrl: string,
  where: string,
  deps: CredentialDeps = {},
): CredentialHeaders {
  const base = credentialOf(credential, upstreamUrl, where, deps)
  if (!identity) return base
  const signed = identity.signed
  if (signed) {
    const signer = deps.signer
    if (!signer) throw new ConfigError([`${where}: signed identity headers need Gatehouse's keys`])
    const mint = upstreamTokenMinter(
      async (token, ttl) =>
        identityToken(
          signer,
          signed.audience ?? upstreamUrl,
          await withGroups(token, deps),
          ttl,
          deps.now,
        ),
      signed.ttlSeconds,
      deps.now,
    )
    return async (token) => [...(await base(token)), [signed.name, await mint(token)]]
  }
  return (token) => {
    const own = identityHeadersOf(identity, token)
    const got = base(token)
    return got instanceof Promise ? got.then((c) => [...c, ...own]) : [...got, ...own]
  }
}

/**
 * A stdio process's environment credential (`credentialEnv`), read or derived the way the header
 * credential of the same kind is: a `secret` is read now (a missing one stops the gateway) and is
 * `fixed`; every other kind is the caller's, derived per process start (`forCaller`).
 */
export function loadEnvCredential(
  credential: StdioCredentialEnv,
  where: string,
  deps: CredentialDeps = {},
):
  | { fixed: string; forCaller?: never }
  | { fixed?: never; forCaller: (token: AccessToken) => Promise<string> } {
  // The header machinery with no header prefix: the value is the credential alone.
  const asHeader = { name: 'x-env', prefix: '' }
  if (credential.kind === 'secret') {
    const { valueFromEnv, valueFile } = credential
    const header = {
      kind: 'header' as const,
      ...asHeader,
      ...(valueFromEnv !== undefined ? { valueFromEnv } : {}),
      ...(valueFile !== undefined ? { valueFile } : {}),
    }
    return { fixed: readSecret(header, where, deps.env ?? process.env) }
  }
  const audience = credential.kind === 'gatehouse-token' ? credential.audience : ''
  const headers = credentialOf({ ...credential, ...asHeader }, audience, where, deps)
  return {
    forCaller: async (token) => {
      const got = await headers(token)
      const value = got[0]?.[1]
      if (value === undefined) throw new Error('no credential was made')
      return value
    },
  }
}

function credentialOf(
  credential: UpstreamCredential,
  upstreamUrl: string,
  where: string,
  deps: CredentialDeps,
): CredentialHeaders {
  switch (credential.kind) {
    case 'none':
      return () => NONE
    case 'header': {
      const header = [
        [
          credential.name,
          `${credential.prefix}${readSecret(credential, where, deps.env ?? process.env)}`,
        ],
      ] as const
      return () => header
    }
    case 'gatehouse-token': {
      const signer = deps.signer
      if (!signer) throw new ConfigError([`${where}: gatehouse-token needs Gatehouse's keys`])
      const audience = credential.audience ?? upstreamUrl
      const mint = upstreamTokenMinter(
        async (token, ttl) =>
          accessToken(signer, audience, await withGroups(token, deps), ttl, deps.now),
        credential.ttlSeconds,
        deps.now,
      )
      const { name, prefix } = credential
      return async (token) => [[name, `${prefix}${await mint(token)}`]]
    }
    case 'token-exchange': {
      const userToken = deps.userToken
      if (!userToken) {
        throw new ConfigError([
          `${where}: token-exchange needs an identity provider behind Gatehouse (upstream)`,
        ])
      }
      let secret: string | undefined
      if (credential.clientSecretFromEnv !== undefined) {
        secret = (deps.env ?? process.env)[credential.clientSecretFromEnv]
        if (secret === undefined || secret === '') {
          throw new ConfigError([
            `${where}.clientSecretFromEnv: the environment variable ${credential.clientSecretFromEnv} is not set`,
          ])
        }
      }
      const exchange = tokenExchanger(credential, secret, deps.now)
      const { name, prefix } = credential
      const endSignIn = deps.endSignIn
      return async (token) => {
        try {
          return [[name, `${prefix}${await exchange(await userToken(token))}`]]
        } catch (error) {
          // The STS refused the user's IdP token. A 401 alone would loop: the client refreshes at
          // Gatehouse, and the new token brings the same IdP token to the STS. Without its grant the
          // refresh fails and the user signs in again, at the IdP.
          if (
            error instanceof OAuthError &&
            error.reason === 'token_exchange_refused' &&
            endSignIn !== undefined
          ) {
            await endSignIn(token)
          }
          throw error
        }
      }
    }
    case 'azure-obo': {
      const onBehalfOf = deps.onBehalfOf
      if (!onBehalfOf) {
        throw new ConfigError([
          `${where}: azure-obo needs Microsoft Entra ID (upstream kind azure) as the identity provider`,
        ])
      }
      const { name, prefix, scopes } = credential
      return async (token) => {
        let obo: string
        try {
          obo = await onBehalfOf(token, scopes)
        } catch (error) {
          const cause = (error as { cause?: unknown } | null)?.cause
          // A grant with no Entra sign-in at all (a machine's): refused, not signed in again.
          if (isWithoutSignIn(cause)) throw cause
          // The store failed while the user's Entra token was read: 503, a retry is safe.
          if (cause instanceof StoreError) throw cause
          // No Entra sign-in behind the token any more: the client signs the user in again.
          if ((error as { code?: unknown } | null)?.code === 'ERR_OBO_NO_TOKEN') {
            throw new OAuthError(
              'invalid_token',
              'the identity provider no longer accepts the sign-in',
              {
                reason: 'obo_no_token',
                cause: error,
              },
            )
          }
          throw error
        }
        return [[name, `${prefix}${obo}`]]
      }
    }
    case 'idp-token': {
      const userToken = deps.userToken
      if (!userToken) {
        throw new ConfigError([
          `${where}: idp-token needs an identity provider behind Gatehouse (upstream)`,
        ])
      }
      const { name, prefix } = credential
      return async (token) => [[name, `${prefix}${await userToken(token)}`]]
    }
  }
}

/** A grant that never had IdP tokens (client credentials, ID-JAG, token exchange). */
function isWithoutSignIn(error: unknown): error is OAuthError {
  return error instanceof OAuthError && error.reason === 'no_upstream_tokens'
}

/**
 * The answer for a caller whose route credential needs the user's sign-in at the identity
 * provider (`idp-token`, `token-exchange`, `azure-obo`, stdio `userTokenEnv`) when the caller's
 * grant has none (a machine's, or one made by ID-JAG or token exchange): 403 with JSON-RPC
 * `-32003`. Not 401: a new token of that client would have none either, and a client told 401
 * signs in again without end. `undefined` for any other failure.
 */
export function credentialRefusal(error: unknown, id: unknown = null): Response | undefined {
  if (!isWithoutSignIn(error)) return undefined
  return rpcError(
    403,
    RPC.forbidden,
    'Forbidden: this route needs a user signed in at the identity provider',
    id,
  )
}

function readSecret(
  credential: Extract<UpstreamCredential, { kind: 'header' }>,
  where: string,
  env: NodeJS.ProcessEnv,
): string {
  let secret: string | undefined
  if (credential.valueFromEnv !== undefined) {
    secret = env[credential.valueFromEnv]
    if (secret === undefined || secret === '') {
      throw new ConfigError([
        `${where}.valueFromEnv: the environment variable ${credential.valueFromEnv} is not set`,
      ])
    }
  } else if (credential.valueFile !== undefined) {
    try {
      secret = readFileSync(credential.valueFile, 'utf8').replace(/\r?\n$/, '')
    } catch {
      throw new ConfigError([`${where}.valueFile: cannot read the file`])
    }
  }
  if (secret === undefined || secret === '' || /[\r\n\0]/.test(secret)) {
    throw new ConfigError([`${where}: the secret is empty or holds a line break`])
  }
  return secret
}

/**
 * Claims of the client's token copied into an upstream token (who the user is, not how): with
 * `idp`, the enterprise IdP that asserted a SEP-990 subject (whose namespace `sub` is in), and
 * with `act`, who acts for the user (RFC 8693 §4.1), so the upstream sees the delegation too.
 */
const COPIED_CLAIMS = [
  'roles',
  'groups',
  'email',
  'name',
  'preferred_username',
  'tid',
  'gty',
  'idp',
  'act',
]

/**
 * Mints upstream tokens with `sign`, one per client token reused while more than half its life is
 * left (a signature per request would cost more than the gateway's whole latency budget). Never
 * beyond the client's own token. Bounded cache.
 */
function upstreamTokenMinter(
  sign: (token: AccessToken, ttlSeconds: number) => Promise<string>,
  ttlSeconds: number,
  now: () => number = Date.now,
): (token: AccessToken) => Promise<string> {
  const cache = new Map<string, { token: string; refreshAt: number }>()
  const MAX = 10_000
  return async (token) => {
    const key = createHash('sha256').update(token.token).digest('base64url')
    const t = now()
    const hit = cache.get(key)
    if (hit && hit.refreshAt > t) return hit.token
    cache.delete(key)
    // Never outlive the client's own token: the upstream token is that token's stand-in.
    const left = token.expiresAt === undefined ? ttlSeconds : Math.floor(token.expiresAt - t / 1000)
    const ttl = Math.min(ttlSeconds, left)
    // Past its `exp` but within the guard's clock tolerance: the client refreshes on a 401, which
    // a 502 would not tell it to do.
    if (ttl <= 0) {
      throw new OAuthError('invalid_token', 'the access token has expired', {
        reason: 'token_expired',
      })
    }
    const signed = await sign(token, ttl)
    if (cache.size >= MAX) {
      const oldest = cache.keys().next()
      if (!oldest.done) cache.delete(oldest.value)
    }
    cache.set(key, { token: signed, refreshAt: t + (ttl * 1000) / 2 })
    return signed
  }
}

/** The claims of the client's token that are copied (who the user is, not how). */
function copiedClaims(token: AccessToken): Record<string, unknown> {
  const extra: Record<string, unknown> = {}
  for (const name of COPIED_CLAIMS) {
    if (token.claims[name] !== undefined) extra[name] = token.claims[name]
  }
  return extra
}

/**
 * `token` with its user's groups from the grant when it carries none (and `groupsOf` can tell):
 * the upstream should see the groups the route's policy sees.
 */
async function withGroups(token: AccessToken, deps: CredentialDeps): Promise<AccessToken> {
  if (Array.isArray(token.claims.groups) || deps.groupsOf === undefined) return token
  const groups = await deps.groupsOf(token)
  return groups.length === 0
    ? token
    : { ...token, claims: { ...token.claims, groups: [...groups] } }
}

/** A `gatehouse-token`: an RFC 9068 access token for the upstream's audience. */
async function accessToken(
  signer: { keys: SigningKeys; issuer: string },
  audience: string,
  token: AccessToken,
  ttlSeconds: number,
  now?: () => number,
): Promise<string> {
  if (token.grantId === undefined) throw new Error('the caller token has no grant')
  const signed = await signAccessToken(signer.keys, {
    issuer: signer.issuer,
    subject: token.subject ?? token.clientId,
    audience,
    clientId: token.clientId,
    scopes: token.scopes,
    grantId: token.grantId,
    ttlSeconds,
    ...(now ? { now } : {}),
    extra: copiedClaims(token),
  })
  return signed.token
}

/**
 * A signed identity header: who the caller is (`sub`, `client_id`, `scope`, the copied claims,
 * and `idp`, the IdP the user signed in at), for the upstream's audience.
 */
async function identityToken(
  signer: { keys: SigningKeys; issuer: string },
  audience: string,
  token: AccessToken,
  ttlSeconds: number,
  now?: () => number,
): Promise<string> {
  const extra = copiedClaims(token)
  if (token.machine === true) extra.gty = 'client_credentials'
  const idp = token.upstream?.issuer
  if (idp !== undefined) extra.idp = idp
  const signed = await signIdentityToken(signer.keys, {
    issuer: signer.issuer,
    audience,
    subject: token.subject ?? token.clientId,
    clientId: token.clientId,
    scopes: token.scopes,
    ttlSeconds,
    ...(now ? { now } : {}),
    extra,
  })
  return signed.token
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'

/**
 * RFC 8693 §2: trades a subject token at the STS; answers are cached per subject token (its
 * SHA-256) until 30 s before they expire (no `expires_in`: one minute). A refusal of the subject
 * token (`invalid_grant`) is `invalid_token` for the caller, whose sign-in the credential then
 * ends; anything else an error (the gateway answers 502). Neither token nor the STS's text
 * reaches the error.
 */
function tokenExchanger(
  config: Extract<UpstreamCredential, { kind: 'token-exchange' }>,
  secret: string | undefined,
  now: () => number = Date.now,
): (subjectToken: string) => Promise<string> {
  const cache = new Map<string, { token: string; until: number }>()
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  }
  if (secret !== undefined) {
    const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+')
    headers.authorization = `Basic ${Buffer.from(`${enc(config.clientId)}:${enc(secret)}`).toString('base64')}`
  }
  return async (subjectToken) => {
    const key = createHash('sha256').update(subjectToken).digest('base64url')
    const hit = cache.get(key)
    if (hit && hit.until > now()) return hit.token
    cache.delete(key)
    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
    })
    if (secret === undefined) form.set('client_id', config.clientId)
    if (config.audience !== undefined) form.set('audience', config.audience)
    if (config.resource !== undefined) form.set('resource', config.resource)
    if (config.scopes !== undefined) form.set('scope', config.scopes.join(' '))
    const res = await fetch(config.tokenEndpoint, {
      method: 'POST',
      headers,
      body: form,
      redirect: 'error',
      signal: AbortSignal.timeout(config.timeoutSeconds * 1000),
    })
    const body = (await res.json().catch(() => undefined)) as
      { access_token?: unknown; expires_in?: unknown; error?: unknown } | undefined
    if (res.status === 400 && body?.error === 'invalid_grant') {
      throw new OAuthError('invalid_token', 'the identity provider no longer accepts the sign-in', {
        reason: 'token_exchange_refused',
      })
    }
    const access = body?.access_token
    if (!res.ok || typeof access !== 'string' || access === '' || /[\r\n\0]/.test(access)) {
      throw new Error(`token exchange failed (${String(res.status)})`)
    }
    const lifetime = typeof body?.expires_in === 'number' ? body.expires_in : 60
    const until = now() + Math.max(0, lifetime - 30) * 1000
    if (cache.size >= 10_000) {
      const oldest = cache.keys().next()
      if (!oldest.done) cache.delete(oldest.value)
    }
    if (until > now()) cache.set(key, { token: access, until })
    return access
  }
}

/**
 * A header value from a claim: printable ASCII stays as it is; `%`, `,` and anything else are
 * percent-encoded (UTF-8), so `decodeURIComponent` restores it and a list separator is never
 * ambiguous.
 */
function headerValue(value: string): string {
  return (
    value
      .replace(/[^\x20-\x24\x26-\x2b\x2d-\x7e]/gu, (c) => {
        try {
          return encodeURIComponent(c)
        } catch {
          return '%EF%BF%BD' // a lone surrogate: U+FFFD
        }
      })
      // HTTP drops a field value's leading and trailing spaces (RFC 9110 §5.5): `alice ` would
      // reach the server as `alice`, another user.
      .replace(/^ +| +$/g, (spaces) => '%20'.repeat(spaces.length))
  )
}

function identityHeadersOf(
  names: IdentityHeaders,
  token: AccessToken,
): (readonly [string, string])[] {
  const out: (readonly [string, string])[] = [
    [names.clientId, headerValue(token.clientId)],
    [names.scopes, token.scopes.map(headerValue).join(' ')],
  ]
  // A client acting for itself is not a user: its client id is not sent as a subject.
  if (token.machine !== true && token.subject !== undefined) {
    out.push([names.subject, headerValue(token.subject)])
  }
  // The namespace of the subject: the IdP the user signed in at, else who vouches for the token.
  const issuer = token.upstream?.issuer ?? token.issuer
  if (issuer !== undefined) out.push([names.issuer, headerValue(issuer)])
  if (token.roles && token.roles.length > 0) {
    out.push([names.roles, token.roles.map(headerValue).join(',')])
  }
  return out
}
