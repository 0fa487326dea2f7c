/**
 * A small enterprise identity provider on loopback for the SEP-990 tests: it publishes discovery
 * and a JWKS, mints ID-JAGs with `jose`, and answers RFC 8693 token exchange (ID token -> ID-JAG)
 * as the ID-JAG draft §4.3 describes, with client_secret_basic or client_secret_post. It counts
 * the requests it serves and records each token exchange (parameters, never secrets or tokens).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, SignJWT, jwtVerify, type CryptoKey, type JWK } from 'jose'

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag'
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token'

export interface EnterpriseIdP {
  /** `http://127.0.0.1:port` */
  issuer: string
  jwksUri: string
  discoveryUrl: string
  /** Requests served, by path. */
  hits: Map<string, number>
  /** The token-exchange requests received, parameters as sent minus secrets and tokens. */
  exchanges: RecordedExchange[]
  /** Signs an ID-JAG: baseline claims, then `claims` (a value of `undefined` removes one). */
  mintIdJag(claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>
  /** Signs an OpenID ID token for `sub` (the single sign-on the client did before). */
  idToken(sub: string, audience: string): Promise<string>
  /** Signs with a key that is not in the JWKS. */
  mintWithForeignKey(claims?: Record<string, unknown>): Promise<string>
  /** The public JWK (for HS256-with-public-key confusion tests). */
  publicJwk: JWK
  /** Registers the IdP client the MCP client uses for token exchange. */
  addClient(id: string, secret: string): void
  close(): Promise<void>
}

/** What a token-exchange request carried: how the client authenticated, and its parameters. */
export interface RecordedExchange {
  clientAuth: 'client_secret_basic' | 'client_secret_post' | 'none'
  params: Record<string, string>
}

export interface EnterpriseIdPOptions {
  /** Default `aud` of minted ID-JAGs (the Gatehouse issuer). */
  audience: string
  /** Default `resource`. */
  resource: string
  /** Default `client_id` (the client at Gatehouse). */
  clientId: string
}

export async function startEnterpriseIdP(options: EnterpriseIdPOptions): Promise<EnterpriseIdP> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const foreign = await generateKeyPair('ES256')
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'ES256', use: 'sig' }
  const hits = new Map<string, number>()
  const clients = new Map<string, string>()
  const exchanges: RecordedExchange[] = []
  let issuer = ''

  const sign = (key: CryptoKey, kid: string, claims: Record<string, unknown>, header = {}) => {
    const now = Math.floor(Date.now() / 1000)
    const payload: Record<string, unknown> = {
      iss: issuer,
      sub: 'u1',
      aud: options.audience,
      client_id: options.clientId,
      resource: options.resource,
      scope: 'mcp:read',
      jti: randomUUID(),
      iat: now,
      exp: now + 300,
    }
    const removed = new Set(Object.keys(claims).filter((k) => claims[k] === undefined))
    const merged = Object.fromEntries(
      Object.entries({ ...payload, ...claims }).filter(([k]) => !removed.has(k)),
    )
    return new SignJWT(merged)
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'oauth-id-jag+jwt', ...header })
      .sign(key)
  }

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(body))
    }
    if (req.method === 'GET' && path === '/jwks') {
      json(200, { keys: [publicJwk] })
      return
    }
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      // The fields OpenID Connect Discovery 1.0 §3 requires, as a real IdP publishes them (the
      // MCP SDK's discovery checks them); the IdP's sign-in itself is not served here.
      json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        jwks_uri: `${issuer}/jwks`,
        token_endpoint: `${issuer}/token`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        grant_types_supported: [TOKEN_EXCHANGE],
        identity_chaining_requested_token_types_supported: [ID_JAG_TYPE],
      })
      return
    }
    if (req.method === 'POST' && path === '/token') {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (chunk: string) => (body += chunk))
      req.on('end', () => {
        void exchange(req.headers.authorization, new URLSearchParams(body)).then(
          (answer) => {
            json(answer.status, answer.body)
          },
          () => {
            json(500, { error: 'server_error' })
          },
        )
      })
      return
    }
    json(404, { error: 'not_found' })
  })

  /** RFC 8693 token exchange of an ID token for an ID-JAG (ID-JAG draft §4.3). */
  async function exchange(
    authorization: string | undefined,
    form: URLSearchParams,
  ): Promise<{ status: number; body: unknown }> {
    // RFC 6749 §2.3.1: client_secret_basic, or client_secret_post (never both).
    const encoded = authorization?.startsWith('Basic ') ? authorization.slice(6) : undefined
    const basic = encoded !== undefined
    const [basicId, basicSecret]: (string | undefined)[] =
      encoded !== undefined ? Buffer.from(encoded, 'base64').toString().split(':') : []
    const postId = form.get('client_id') ?? undefined
    const postSecret = form.get('client_secret') ?? undefined
    const clientAuth = basic
      ? 'client_secret_basic'
      : postSecret !== undefined
        ? 'client_secret_post'
        : 'none'
    const params: Record<string, string> = {}
    for (const [name, value] of form) {
      if (name === 'client_secret') continue
      params[name] = name === 'subject_token' || name === 'actor_token' ? '<token>' : value
    }
    exchanges.push({ clientAuth, params })
    const id = basic ? basicId : postId
    const secret = basic ? basicSecret : postSecret
    if ((basic && postSecret !== undefined) || id === undefined || clients.get(id) !== secret) {
      return { status: 401, body: { error: 'invalid_client' } }
    }
    if (
      form.get('grant_type') !== TOKEN_EXCHANGE ||
      form.get('requested_token_type') !== ID_JAG_TYPE ||
      form.get('subject_token_type') !== ID_TOKEN_TYPE
    ) {
      return { status: 400, body: { error: 'invalid_request' } }
    }
    let sub: string
    try {
      const { payload } = await jwtVerify(form.get('subject_token') ?? '', publicKey, {
        issuer,
        audience: id,
      })
      sub = String(payload.sub)
    } catch {
      return { status: 400, body: { error: 'invalid_grant' } }
    }
    const audience = form.get('audience')
    const resource = form.get('resource')
    if (audience === null || resource === null) {
      return { status: 400, body: { error: 'invalid_target' } }
    }
    const scope = form.get('scope') ?? undefined
    const jag = await sign(privateKey, 'idp-1', { sub, aud: audience, resource, scope })
    return {
      status: 200,
      body: {
        issued_token_type: ID_JAG_TYPE,
        access_token: jag,
        token_type: 'N_A',
        expires_in: 300,
        ...(scope !== undefined ? { scope } : {}),
      },
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    hits,
    exchanges,
    publicJwk,
    mintIdJag: (claims = {}, header = {}) => sign(privateKey, 'idp-1', claims, header),
    mintWithForeignKey: (claims = {}) => sign(foreign.privateKey, 'idp-1', claims),
    idToken: (sub, audience) =>
      new SignJWT({ sub })
        .setProtectedHeader({ alg: 'ES256', kid: 'idp-1', typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey),
    addClient: (id, secret) => clients.set(id, secret),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}
