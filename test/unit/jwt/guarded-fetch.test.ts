import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UpstreamError } from '../../../src/errors.js'
import {
  classifyAddress,
  classifyHost,
  createGuardedFetch,
} from '../../../src/http/guarded-fetch.js'
import { startServer } from '../../helpers/jwt-fixtures.js'
import type { TestServer } from '../../helpers/jwt-fixtures.js'

let server: TestServer

beforeAll(async () => {
  server = await startServer((request, response) => {
    switch (request.url) {
      case '/json':
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end('{"ok":true}')
        return
      case '/redirect':
        response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' })
        response.end()
        return
      case '/big-declared':
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': '2000' })
        response.end('x'.repeat(2000))
        return
      case '/stream': {
        // No Content-Length: chunks keep coming until the client gives up.
        response.writeHead(200, { 'content-type': 'application/json' })
        const timer = setInterval(() => {
          response.write('x'.repeat(1024))
        }, 5)
        response.on('close', () => {
          clearInterval(timer)
        })
        return
      }
      case '/stall':
        response.writeHead(200, { 'content-type': 'application/json' })
        response.write('{')
        return // never ends
      case '/error':
        response.writeHead(500, { 'content-type': 'application/json' })
        response.end('{"error":"secret-123"}')
        return
      case '/html':
        response.writeHead(200, { 'content-type': 'text/html' })
        response.end('<html>secret-123</html>')
        return
      case '/echo':
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(
          JSON.stringify({ method: request.method, auth: request.headers.authorization }),
        )
        return
      case undefined:
      default:
        response.writeHead(404).end()
    }
  })
})

afterAll(() => server.close())

async function failureOf(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError)
    return error as UpstreamError
  }
  throw new Error('expected a failure')
}

describe('createGuardedFetch: what is refused before connecting', () => {
  const guarded = createGuardedFetch({ fetch: () => Promise.reject(new Error('must not fetch')) })

  it.each([
    'http://example.com/jwks',
    'ftp://example.com/jwks',
    'file:///etc/passwd',
    'gopher://example.com/',
    'data:application/json,{}',
    'not a url',
  ])('refuses %s', async (url) => {
    expect((await failureOf(guarded(url))).code).toBe('ERR_FETCH_BLOCKED')
  })

  it('refuses userinfo in the URL', async () => {
    const error = await failureOf(guarded('https://user:pass@example.com/jwks'))
    expect(error.code).toBe('ERR_FETCH_BLOCKED')
    expect(error.message).not.toContain('pass')
  })

  it.each([
    'https://127.0.0.1/',
    'https://127.1.2.3/',
    'https://2130706433/', // 127.0.0.1 as one decimal number
    'https://0x7f.1/',
    'https://0177.0.0.1/',
    'https://0x7f000001/',
    'https://localhost/',
    'https://api.localhost/',
    'https://10.0.0.1/',
    'https://172.16.5.4/',
    'https://192.168.1.1/',
    'https://169.254.169.254/latest/meta-data/',
    'https://100.64.0.1/',
    'https://0.0.0.0/',
    'https://0/',
    'https://224.0.0.1/',
    'https://255.255.255.255/',
    'https://[::1]/',
    'https://[::]/',
    'https://[fe80::1]/',
    'https://[fc00::1]/',
    'https://[fd12:3456::1]/',
    'https://[::ffff:127.0.0.1]/',
    'https://[::ffff:169.254.169.254]/',
    'https://[::ffff:8.8.8.8]/',
    'https://[64:ff9b::a00:1]/',
    'https://[ff02::1]/',
    'https://metadata.google.internal/computeMetadata/v1/',
    'https://printer.local/',
    'https://router.home.arpa/',
  ])('refuses the special-use host of %s', async (url) => {
    expect((await failureOf(guarded(url))).code).toBe('ERR_FETCH_BLOCKED')
  })

  it('classifies public literals and names as public', () => {
    expect(classifyHost('8.8.8.8')).toBe('public')
    expect(classifyHost('[2606:4700::1111]')).toBe('public')
    expect(classifyHost('[64:ff9b::808:808]')).toBe('public')
    expect(classifyHost('login.microsoftonline.com')).toBe('public')
    expect(classifyHost(new URL('https://0x7f.1/').hostname)).toBe('loopback')
  })

  it('allows private literals over https only with dangerouslyAllowPrivateNetwork', async () => {
    let fetched = ''
    const allowing = createGuardedFetch({
      dangerouslyAllowPrivateNetwork: true,
      fetch: (input) => {
        fetched = input as string
        return Promise.resolve(
          new Response('{}', { headers: { 'content-type': 'application/json' } }),
        )
      },
    })
    await allowing('https://10.1.2.3/jwks')
    expect(fetched).toBe('https://10.1.2.3/jwks')
    expect((await failureOf(allowing('http://10.1.2.3/jwks'))).code).toBe('ERR_FETCH_BLOCKED')
  })
})

describe('createGuardedFetch: talking to a server', () => {
  const local = createGuardedFetch({ allowHttpLoopback: true, timeoutMs: 500, maxBytes: 1024 })

  it('needs allowHttpLoopback for http to loopback', async () => {
    const strict = createGuardedFetch()
    expect((await failureOf(strict(`${server.url}/json`))).code).toBe('ERR_FETCH_BLOCKED')
    const response = await local(`${server.url}/json`)
    expect(response.status).toBe(200)
    expect(response.json()).toEqual({ ok: true })
  })

  it('does not extend allowHttpLoopback to other private hosts', async () => {
    expect((await failureOf(local('http://10.0.0.1/'))).code).toBe('ERR_FETCH_BLOCKED')
    expect((await failureOf(local('http://example.com/'))).code).toBe('ERR_FETCH_BLOCKED')
  })

  it('sends method, headers and body', async () => {
    const response = await local(`${server.url}/echo`, {
      method: 'POST',
      headers: { authorization: 'Basic abc' },
      body: 'a=1',
    })
    expect(response.json()).toEqual({ method: 'POST', auth: 'Basic abc' })
  })

  it('refuses a redirect instead of following it', async () => {
    const error = await failureOf(local(`${server.url}/redirect`))
    expect(error.code).toBe('ERR_UPSTREAM_RESPONSE')
    expect(error.message).not.toContain('169.254')
  })

  it('refuses a declared Content-Length over the cap', async () => {
    expect((await failureOf(local(`${server.url}/big-declared`))).code).toBe(
      'ERR_UPSTREAM_RESPONSE',
    )
  })

  it('stops reading a streamed body past the cap', async () => {
    const started = Date.now()
    const error = await failureOf(local(`${server.url}/stream`))
    expect(error.code).toBe('ERR_UPSTREAM_RESPONSE')
    expect(Date.now() - started).toBeLessThan(400)
  })

  it('times out on a stalling server', async () => {
    const quick = createGuardedFetch({ allowHttpLoopback: true, timeoutMs: 100 })
    const started = Date.now()
    const error = await failureOf(quick(`${server.url}/stall`))
    expect(error.code).toBe('ERR_UPSTREAM_TIMEOUT')
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('times out even when the injected fetch ignores the signal', async () => {
    const deaf = createGuardedFetch({
      timeoutMs: 50,
      fetch: () => new Promise<Response>(() => undefined),
    })
    expect((await failureOf(deaf('https://example.com/'))).code).toBe('ERR_UPSTREAM_TIMEOUT')
  })

  it('returns error statuses with their body but never puts the body in an error', async () => {
    const response = await local(`${server.url}/error`)
    expect(response.status).toBe(500)
    const html = await local(`${server.url}/html`)
    const error = (() => {
      try {
        html.json()
      } catch (e) {
        return e as UpstreamError
      }
      throw new Error('expected a failure')
    })()
    expect(error.code).toBe('ERR_UPSTREAM_RESPONSE')
    expect(error.message).not.toContain('secret-123')
  })

  it('maps a connection failure to ERR_UPSTREAM', async () => {
    const closed = await startServer(() => undefined)
    await closed.close()
    const error = await failureOf(local(`${closed.url}/json`))
    expect(error.code).toBe('ERR_UPSTREAM')
  })
})

describe('classifyAddress: resolver answers', () => {
  it('classifies resolved addresses by range, including mapped and odd spellings', () => {
    const cases: [string, string][] = [
      ['93.184.216.34', 'public'],
      ['2606:4700::1111', 'public'],
      ['127.0.0.1', 'loopback'],
      ['::1', 'loopback'],
      ['10.0.0.1', 'private'],
      ['169.254.169.254', 'private'],
      ['100.64.0.1', 'private'],
      ['fe80::1', 'private'],
      ['fc00::1', 'private'],
      ['0.0.0.0', 'special-use'],
      ['::ffff:127.0.0.1', 'special-use'],
      ['::ffff:7f00:1', 'special-use'],
      ['64:ff9b::a00:1', 'special-use'],
      ['64:ff9b:1::a00:1', 'special-use'],
      ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'special-use'],
      ['::ffff:0:a00:1', 'special-use'],
      ['2001:4860:4860::8888', 'public'],
      ['2130706433', 'loopback'],
      ['0x7f.1', 'loopback'],
      ['0177.0.0.1', 'loopback'],
    ]
    for (const [address, expected] of cases)
      expect(classifyAddress(address), address).toBe(expected)
  })

  it('treats anything that is not an IP address as special-use', () => {
    for (const answer of [
      '',
      'localhost',
      'example.com',
      'fe80::1%eth0',
      '1.2.3.4/8',
      '[::1]',
      ' ',
    ]) {
      expect(classifyAddress(answer), answer).toBe('special-use')
    }
  })
})
