/**
 * The `/admin` page over HTTP (the browser flows are in test/e2e/admin-page*.test.ts): the
 * operator-token sign-in's failure limit is consulted before the token is compared, so once ten
 * wrong tokens were tried from an address, even the right one is refused with 429 and
 * `Retry-After` until the window ends.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { AuditEvent } from '../../src/ops/audit-event.js'
import { createTestGatehouse, ISSUER, type TestGatehouse } from '../helpers/gatehouse.js'

const OPERATOR_TOKEN = 'operator-token-'.padEnd(48, 'o')

describe('the /admin operator-token sign-in', () => {
  let t: TestGatehouse | undefined
  afterEach(async () => {
    await t?.gh.close()
    t = undefined
  })

  /** A fresh sign-in form: its cookie and CSRF token, as a browser would hold them. */
  async function signInForm(gh: TestGatehouse) {
    const res = await gh.call('/admin')
    expect(res.status).toBe(200)
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!
    const csrf = /name="csrf" value="([^"]+)"/.exec(await res.text())?.[1]
    expect(csrf).toBeDefined()
    return { cookie, csrf: csrf! }
  }

  const signIn = (gh: TestGatehouse, session: { cookie: string; csrf: string }, token: string) =>
    gh.call('/admin', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: session.cookie,
        'sec-fetch-site': 'same-origin',
        origin: ISSUER,
      },
      body: new URLSearchParams({ csrf: session.csrf, action: 'sign-in', token }).toString(),
    })

  it('refuses even the right token with 429 after ten failures, until the window passes', async () => {
    const audit: AuditEvent[] = []
    t = await createTestGatehouse({
      config: { admin: { enabled: true, token: OPERATOR_TOKEN } },
      options: { audit: (e) => audit.push(e) },
    })
    const session = await signInForm(t)
    for (let i = 0; i < 10; i++) {
      const wrong = await signIn(t, session, `${OPERATOR_TOKEN}${String(i)}`)
      expect(wrong.status).toBe(401)
    }
    const right = await signIn(t, session, OPERATOR_TOKEN)
    expect(right.status).toBe(429)
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(right.headers.get('set-cookie')).toBeNull()
    expect(right.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await right.text()).toContain('Too many failed sign-ins')
    expect(audit.filter((e) => e.reason === 'rate_limited')).toHaveLength(1)
    expect(audit.some((e) => e.action === 'admin.sign_in' && e.outcome === 'success')).toBe(false)

    // Still refused just before the minute is over, accepted once it is.
    t.clock.advance(59)
    expect((await signIn(t, session, OPERATOR_TOKEN)).status).toBe(429)
    t.clock.advance(1)
    const later = await signIn(t, await signInForm(t), OPERATOR_TOKEN)
    expect(later.status).toBe(303)
    expect(later.headers.get('set-cookie')).toMatch(/^__Host-gh-admin=/)
  })

  it('a right token within the limit signs in (nine failures do not lock it)', async () => {
    t = await createTestGatehouse({ config: { admin: { enabled: true, token: OPERATOR_TOKEN } } })
    const session = await signInForm(t)
    for (let i = 0; i < 9; i++) expect((await signIn(t, session, 'nope')).status).toBe(401)
    expect((await signIn(t, session, OPERATOR_TOKEN)).status).toBe(303)
  })
})
