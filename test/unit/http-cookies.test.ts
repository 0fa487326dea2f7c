/**
 * The cookie signer behind the consent page, the chooser, the browser binding and `/admin`: a
 * value reads back only under the purpose it was signed for, with the secret it was signed with,
 * and unaltered.
 */
import { describe, expect, it } from 'vitest'
import { createCookieSigner } from '../../src/http/cookies.js'

const SECRET = 'a-secret-of-at-least-thirty-two-characters!'

describe('createCookieSigner', () => {
  it('reads a value back under its own purpose', async () => {
    const cookies = await createCookieSigner(SECRET)
    const value = await cookies.sign('consent-csrf', { txn: 't1', csrf: 'c1' })
    expect(await cookies.verify('consent-csrf', value)).toEqual({ txn: 't1', csrf: 'c1' })
  })

  it('reads a value signed for another purpose as absent', async () => {
    const cookies = await createCookieSigner(SECRET)
    const chooser = await cookies.sign('chooser-csrf', { txn: 't1', csrf: 'c1' })
    expect(await cookies.verify('consent-csrf', chooser)).toBeUndefined()
    expect(await cookies.verify('gh-admin', chooser)).toBeUndefined()
    // A purpose that ends where another begins does not shift the boundary.
    const split = await cookies.sign('a', { x: 1 })
    expect(await cookies.verify('a.', split)).toBeUndefined()
  })

  it('reads a tampered, truncated or foreign value as absent', async () => {
    const cookies = await createCookieSigner(SECRET)
    const value = await cookies.sign('gh-binding', { txn: 't1', nonce: 'n1' })
    const [body, mac] = value.split('.') as [string, string]
    const other = Buffer.from(JSON.stringify({ txn: 't2', nonce: 'n1' })).toString('base64url')
    expect(await cookies.verify('gh-binding', `${other}.${mac}`)).toBeUndefined()
    expect(await cookies.verify('gh-binding', `${body}.${mac.slice(1)}`)).toBeUndefined()
    expect(await cookies.verify('gh-binding', body)).toBeUndefined()
    expect(await cookies.verify('gh-binding', `.${mac}`)).toBeUndefined()
    expect(await cookies.verify('gh-binding', undefined)).toBeUndefined()
    const elsewhere = await createCookieSigner(`${SECRET}-another`)
    expect(await elsewhere.verify('gh-binding', value)).toBeUndefined()
  })
})
