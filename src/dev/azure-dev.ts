/**
 * The identity provider of `gatehouse dev --provider azure`: the local Entra stand-in with one
 * directory (`gatehouse-dev.onmicrosoft.com`), Gatehouse's app registration (exposing `mcp:read`
 * and `mcp:write`, an app role `Tools.Admin` given to the dev user) and the `upstream` section
 * that points Gatehouse's Azure provider at it.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import { startAzureStandIn } from './azure-stand-in/index.js'

export interface AzureDevUpstream {
  /** The stand-in's base URL. */
  url: string
  /** The tenant's v2 issuer. */
  issuer: string
  /** Gatehouse's `upstream` configuration (kind `azure`). */
  upstream: Record<string, unknown>
  close(): Promise<void>
}

export async function startAzureDevUpstream(options: {
  issuer: string
  user: string
  password: string
}): Promise<AzureDevUpstream> {
  const tenantId = randomUUID()
  const clientId = randomUUID()
  const clientSecret = randomBytes(32).toString('base64url')
  const entra = await startAzureStandIn({
    tenants: [{ id: tenantId, domain: 'gatehouse-dev.onmicrosoft.com' }],
    apps: [
      {
        clientId,
        clientSecret,
        tenantId,
        scopes: ['mcp:read', 'mcp:write'],
        redirectUris: [`${options.issuer}/auth/callback`],
      },
    ],
    users: [
      {
        username: options.user,
        password: options.password,
        tenantId,
        name: options.user,
        email: `${options.user}@gatehouse.dev`,
        roles: { [clientId]: ['Tools.Admin'] },
      },
    ],
  })
  return {
    url: entra.url,
    issuer: entra.issuer(tenantId),
    upstream: {
      kind: 'azure',
      tenantId: 'gatehouse-dev.onmicrosoft.com',
      authority: entra.url,
      clientId,
      clientSecret,
      requiredScopes: ['mcp:read', 'mcp:write'],
      additionalAuthorizeScopes: ['User.Read'],
    },
    close: () => entra.close(),
  }
}
