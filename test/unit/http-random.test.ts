/**
 * `timingSafeEqual`, which every CSRF token, state, cookie MAC and client secret comparison goes
 * through: equal only for two equal non-empty strings. A signed cookie that lacks the member a
 * check reads (`undefined`, which encodes to no bytes) must not match an empty form field.
 *
 * `randomBytes`, which every code, grant id, refresh token, `jti` and stored value's IV comes from
 * (through a pool refilled 8 KiB at a time): what it hands out is fresh, random and never changes
 * after it is handed out, across refills.
 */
import { describe, expect, it } from 'vitest'
import { randomBytes, randomToken, timingSafeEqual } from '../../src/http/random.js'

describe('randomBytes', () => {
  it('never repeats a value, across several refills of the pool', () => {
    // 3,000 draws of 16 bytes are 48,000 bytes: the 8 KiB pool is refilled five times.
    const seen = new Set<string>()
    for (let i = 0; i < 3000; i++) seen.add(Buffer.from(randomBytes(16)).toString('hex'))
    expect(seen.size).toBe(3000)
  })

  it('hands out CSPRNG bytes, not the zeroes the pool leaves behind', () => {
    const bytes = new Uint8Array(40_000)
    for (let i = 0; i < 40_000; i += 40) bytes.set(randomBytes(40), i)
    const counts = new Array<number>(256).fill(0)
    for (const b of bytes) counts[b]! += 1
    // 40,000 uniform bytes: each value ~156 times; a zeroed share or a stuck byte is far outside.
    expect(Math.max(...counts)).toBeLessThan(260)
    expect(Math.min(...counts)).toBeGreaterThan(70)
  })

  it('gives each caller its own copy, which a later refill does not change', () => {
    const first = randomBytes(32)
    const kept = Buffer.from(first).toString('hex')
    expect(first.buffer.byteLength).toBe(32)
    for (let i = 0; i < 600; i++) randomBytes(32) // past two refills
    expect(Buffer.from(first).toString('hex')).toBe(kept)
    first.fill(0)
    expect(randomBytes(32).some((b) => b !== 0)).toBe(true)
  })

  it('gives any count, large ones drawn apart, and refuses what is not a count', () => {
    expect(randomBytes(0)).toHaveLength(0)
    expect(randomBytes(257)).toHaveLength(257)
    expect(randomBytes(65_536)).toHaveLength(65_536)
    expect(() => randomBytes(-1)).toThrow(RangeError)
    expect(() => randomBytes(1.5)).toThrow(RangeError)
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(randomToken(16)).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })
})

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
