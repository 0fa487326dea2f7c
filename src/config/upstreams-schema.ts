/**
 * The `upstreams` section (several identity providers, docs/providers/multiple.md) and
 * `linkAccountsByEmail`, which only applies to it.
 */
import * as z from 'zod'
import { UpstreamSchema } from './upstream-schema.js'

/** The callback path every `upstream` member has unless it names another. */
const DEFAULT_REDIRECT_PATH = '/auth/callback'

/**
 * One identity provider of several (`upstreams`, docs/providers/multiple.md): its id (in the
 * chooser form, the callback path and the subjects' prefix), the label on its button, and its
 * `upstream` member as a single `upstream` would be written. Its callback is
 * `/auth/callback/<id>` unless `upstream.redirectPath` names another path.
 */
export const UpstreamsEntrySchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'use 1-32 lower-case letters, digits, _ or -'),
    /** The chooser's button: "Continue with <label>" (default: the id). */
    label: z.string().min(1).max(64).optional(),
    /** Put before the IdP's `sub` to make the user's subject (default `<id>|`). */
    subjectPrefix: z.string().max(64).optional(),
    /**
     * The IdP's `email_verified: true` proves the address belongs to the user (it owns the
     * domain or checks addresses): only such IdPs take part in `linkAccountsByEmail`.
     */
    emailAuthoritative: z.boolean().default(false),
    upstream: UpstreamSchema,
  })
  .transform((e) => ({
    ...e,
    label: e.label ?? e.id,
    subjectPrefix: e.subjectPrefix ?? `${e.id}|`,
    upstream:
      e.upstream.redirectPath === DEFAULT_REDIRECT_PATH
        ? { ...e.upstream, redirectPath: `${DEFAULT_REDIRECT_PATH}/${e.id}` }
        : e.upstream,
  }))

/** The subject prefix of users linked by verified email (`linkAccountsByEmail`). */
export const LINKED_SUBJECT_PREFIX = 'email|'

/**
 * `upstreams`: not beside `upstream`; ids, callback paths and subject prefixes distinct (no prefix
 * may start another, or two IdPs' users could share a subject); client secrets where needed.
 */
export function checkUpstreams(
  c: {
    upstream?: unknown
    upstreams?: z.output<typeof UpstreamsEntrySchema>[] | undefined
    linkAccountsByEmail: boolean
  },
  ctx: z.RefinementCtx,
): void {
  const list = c.upstreams
  if (list === undefined) {
    if (c.linkAccountsByEmail) {
      ctx.addIssue({ code: 'custom', path: ['linkAccountsByEmail'], message: 'needs upstreams' })
    }
    return
  }
  if (c.upstream !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['upstreams'],
      message: 'give upstream (one identity provider) or upstreams (several), not both',
    })
  }
  const ids = new Set<string>()
  const paths = new Set<string>()
  const prefixes: { prefix: string; at: number | 'linked' }[] = c.linkAccountsByEmail
    ? [{ prefix: LINKED_SUBJECT_PREFIX, at: 'linked' }]
    : []
  list.forEach((e, i) => {
    // Refinements also run when an entry failed its own schema: skip what is not well-formed.
    if (typeof e.upstream !== 'object' || typeof e.subjectPrefix !== 'string') return
    if (ids.has(e.id)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'id'],
        message: `duplicate id "${e.id}"`,
      })
    }
    ids.add(e.id)
    if (paths.has(e.upstream.redirectPath)) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'upstream', 'redirectPath'],
        message: `${e.upstream.redirectPath} is another identity provider's callback`,
      })
    }
    paths.add(e.upstream.redirectPath)
    for (const other of prefixes) {
      if (other.prefix.startsWith(e.subjectPrefix) || e.subjectPrefix.startsWith(other.prefix)) {
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', i, 'subjectPrefix'],
          message:
            other.at === 'linked'
              ? `"${e.subjectPrefix}" overlaps "${LINKED_SUBJECT_PREFIX}", the prefix of linked accounts`
              : `"${e.subjectPrefix}" overlaps upstreams.${String(other.at)}.subjectPrefix`,
        })
      }
    }
    prefixes.push({ prefix: e.subjectPrefix, at: i })
    const up = e.upstream
    if (
      up.tokenEndpointAuthMethod !== 'none' &&
      up.clientSecret === undefined &&
      !(up.kind === 'azure' && up.clientCertificate !== undefined)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['upstreams', i, 'upstream', 'clientSecret'],
        message: `is required for ${up.tokenEndpointAuthMethod}`,
      })
    }
  })
}
