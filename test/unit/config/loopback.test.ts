/**
 * One answer to "is this host loopback": `localhost` and names under it (RFC 6761 §6.3), 127/8 and
 * [::1]. Configuration, redirect-URI rules and the guarded fetch's `classifyHost` agree.
 */
import { describe, expect, it } from 'vitest'
import { resolveConfig } from '../../../src/config/schema.js'
import { isLoopbackHost } from '../../../src/config/urls.js'
import { classifyHost } from '../../../src/index.js'

const loopback = [
  'localhost',
  'LOCALHOST',
  'localhost.',
  'app.localhost',
  'a.b.localhost',
  '127.0.0.1',
  '127.255.0.9',
  '[::1]',
]
const notLoopback = [
  'localhost.example.com',
  'notlocalhost',
  'localhostx',
  'example.com',
  '128.0.0.1',
  '10.0.0.1',
  '[::2]',
]

describe('isLoopbackHost', () => {
  it('names under localhost are loopback (RFC 6761), look-alikes are not', () => {
    for (const host of loopback) expect([host, isLoopbackHost(host)]).toEqual([host, true])
    for (const host of notLoopback) expect([host, isLoopbackHost(host)]).toEqual([host, false])
  })

  it('agrees with the guarded fetch classifyHost on every case', () => {
    for (const host of [...loopback, ...notLoopback]) {
      expect([host, isLoopbackHost(host)]).toEqual([host, classifyHost(host) === 'loopback'])
    }
  })

  it('configuration allows an http issuer on a *.localhost name, not on a look-alike', () => {
    const base = { resources: [{ url: 'https://api.example/mcp' }], secret: 's'.repeat(40) }
    expect(resolveConfig({ ...base, issuer: 'http://gw.localhost:8080' }).issuer).toBe(
      'http://gw.localhost:8080',
    )
    expect(() => resolveConfig({ ...base, issuer: 'http://localhost.example.com' })).toThrow(
      /http is allowed on loopback only/,
    )
  })
})
