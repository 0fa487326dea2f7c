/**
 * The `clients` section: clients the operator registers in configuration, and the rules each one
 * is checked against the grants it names (client credentials, jwt-bearer, token exchange) and
 * the sections those need.
 */
import * as z from 'zod'
import { CLIENT_CREDENTIALS_GRANT, JWT_BEARER_GRANT, redirectURIProblem } from './protocol.js'
import { absoluteURL } from './urls.js'
import { scopeToken } from './azure-schema.js'
import type { ClientCredentialsSchema } from './client-credentials-schema.js'
import type { IdentityAssertionSchema } from './identity-assertion-schema.js'
import type { ResourceSchema } from './resources-schema.js'
import {
  checkTokenExchange,
  TOKEN_EXCHANGE_GRANT,
  type TokenExchangeSchema,
  type WorkloadIdentitySchema,
} from './token-exchange-schema.js'

/** A client the operator registers in configuration (no dynamic registration needed). */
export const StaticClientSchema = z.strictObject({
  /** Chosen by the operator; must not look like a URL (those are Client ID Metadata Documents). */
  clientId: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'use 1-128 letters, digits or . _ ~ -'),
  /** Plain secret (from a file or the environment). Stored nowhere; compared in constant time. */
  clientSecret: z.string().min(32, 'must be at least 32 characters').optional(),
  tokenEndpointAuthMethod: z
    .enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
    .default('client_secret_basic'),
  /** The client's public keys, for `private_key_jwt` (RFC 7523 client assertions). */
  jwks: z
    .strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(20) })
    .optional(),
  redirectUris: z.array(absoluteURL()).default([]),
  grantTypes: z
    .array(
      z.enum([
        'authorization_code',
        'refresh_token',
        JWT_BEARER_GRANT,
        CLIENT_CREDENTIALS_GRANT,
        TOKEN_EXCHANGE_GRANT,
      ]),
    )
    .min(1)
    .default(['authorization_code', 'refresh_token']),
  /**
   * The most this client may be granted through the client credentials grant (intersected with
   * the resource's scopes). Unset: none (tokens without scopes).
   */
  clientCredentialsScopes: z.array(scopeToken).optional(),
  /**
   * The most this client may be granted through an identity assertion (SEP-990): the ID-JAG's
   * scopes are intersected with these. Unset: whatever the resource knows.
   */
  assertionScopes: z.array(scopeToken).optional(),
  name: z.string().max(200).optional(),
})

export function checkClients(
  c: {
    clients: z.output<typeof StaticClientSchema>[]
    identityAssertion?: z.output<typeof IdentityAssertionSchema> | undefined
    clientCredentials: z.output<typeof ClientCredentialsSchema>
    resources: z.output<typeof ResourceSchema>[]
    tokenExchange?: z.output<typeof TokenExchangeSchema> | undefined
    workloadIdentity?: z.output<typeof WorkloadIdentitySchema> | undefined
  },
  ctx: z.RefinementCtx,
): void {
  checkTokenExchange(c, ctx)
  const federated = new Set(c.workloadIdentity?.policies.map((p) => p.clientId) ?? [])
  const seen = new Set<string>()
  c.clients.forEach((client, i) => {
    const at = (field: string) => ['clients', i, field]
    if (seen.has(client.clientId)) {
      ctx.addIssue({ code: 'custom', path: at('clientId'), message: 'is listed twice' })
    }
    seen.add(client.clientId)
    const confidential = client.tokenEndpointAuthMethod !== 'none'
    const keyAuth = client.tokenEndpointAuthMethod === 'private_key_jwt'
    if (confidential && !keyAuth !== (client.clientSecret !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: at('clientSecret'),
        message: keyAuth
          ? 'must not be set for private_key_jwt'
          : `is required for ${client.tokenEndpointAuthMethod}`,
      })
    }
    if (!confidential && client.clientSecret !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: at('clientSecret'),
        message: 'must not be set for a public client',
      })
    }
    if (client.jwks?.keys.some((k) => 'd' in k || 'k' in k)) {
      ctx.addIssue({
        code: 'custom',
        path: at('jwks'),
        message: 'must hold public keys only (a key has private or symmetric material)',
      })
    }
    if (federated.has(client.clientId)) {
      // Workload identity: the platform token is the client's credential; no keys of its own.
      if (!keyAuth || client.jwks !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at('tokenEndpointAuthMethod'),
          message:
            'a client named by a workloadIdentity policy uses private_key_jwt with no jwks (the platform token is its assertion)',
        })
      }
    } else if (keyAuth !== (client.jwks !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: at('jwks'),
        message: keyAuth ? 'is required for private_key_jwt' : 'is used only with private_key_jwt',
      })
    }
    if (client.grantTypes.includes(CLIENT_CREDENTIALS_GRANT)) {
      if (!confidential) {
        ctx.addIssue({
          code: 'custom',
          path: at('grantTypes'),
          message: 'the client_credentials grant is for confidential clients only',
        })
      }
      if (!c.clientCredentials.enabled) {
        ctx.addIssue({
          code: 'custom',
          path: at('grantTypes'),
          message: 'the client_credentials grant needs clientCredentials.enabled',
        })
      }
    } else if (client.clientCredentialsScopes !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: at('clientCredentialsScopes'),
        message: 'is used only with the client_credentials grant',
      })
    }
    if (client.grantTypes.includes(JWT_BEARER_GRANT)) {
      if (!confidential) {
        ctx.addIssue({
          code: 'custom',
          path: at('grantTypes'),
          message: 'the jwt-bearer grant is for confidential clients only',
        })
      }
      if (!c.identityAssertion) {
        ctx.addIssue({
          code: 'custom',
          path: at('grantTypes'),
          message: 'the jwt-bearer grant needs identityAssertion to be configured',
        })
      }
    }
    client.redirectUris.forEach((uri, j) => {
      // Operators may list native-app (custom scheme) URIs; the other rules are the registration's.
      const problem = redirectURIProblem(uri, 'native')
      if (problem) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'redirectUris', j], message: problem })
      }
    })
    if (client.grantTypes.includes('authorization_code') && client.redirectUris.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: at('redirectUris'),
        message: 'the authorization_code grant needs at least one redirect URI',
      })
    }
  })
}
