/**
 * `timingSafeEqual`, which every CSRF token, state, cookie MAC and client secret comparison goes
 * through: equal only for two equal non-empty strings. A signed cookie that lacks the member a
 * check reads (`undefined`, which encodes to no bytes) must not match an empty form field.
 */
import { describe, expect, it } from 'vitest'
import { timingSafeEqual } from '../../src/http/random.js'

describe('timingSafeEqual', () => {
  it('is true for equal strings only', () => {
    expect(timingSafeEqual('csrf-token', 'csrf-token')).toBe(true)
    expect(timingSafeEqual('csrf-token', 'csrf-tokeN')).toBe(false)
    expect(timingSafeEqual('csrf-token', 'csrf-token!')).toBe(false)
    expect(timingSafeEqual('é', 'e\u0301')).toBe(false)
  })

  it('is false for a missing value or two empty ones', () => {
    const missing = undefined as unknown as string
    expect(timingSafeEqual(missing, '')).toBe(false)
    expect(timingSafeEqual('', missing)).toBe(false)
    expect(timingSafeEqual('', '')).toBe(false)
    expect(timingSafeEqual(missing, missing)).toBe(false)
  })
})
