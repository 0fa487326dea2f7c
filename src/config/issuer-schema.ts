/**
 * The rules for `issuer` beyond being an absolute URL: https (http on loopback only, unless
 * `dangerouslyAllowInsecureIssuer`), no query or fragment.
 */
import type * as z from 'zod'
import { isLoopbackHost, parseURL } from './urls.js'

export function checkIssuer(
  c: { issuer: string; dangerouslyAllowInsecureIssuer: boolean },
  ctx: z.RefinementCtx,
): void {
  const issuer = parseURL(c.issuer)
  if (issuer) {
    const loopback = isLoopbackHost(issuer.hostname)
    if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && loopback)) {
      if (!c.dangerouslyAllowInsecureIssuer) {
        ctx.addIssue({
          code: 'custom',
          path: ['issuer'],
          message: 'must be https (http is allowed on loopback only)',
        })
      }
    }
    if (issuer.search || issuer.hash || c.issuer.includes('?') || c.issuer.includes('#')) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'must have no query or fragment',
      })
    }
  }
}
