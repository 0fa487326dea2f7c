/**
 * Answers of an identity provider are read at most 1 MiB: a partner IdP that answers the token
 * endpoint (or its discovery document) with 32 MiB fails the call as an upstream failure, and
 * Gatehouse stops reading long before the end (the server sees its writes stall).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UpstreamError } from '../../src/errors.js'
import { discoverOIDC } from '../../src/upstream/oidc-discovery.js'
import { UpstreamClient } from '../../src/upstream/upstream-client.js'

const MiB = 1024 * 1024
const HUGE = 32 * MiB
/**
 * What the server may have handed to its socket when the client hangs up: the 1 MiB Gatehouse
 * reads plus what loopback's kernel buffers take without anyone reading (about 2.7 MiB on the
 * test machines, tuned by the kernel), with room to spare; far below the 32 MiB answer.
 */
const READ_AT_MOST = 8 * MiB

/**
 * A server answering every request with `prefix`, 32 MiB of `a` in 64 KiB chunks, then `suffix`,
 * writing only as fast as the client reads, and counting the bytes handed to the socket.
 */
function startHugeAnswerServer(prefix: string, suffix: string) {
  const state = { sent: 0, closed: Promise.resolve() }
  const server: Server = createServer((req, res) => {
    req.resume()
    state.sent = 0
    state.closed = new Promise((resolve) => res.once('close', resolve))
    res.writeHead(200, { 'content-type': 'application/json' })
    const chunk = Buffer.alloc(64 * 1024, 'a')
    let left = HUGE
    const write = (): void => {
      if (state.sent === 0) {
        res.write(prefix)
        state.sent += prefix.length
      }
      while (left > 0) {
        left -= chunk.length
        // Counted once handed to the socket; backpressure: wait for the client to read on.
        const ok = res.write(chunk, (error) => {
          if (!error) state.sent += chunk.length
        })
        if (!ok) {
          res.once('drain', write)
          return
        }
      }
      res.end(suffix)
    }
    res.on('close', () => {
      left = 0
    })
    write()
  })
  return { server, state }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`
}

describe('IdP answers over the size cap', () => {
  const token = startHugeAnswerServer('{"token_type":"bearer","access_token":"', '"}')
  let base: string
  beforeAll(async () => {
    base = await listen(token.server)
  })
  afterAll(() => {
    token.server.closeAllConnections()
    token.server.close()
  })

  it('fails a code exchange whose token answer is 32 MiB, having read only a few MiB', async () => {
    token.state.sent = 0
    const client = new UpstreamClient({
      issuer: base,
      authorizationEndpoint: `${base}/authorize`,
      tokenEndpoint: `${base}/token`,
      clientId: 'c',
      clientSecret: 's',
      tokenEndpointAuthMethod: 'client_secret_basic',
      openid: false,
      extraAuthorizeParams: {},
      extraTokenParams: {},
      allowInsecureRequests: true,
      timeoutMs: 20_000,
    })
    const exchange = client.exchangeCode({
      callback: new URLSearchParams({ code: 'x', state: 'st' }),
      expectedState: 'st',
      redirectUri: 'http://127.0.0.1/cb',
      codeVerifier: 'v'.repeat(43),
    })
    const error: unknown = await exchange.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UpstreamError)
    expect((error as UpstreamError).code).toBe('ERR_UPSTREAM_RESPONSE')
    await token.state.closed // the client hung up: nothing more can be sent
    expect(token.state.sent).toBeLessThan(READ_AT_MOST)
  })

  it('fails discovery whose document is 32 MiB, having read only a few MiB', async () => {
    token.state.sent = 0
    const error: unknown = await discoverOIDC(`${base}/.well-known/openid-configuration`, {
      strict: true,
      timeoutMs: 20_000,
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UpstreamError)
    await token.state.closed // the client hung up: nothing more can be sent
    expect(token.state.sent).toBeLessThan(READ_AT_MOST)
  })
})
