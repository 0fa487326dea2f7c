/**
 * A JWT issuer on 127.0.0.1 (port 0) for token-exchange and workload-identity tests: it publishes
 * OIDC discovery and a JWKS, as a Kubernetes API server (service-account issuer discovery), GitHub
 * Actions' `token.actions.githubusercontent.com` and SPIRE's OIDC discovery provider do, and signs
 * tokens with their documented claims. It counts the requests it serves.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'

export interface PlatformIssuer {
  /** `http://127.0.0.1:port` (plus the path given, if any). */
  issuer: string
  jwksUri: string
  discoveryUrl: string
  hits: Map<string, number>
  /**
   * Signs a token: `iss`, `iat`, `nbf`, `exp` (+10 min), `jti`, then `claims` (a value of
   * `undefined` removes one).
   */
  mint(claims: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>
  /** Signs with a key that is not in the JWKS. */
  mintWithForeignKey(claims: Record<string, unknown>): Promise<string>
  close(): Promise<void>
}

export async function startPlatformIssuer(): Promise<PlatformIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const foreign = await generateKeyPair('RS256')
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  const hits = new Map<string, number>()
  let issuer = ''
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (path === '/openid/v1/jwks') json(200, { keys: [publicJwk] })
    else if (path === '/.well-known/openid-configuration') {
      json(200, {
        issuer,
        jwks_uri: `${issuer}/openid/v1/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      })
    } else json(404, { error: 'not_found' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const sign = (key: CryptoKey, kid: string, claims: Record<string, unknown>, header = {}) => {
    const now = Math.floor(Date.now() / 1000)
    const base: Record<string, unknown> = {
      iss: issuer,
      iat: now,
      nbf: now,
      exp: now + 600,
      jti: randomUUID(),
    }
    const merged = Object.fromEntries(
      Object.entries({ ...base, ...claims }).filter(([, v]) => v !== undefined),
    )
    return new SignJWT(merged)
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT', ...header })
      .sign(key)
  }
  return {
    issuer,
    jwksUri: `${issuer}/openid/v1/jwks`,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    hits,
    mint: (claims, header) => sign(privateKey, 'k1', claims, header),
    mintWithForeignKey: (claims) => sign(foreign.privateKey, 'k1', claims),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      }),
  }
}

/** Claims of a Kubernetes projected service-account token (bound to a pod). */
export function kubernetesClaims(
  namespace: string,
  serviceAccount: string,
  audience: string,
): Record<string, unknown> {
  return {
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    aud: [audience],
    'kubernetes.io': {
      namespace,
      serviceaccount: { name: serviceAccount, uid: randomUUID() },
      pod: { name: `${serviceAccount}-7d9f8`, uid: randomUUID() },
      node: { name: 'node-1', uid: randomUUID() },
    },
  }
}

/** Claims of a GitHub Actions OIDC token for a workflow run on `ref`. */
export function githubActionsClaims(
  repository: string,
  ref: string,
  audience: string,
): Record<string, unknown> {
  const [owner] = repository.split('/')
  return {
    sub: `repo:${repository}:ref:${ref}`,
    aud: audience,
    ref,
    sha: 'a'.repeat(40),
    repository,
    repository_owner: owner,
    repository_visibility: 'private',
    run_id: '1234567890',
    run_attempt: '1',
    actor: 'octocat',
    workflow: 'deploy',
    event_name: 'push',
    ref_type: 'branch',
    job_workflow_ref: `${repository}/.github/workflows/deploy.yml@${ref}`,
    runner_environment: 'github-hosted',
  }
}

/** Claims of a SPIFFE JWT-SVID (SPIRE with an issuer configured). */
export function spiffeClaims(spiffeId: string, audience: string): Record<string, unknown> {
  return { sub: spiffeId, aud: [audience], jti: undefined }
}
