/**
 * The `resources` section: the protected MCP endpoints (RFC 8707 audiences, RFC 9728 metadata),
 * and the rules a resource is checked against the rest of the configuration with.
 */
import * as z from 'zod'
import { absoluteURL, isLoopbackHost, parseURL } from './urls.js'
import { scopeToken } from './azure-schema.js'
import { type DPoPSchema, ResourceDPoPSchema } from './dpop-schema.js'

export const ResourceSchema = z.strictObject({
  /** The MCP endpoint's canonical URL, the `aud` of its tokens (RFC 8707). */
  url: absoluteURL(),
  /** Scopes this resource understands; advertised in its metadata and challenges. */
  scopes: z.array(scopeToken).default([]),
  /** Scopes every request must carry; default none beyond a valid token. */
  requiredScopes: z.array(scopeToken).default([]),
  /** Scopes granted when a client asks for none; default: `scopes`. */
  defaultScopes: z.array(scopeToken).optional(),
  /** Human-readable name for the protected-resource metadata. */
  name: z.string().max(200).optional(),
  /**
   * Origins whose browser requests may reach the endpoint (MCP transports: an invalid `Origin`
   * gets 403). The resource's own origin is always allowed; `'*'` allows any. Requests without
   * an `Origin` header (non-browser clients) are not affected.
   */
  allowedOrigins: z.array(z.union([z.literal('*'), absoluteURL()])).default([]),
  /** DPoP at this resource (RFC 9449): optional (default) or required; see dpop-schema.ts. */
  dpop: ResourceDPoPSchema.prefault({}),
})

/** Each resource: no fragment, https off loopback, DPoP needs dpop.enabled, known scopes. */
export function checkResources(
  c: {
    resources: z.output<typeof ResourceSchema>[]
    dpop: z.output<typeof DPoPSchema>
    dangerouslyAllowInsecureIssuer: boolean
  },
  ctx: z.RefinementCtx,
): void {
  c.resources.forEach((r, i) => {
    const url = parseURL(r.url)
    if (url && (url.hash || r.url.includes('#'))) {
      ctx.addIssue({
        code: 'custom',
        path: ['resources', i, 'url'],
        message: 'must have no fragment',
      })
    }
    if (
      url &&
      url.protocol !== 'https:' &&
      !(url.protocol === 'http:' && isLoopbackHost(url.hostname)) &&
      !c.dangerouslyAllowInsecureIssuer
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['resources', i, 'url'],
        message: 'must be https (http is allowed on loopback only)',
      })
    }
    if (!c.dpop.enabled && (r.dpop.required || r.dpop.nonce)) {
      ctx.addIssue({
        code: 'custom',
        path: ['resources', i, 'dpop'],
        message: 'needs dpop.enabled',
      })
    }
    for (const s of r.requiredScopes) {
      if (r.scopes.length > 0 && !r.scopes.includes(s)) {
        ctx.addIssue({
          code: 'custom',
          path: ['resources', i, 'requiredScopes'],
          message: `"${s}" is not one of the resource's scopes`,
        })
      }
    }
  })
}
