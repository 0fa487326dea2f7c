/**
 * The `identityAssertion` section: the SEP-990 identity-assertion grant (jwt-bearer at /token),
 * ID-JAGs from trusted enterprise identity providers.
 */
import * as z from 'zod'
import { ASYMMETRIC_ALGORITHMS } from './protocol.js'
import { absoluteURL } from './urls.js'

/** An enterprise identity provider whose ID-JAGs Gatehouse accepts (SEP-990). */
export const TrustedIssuerSchema = z
  .strictObject({
    /** The IdP's issuer identifier, compared exactly with the ID-JAG's `iss`. */
    issuer: absoluteURL(),
    /** Where its keys are: one of a JWKS URL, a discovery URL, or an inline JWKS. */
    jwksUri: absoluteURL().optional(),
    discoveryUrl: absoluteURL().optional(),
    jwks: z.strictObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
    /** Accepted signature algorithms (asymmetric only); default all of them. */
    algorithms: z.array(z.enum(ASYMMETRIC_ALGORITHMS)).min(1).optional(),
    /** Reach a key URL on a private network (enterprise IdPs often live there). Default false. */
    allowPrivateNetwork: z.boolean().default(false),
    /**
     * Prepended to the ID-JAG's `sub` as `{prefix}:{sub}` in Gatehouse's tokens, so users of two
     * IdPs never share a subject. Required on every issuer when several are trusted, and when
     * users also sign in through a proxy `upstream`/`upstreams` (checkIdentityAssertion).
     */
    subjectPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._~-]{1,64}$/, 'use 1-64 letters, digits or . _ ~ -')
      .optional(),
  })
  .refine((t) => [t.jwksUri, t.discoveryUrl, t.jwks].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of jwksUri, discoveryUrl or jwks',
  })

/** The SEP-990 identity-assertion grant: ID-JAGs from trusted enterprise IdPs at /token. */
export const IdentityAssertionSchema = z
  .strictObject({
    trustedIssuers: z.array(TrustedIssuerSchema).min(1),
    /** Longest accepted ID-JAG lifetime (`exp - iat`, and `exp` from now). Default 5 minutes. */
    maxAssertionLifetimeSeconds: z.number().int().min(30).max(3600).default(300),
  })
  .superRefine((ia, ctx) => {
    const issuers = new Set<string>()
    const prefixes = new Set<string>()
    ia.trustedIssuers.forEach((t, i) => {
      if (issuers.has(t.issuer)) {
        ctx.addIssue({
          code: 'custom',
          path: ['trustedIssuers', i, 'issuer'],
          message: 'is listed twice',
        })
      }
      issuers.add(t.issuer)
      if (
        ia.trustedIssuers.length > 1 &&
        (t.subjectPrefix === undefined || prefixes.has(t.subjectPrefix))
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['trustedIssuers', i, 'subjectPrefix'],
          message: 'must be set, and differ between issuers, when several issuers are trusted',
        })
      }
      if (t.subjectPrefix !== undefined) prefixes.add(t.subjectPrefix)
    })
  })

export type IdentityAssertionConfig = z.output<typeof IdentityAssertionSchema>

/**
 * Cross-section rules of `identityAssertion`: with a proxy `upstream`/`upstreams`, users signed in
 * there hold Gatehouse subjects too, so an ID-JAG issuer without a prefix could set `sub` to such a
 * user's subject and act as that user. Every trusted issuer then needs a `subjectPrefix`. A prefix
 * is also never shared with a `tokenExchange` issuer (the two would name the same subjects).
 * Overlaps with `upstreams` prefixes: `subject-prefixes.ts`.
 */
export function checkIdentityAssertion(
  c: {
    identityAssertion?: IdentityAssertionConfig | undefined
    upstream?: unknown
    upstreams?: unknown
    tokenExchange?:
      { trustedIssuers: readonly { subjectPrefix?: string | undefined }[] } | undefined
  },
  ctx: z.RefinementCtx,
): void {
  const ia = c.identityAssertion
  if (!ia) return
  const proxy = c.upstream !== undefined || c.upstreams !== undefined
  const exchangePrefixes = new Set(
    (c.tokenExchange?.trustedIssuers ?? []).flatMap((t) =>
      t.subjectPrefix !== undefined ? [t.subjectPrefix] : [],
    ),
  )
  ia.trustedIssuers.forEach((t, i) => {
    const path = ['identityAssertion', 'trustedIssuers', i, 'subjectPrefix']
    if (t.subjectPrefix === undefined) {
      // With several issuers the schema above already says so.
      if (proxy && ia.trustedIssuers.length === 1) {
        ctx.addIssue({
          code: 'custom',
          path,
          message:
            'is required when upstream or upstreams is configured: ID-JAG subjects become "<subjectPrefix>:<sub>" so the IdP cannot name a user who signs in through the proxy',
        })
      }
    } else if (exchangePrefixes.has(t.subjectPrefix)) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `"${t.subjectPrefix}" is also a tokenExchange.trustedIssuers subjectPrefix: the two issuers would share subjects`,
      })
    }
  })
}
