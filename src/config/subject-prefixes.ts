/**
 * Subject namespaces across sections. Users who sign in through `upstreams` get subjects
 * `<upstreams[j].subjectPrefix><sub>`; subjects from external issuers become `<subjectPrefix>:<sub>`
 * (`identityAssertion` and `tokenExchange` trusted issuers). If an upstream prefix and such a
 * namespace overlap ("corp:" and "corp", or "" and anything), one side's user could be given the
 * other's subject and act as them. Refused at start-up, for either kind of external issuer.
 * (Prefixes within a section are checked there: external ones cannot contain ":", so two of them
 * overlap only when equal.)
 */
import type { z } from 'zod'

interface ExternalIssuers {
  trustedIssuers: readonly { subjectPrefix?: string | undefined }[]
}

const SECTIONS = [
  ['identityAssertion', 'ID-JAG users'],
  ['tokenExchange', 'token-exchange subjects'],
] as const

export function checkSubjectPrefixes(
  c: {
    upstreams?: readonly { subjectPrefix?: unknown }[] | undefined
    identityAssertion?: ExternalIssuers | undefined
    tokenExchange?: ExternalIssuers | undefined
  },
  ctx: z.RefinementCtx,
): void {
  for (const [section, who] of SECTIONS) {
    c[section]?.trustedIssuers.forEach((t, i) => {
      if (t.subjectPrefix === undefined) return
      const own = `${t.subjectPrefix}:`
      c.upstreams?.forEach((e, j) => {
        const other = e.subjectPrefix
        if (typeof other === 'string' && (other.startsWith(own) || own.startsWith(other))) {
          ctx.addIssue({
            code: 'custom',
            path: [section, 'trustedIssuers', i, 'subjectPrefix'],
            message: `"${own}" overlaps upstreams.${String(j)}.subjectPrefix "${other}": ${who} and that IdP's users would share subjects`,
          })
        }
      })
    })
  }
}
