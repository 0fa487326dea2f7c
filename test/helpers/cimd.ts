/**
 * Builders for Client ID Metadata Document tests: a Gatehouse whose outbound transport trusts the
 * client host's test CA and resolves names from a table, and metadata documents on that host.
 */
import { createNodeTransport } from '../../src/adapters/node-transport.js'
import type { ClientHost } from './client-host.js'
import { tableResolver } from './client-host.js'
import {
  authorizeURL,
  createTestGatehouse,
  pkcePair,
  RESOURCE,
  type TestGatehouse,
} from './gatehouse.js'

export const APP_REDIRECT = 'https://app.test/cb'
export const LOCAL_REDIRECT = 'http://127.0.0.1:5000/cb'

export interface CIMDGatehouse extends TestGatehouse {
  /** Names the resolver was asked for, in order. */
  lookups: string[]
}

/** A metadata document for `path` on the client host. */
export function metadataDocument(
  host: ClientHost,
  path: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    client_id: `${host.origin()}${path}`,
    client_name: 'Acme Agent',
    redirect_uris: [LOCAL_REDIRECT, APP_REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  }
}

/**
 * A Gatehouse with metadata documents enabled. By default `client.test` and `other.test` resolve
 * to the client host (127.0.0.1) and loopback is allowed (the development switch).
 */
export async function createCIMDGatehouse(
  host: ClientHost,
  options: {
    allowLoopback?: boolean
    resolve?: Record<string, string[] | ((n: number) => string[])>
    cimd?: Record<string, unknown>
    config?: Record<string, unknown>
    proxy?: string
  } = {},
): Promise<CIMDGatehouse> {
  const resolver = tableResolver(
    options.resolve ?? { 'client.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] },
  )
  const t = await createTestGatehouse({
    config: {
      clientIdMetadataDocuments: {
        enabled: true,
        dangerouslyAllowLoopback: options.allowLoopback ?? true,
        ...options.cimd,
      },
      ...options.config,
    },
    options: {
      transport: createNodeTransport({
        ca: host.ca,
        resolve: resolver.resolve,
        ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
      }),
    },
  })
  return Object.assign(t, { lookups: resolver.lookups })
}

/** `GET /authorize` for `clientId` with a fresh PKCE pair. */
export function authorizeRequest(
  t: TestGatehouse,
  clientId: string,
  extra: Record<string, string | undefined> = {},
): Promise<Response> {
  return t.call(
    authorizeURL({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: APP_REDIRECT,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      state: 'st',
      resource: RESOURCE,
      ...extra,
    }),
  )
}

/** An upstream that is never reached: enough for `/authorize` to end at the consent page. */
export const UNREACHED_UPSTREAM = {
  kind: 'oauth',
  issuer: 'https://idp.test',
  authorizationEndpoint: 'https://idp.test/authorize',
  tokenEndpoint: 'https://idp.test/token',
  jwksUri: 'https://idp.test/jwks',
  clientId: 'gatehouse',
  clientSecret: 'upstream-secret',
}
