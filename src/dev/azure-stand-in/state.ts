/** The stand-in's memory: pending sign-ins, codes, refresh tokens, what it was sent. */
import { createHash, randomBytes } from 'node:crypto'
import type { JWTPayload } from 'jose'
import type { Directory } from './directory.js'
import {
  GRAPH_RESOURCE,
  MSA_TENANT,
  type ResolvedScope,
  type StandInApp,
  type StandInUser,
} from './directory.js'
import type { KeyRing } from './keys.js'

/** One request the stand-in received, as sent. */
export interface RecordedRequest {
  /** `authorize`, `token`, `graph`, `discovery`, `jwks`. */
  endpoint: string
  /** The tenant segment of the URL. */
  tenant: string
  /** Query (authorize) or form (token) parameters; repeated ones keep their last value. */
  params: Record<string, string>
  /** `basic`, `post` or `none` (token endpoint). */
  clientAuth?: string
}

export interface PendingSignIn {
  tenantSegment: string
  tenantId: string | undefined
  b2c: boolean
  app: StandInApp
  params: Record<string, string>
  scopes: string[]
}

export interface IssuedCode {
  pending: PendingSignIn
  user: StandInUser
  expiresAt: number
  redeemed: boolean
}

export interface IssuedRefresh {
  app: StandInApp
  user: StandInUser
  /** Full-form scopes consented at sign-in. */
  scopes: string[]
  tenantSegment: string
  b2c: boolean
  live: boolean
}

export class StandInState {
  readonly directory: Directory
  readonly keys: KeyRing
  readonly base: string
  readonly tokenTtlSeconds: number
  readonly requests: RecordedRequest[] = []
  readonly pending = new Map<string, PendingSignIn>()
  readonly codes = new Map<string, IssuedCode>()
  readonly refresh = new Map<string, IssuedRefresh>()
  /** `uti` of tokens issued by On-Behalf-Of (Graph accepts only those). */
  readonly oboTokens = new Set<string>()
  /** Scopes (full form) a user consented to for an app at sign-in, by `oid client_id`. */
  readonly consents = new Map<string, Set<string>>()
  /** Per grant type, how many token requests succeeded. */
  readonly issued = { authorization_code: 0, refresh_token: 0, on_behalf_of: 0 }
  now: () => number

  constructor(directory: Directory, keys: KeyRing, base: string, ttl: number, now: () => number) {
    this.directory = directory
    this.keys = keys
    this.base = base
    this.tokenTtlSeconds = ttl
    this.now = now
  }

  record(entry: RecordedRequest): void {
    this.requests.push(entry)
  }

  /** v2 (or v1, per the app manifest) issuer of a directory. */
  issuer(tid: string, b2c: boolean, version: 1 | 2 = 2): string {
    if (b2c) return `${this.base}/${tid}/v2.0/`
    return version === 1 ? `https://sts.windows.net/${tid}/` : `${this.base}/${tid}/v2.0`
  }

  oid(user: StandInUser): string {
    return user.oid ?? uuidFrom(`oid:${user.username}`)
  }

  /** An access token for `resource` with the short scope names `names`. */
  async accessToken(input: {
    user: StandInUser
    client: StandInApp
    scope: ResolvedScope
    names: string[]
    b2c: boolean
    /** B2C: the user flow signed in with, put in `tfp` as B2C does. */
    policy?: string | undefined
    obo?: boolean
  }): Promise<{ token: string; uti: string }> {
    const { user, client, scope, names } = input
    const now = Math.floor(this.now() / 1000)
    const version = scope.app?.accessTokenVersion ?? 2
    const tid = user.tenantId
    const uti = randomBytes(16).toString('base64url')
    const roles = scope.app ? user.roles?.[scope.app.clientId] : undefined
    const payload: JWTPayload = {
      aud: scope.audience,
      iss: this.issuer(tid, input.b2c, scope.resource === GRAPH_RESOURCE ? 2 : version),
      iat: now,
      nbf: now,
      exp: now + this.tokenTtlSeconds,
      name: user.name ?? user.username,
      oid: this.oid(user),
      preferred_username: user.username,
      scp: names.join(' '),
      sub: pairwise(this.oid(user), scope.app?.clientId ?? scope.resource),
      tid,
      uti,
      ver: version === 1 ? '1.0' : '2.0',
      ...(version === 1
        ? { appid: client.clientId, upn: user.username }
        : { azp: client.clientId }),
      ...(roles && roles.length > 0 ? { roles } : {}),
      ...(input.b2c && input.policy !== undefined ? { tfp: input.policy } : {}),
    }
    if (input.obo === true) this.oboTokens.add(uti)
    return { token: await this.keys.sign(payload), uti }
  }

  /**
   * An ID token. B2C ones name the user flow in `tfp`. As Entra, `oid`, `name` and
   * `preferred_username` only when `profile` was asked for.
   */
  async idToken(
    user: StandInUser,
    client: StandInApp,
    nonce: string | undefined,
    b2c: boolean,
    o: { policy?: string | undefined; profile?: boolean } = {},
  ) {
    const now = Math.floor(this.now() / 1000)
    return this.keys.sign({
      aud: client.clientId,
      iss: this.issuer(user.tenantId, b2c),
      iat: now,
      nbf: now,
      exp: now + 3600,
      sub: pairwise(this.oid(user), client.clientId),
      tid: user.tenantId,
      ...(o.profile === false
        ? {}
        : {
            oid: this.oid(user),
            name: user.name ?? user.username,
            preferred_username: user.username,
          }),
      ...(user.email !== undefined ? { email: user.email } : {}),
      ...(nonce !== undefined ? { nonce } : {}),
      ...(b2c && o.policy !== undefined ? { tfp: o.policy } : {}),
      ver: '2.0',
    })
  }

  /** Remembers what the user consented to at sign-in (used by On-Behalf-Of). */
  consent(user: StandInUser, app: StandInApp, scopes: readonly string[]): void {
    const key = `${this.oid(user)} ${app.clientId}`
    const set = this.consents.get(key) ?? new Set<string>()
    for (const s of scopes) {
      const r = this.directory.resolveScope(s)
      if (r) set.add(`${r.resource}/${r.name}`)
    }
    this.consents.set(key, set)
  }

  consented(user: StandInUser, app: StandInApp): Set<string> {
    return new Set([
      ...(user.consented ?? []),
      ...(this.consents.get(`${this.oid(user)} ${app.clientId}`) ?? []),
    ])
  }

  /** Whether `user` may sign in through a URL naming `tenantId` (undefined: any work account). */
  userFits(user: StandInUser, tenantId: string | undefined, app: StandInApp): boolean {
    if (app.singleTenant === true && user.tenantId !== app.tenantId) return false
    if (tenantId === undefined) return user.tenantId !== MSA_TENANT
    return user.tenantId === tenantId
  }
}

export function randomID(): string {
  return randomBytes(24).toString('base64url')
}

function pairwise(oid: string, app: string): string {
  return createHash('sha256').update(`${oid}:${app}`).digest('base64url').slice(0, 43)
}

function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}
