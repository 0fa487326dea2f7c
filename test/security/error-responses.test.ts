/**
 * Every error response goes through one serialiser (`errorResponse` in src/errors.ts): the router's
 * 404 and 405 and the guard's bearer challenge have the same JSON body shape and the same
 * never-cache headers as the endpoints' OAuth errors.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { createTestGatehouse, form, type TestGatehouse } from '../helpers/gatehouse.js'

function expectSerialised(res: Response): void {
  expect(res.headers.get('content-type')).toBe('application/json')
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(res.headers.get('pragma')).toBe('no-cache')
}

describe('one serialiser for error responses', () => {
  let t: TestGatehouse
  beforeEach(async () => {
    t = await createTestGatehouse()
  })

  it('an OAuth error from an endpoint (the reference shape)', async () => {
    const res = await t.call('/token', form({ grant_type: 'password' }))
    expect(res.status).toBe(401)
    expectSerialised(res)
    const body = await res.json()
    expect(Object.keys(body)).toEqual(['error', 'error_description'])
    expect(body.error).toBe('invalid_client')
  })

  it('the router 404: not_found, marked unhandled for adapters', async () => {
    const res = await t.call('/no-such-path')
    expect(res.status).toBe(404)
    expectSerialised(res)
    expect(res.headers.get('x-gatehouse-unhandled')).toBe('1')
    expect(await res.json()).toEqual({ error: 'not_found' })
  })

  it('the router 405: invalid_request with Allow', async () => {
    const res = await t.call('/token')
    expect(res.status).toBe(405)
    expectSerialised(res)
    expect(res.headers.get('allow')).toBe('POST')
    expect(await res.json()).toEqual({
      error: 'invalid_request',
      error_description: 'method not allowed',
    })
  })

  it('the bearer challenge: 401 with WWW-Authenticate, body without the reason', async () => {
    const res = await t.mcp()
    expect(res.status).toBe(401)
    expectSerialised(res)
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="/)
    expect(res.headers.get('access-control-expose-headers')).toBe('WWW-Authenticate, DPoP-Nonce')
    expect(await res.json()).toEqual({
      error: 'invalid_token',
      error_description: 'authorization required',
    })
    const bad = await t.mcp({ headers: { authorization: 'Bearer not-a-token' } })
    expect(bad.status).toBe(401)
    expectSerialised(bad)
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"')
  })
})
