import { describe, expect, it } from 'vitest'
import { decodeBase64URL, encodeBase64URL } from '../../../src/jwt/base64url.js'
import { normalizeMediaType, parseJWS } from '../../../src/jwt/jws.js'
import { JWTError } from '../../../src/jwt/jwt-error.js'
import { b64url, joinToken } from '../../helpers/jwt-fixtures.js'

const options = { algorithms: new Set(['RS256', 'ES256']) }
const header = { alg: 'RS256', kid: 'k1' }
const payload = { iss: 'https://idp.test', exp: 1 }
const signature = new Uint8Array([1, 2, 3, 4, 5])

function reasonOf(token: string, opts: Parameters<typeof parseJWS>[1] = options): string {
  try {
    parseJWS(token, opts)
  } catch (error) {
    if (error instanceof JWTError) return error.reason
    throw error
  }
  return 'accepted'
}

describe('base64url', () => {
  it('round-trips every length and byte value', () => {
    for (let length = 0; length < 40; length++) {
      const bytes = new Uint8Array(length).map((_, i) => (i * 37 + length) & 255)
      const encoded = encodeBase64URL(bytes)
      expect(encoded).toBe(Buffer.from(bytes).toString('base64url'))
      expect(decodeBase64URL(encoded)).toEqual(bytes)
    }
  })

  it('refuses padding, the standard alphabet, whitespace, non-ASCII and impossible lengths', () => {
    for (const bad of ['QQ==', 'a+b/', 'QUJD RA', 'QUJ\u00e9', 'QUJDR', 'QUJD\n']) {
      expect(decodeBase64URL(bad)).toBeUndefined()
    }
  })

  it('refuses non-canonical trailing bits', () => {
    expect(decodeBase64URL('QQ')).toEqual(new Uint8Array([65]))
    expect(decodeBase64URL('QR')).toBeUndefined()
    expect(decodeBase64URL('QUI')).toEqual(new Uint8Array([65, 66]))
    expect(decodeBase64URL('QUJ')).toBeUndefined()
  })
})

describe('parseJWS', () => {
  it('splits a compact JWS into header, payload, signing input and signature', () => {
    const token = joinToken(header, payload, signature)
    const parsed = parseJWS(token, options)
    expect(parsed.header).toEqual(header)
    expect(parsed.payload).toEqual(payload)
    expect(new TextDecoder().decode(parsed.signingInput)).toBe(
      token.slice(0, token.lastIndexOf('.')),
    )
    expect(parsed.signature).toEqual(signature)
  })

  it('decodes UTF-8 claims', () => {
    const token = joinToken(header, { name: 'Zoë 東京' }, signature)
    expect(parseJWS(token, options).payload).toEqual({ name: 'Zoë 東京' })
  })

  it('refuses a token over the size cap before decoding it', () => {
    const token = joinToken(header, payload, signature)
    expect(reasonOf(token, { ...options, maxTokenBytes: token.length - 1 })).toBe('token_too_large')
    expect(reasonOf('x'.repeat(20_000))).toBe('token_too_large')
  })

  it('refuses anything but three non-empty segments', () => {
    const token = joinToken(header, payload, signature)
    expect(reasonOf(token.split('.').slice(0, 2).join('.'))).toBe('malformed')
    expect(reasonOf(`${token}.x`)).toBe('malformed')
    expect(reasonOf(`${token}.x.y`)).toBe('jwe_unsupported')
    expect(reasonOf(`.${token.split('.')[1]!}.x`)).toBe('malformed')
    expect(reasonOf(`${token.slice(0, token.lastIndexOf('.'))}.`)).toBe('malformed')
    expect(reasonOf('')).toBe('malformed')
  })

  it('refuses invalid UTF-8, a BOM, and JSON that is not an object', () => {
    const bad = (p: string | Uint8Array) => `${b64url(JSON.stringify(header))}.${b64url(p)}.AQID`
    expect(reasonOf(bad(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe('malformed')
    expect(reasonOf(bad('\ufeff{"a":1}'))).toBe('malformed')
    expect(reasonOf(bad('[1,2]'))).toBe('malformed')
    expect(reasonOf(bad('null'))).toBe('malformed')
    expect(reasonOf(bad('"str"'))).toBe('malformed')
    expect(reasonOf(bad('{"a":1'))).toBe('malformed')
  })

  it('refuses duplicate member names at any depth and in the header', () => {
    expect(reasonOf(joinToken(header, '{"a":1,"a":2}', signature))).toBe('duplicate_member')
    expect(reasonOf(joinToken(header, '{"a":1,"\\u0061":2}', signature))).toBe('duplicate_member')
    expect(reasonOf(joinToken(header, '{"o":{"x":1,"x":1}}', signature))).toBe('duplicate_member')
    expect(reasonOf(joinToken(header, '{"l":[{"x":1,"x":2}]}', signature))).toBe('duplicate_member')
    expect(reasonOf(joinToken('{"alg":"RS256","alg":"ES256"}', payload, signature))).toBe(
      'duplicate_member',
    )
  })

  it('does not mistake colons, quotes and escapes inside strings for members', () => {
    const text = '{"u":"https://a:b@c:8080/x\\":y","q":"\\\\","n":{"k":"v:w"}}'
    expect(parseJWS(joinToken(header, text, signature), options).payload).toEqual(JSON.parse(text))
  })

  it('enforces the algorithm allow-list and never accepts none', () => {
    expect(reasonOf(joinToken({ alg: 'PS256' }, payload, signature))).toBe('alg_not_allowed')
    const withNone = { algorithms: new Set(['none', 'RS256']) }
    expect(reasonOf(joinToken({ alg: 'none' }, payload, signature), withNone)).toBe(
      'alg_not_allowed',
    )
    expect(reasonOf(joinToken({ alg: 1 }, payload, signature))).toBe('malformed')
    expect(reasonOf(joinToken({}, payload, signature))).toBe('malformed')
  })

  it('refuses crit, b64 false, JWE members, nested JWTs and non-string kid or typ', () => {
    const reason = (h: object) => reasonOf(joinToken({ ...header, ...h }, payload, signature))
    expect(reason({ crit: [] })).toBe('crit_unsupported')
    expect(reason({ crit: ['exp'] })).toBe('crit_unsupported')
    expect(reason({ b64: false })).toBe('b64_unsupported')
    expect(reason({ enc: 'A256GCM' })).toBe('jwe_unsupported')
    expect(reason({ zip: 'DEF' })).toBe('jwe_unsupported')
    expect(reason({ cty: 'JWT' })).toBe('nested_jwt_unsupported')
    expect(reason({ cty: 'application/jwt' })).toBe('nested_jwt_unsupported')
    expect(reason({ kid: 5 })).toBe('malformed')
    expect(reason({ typ: ['at+jwt'] })).toBe('malformed')
    expect(reason({ b64: true, cty: 'json' })).toBe('accepted')
  })

  it('keeps header members that point at keys as inert data', () => {
    const h = { ...header, jku: 'http://127.0.0.1:9/jwks', x5u: 'http://169.254.169.254/' }
    expect(parseJWS(joinToken(h, payload, signature), options).header).toEqual(h)
  })

  it('serves a repeated header from its cache with the same policy checks', () => {
    const token = joinToken(header, payload, signature)
    parseJWS(token, options)
    expect(parseJWS(token, options).header).toEqual(header)
    expect(reasonOf(token, { algorithms: new Set(['ES256']) })).toBe('alg_not_allowed')
  })
})

describe('normalizeMediaType', () => {
  it('lower-cases and drops an application/ prefix', () => {
    expect(normalizeMediaType('application/AT+JWT')).toBe('at+jwt')
    expect(normalizeMediaType('at+jwt')).toBe('at+jwt')
  })
})
