/**
 * `gatehouse dev` as a user runs it: the MCP SDK client signs in through the embedded identity
 * provider's real login page and calls the demo tools; the CLI prints the MCP URL and stops cleanly.
 */
import { mkdtemp } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { describe, expect, it } from 'vitest'
import { BrowserlessClientProvider } from '../helpers/sdk-client.js'
import { startDev } from '../../src/cli/dev.js'
import { main } from '../../src/cli/main.js'

const CALLBACK = 'http://127.0.0.1:3999/callback'

/** An SDK auth provider whose "browser" consents and signs in at the dev IdP's login page. */

describe('gatehouse dev', () => {
  it('lets the MCP SDK client sign in through consent and the IdP login, call tools, refresh, and be cut off by revocation', async () => {
    const dev = await startDev({
      port: 0,
      dataDir: '',
      memory: true,
      user: 'ada',
      password: 'lovelace',
    })
    try {
      const provider = new BrowserlessClientProvider({
        redirectUrl: CALLBACK,
        clientName: 'dev e2e',
        user: { username: 'ada', password: 'lovelace' },
      })
      const client = new Client({ name: 'e2e', version: '1.0.0' })
      const first = new StreamableHTTPClientTransport(new URL(dev.mcpUrl), {
        authProvider: provider,
      })
      await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError)
      expect(provider.code).toBeTypeOf('string')
      await first.finishAuth(provider.code!)
      await client.connect(
        new StreamableHTTPClientTransport(new URL(dev.mcpUrl), { authProvider: provider }),
      )
      const tools = await client.listTools()
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['echo', 'whoami'])
      const who = await client.callTool({ name: 'whoami', arguments: {} })
      const body = JSON.parse((who.content as { text: string }[])[0]!.text)
      expect(body).toMatchObject({
        subject: 'ada',
        issuer: dev.issuer,
        scopes: ['mcp:read', 'mcp:write'],
      })
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'hi' } })
      expect((echo.content as { text: string }[])[0]!.text).toBe('hi')
      await client.close()

      // Refresh: with its access token gone bad, the SDK refreshes at Gatehouse on the next 401.
      const before = provider.saved!
      provider.saved = { ...before, access_token: 'expired.invalid.token' }
      const again = new Client({ name: 'e2e', version: '1.0.0' })
      await again.connect(
        new StreamableHTTPClientTransport(new URL(dev.mcpUrl), { authProvider: provider }),
      )
      expect(provider.saved.refresh_token).not.toBe(before.refresh_token)
      await again.callTool({ name: 'whoami', arguments: {} })
      await again.close()

      // Revocation: the grant ends and the same access token gets 401 (here at once: one instance).
      const revoke = await fetch(`${dev.issuer}/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: provider.saved.refresh_token!,
          client_id: (provider.info as { client_id: string }).client_id,
        }),
      })
      expect(revoke.status).toBe(200)
      const after = await fetch(dev.mcpUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${provider.saved.access_token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      })
      expect(after.status).toBe(401)
      expect(after.headers.get('www-authenticate')).toContain('error="invalid_token"')
    } finally {
      await dev.close()
    }
  })

  it('keeps its data across a restart when given a data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gh-dev-'))
    const first = await startDev({ port: 0, dataDir, memory: false, user: 'dev', password: 'dev' })
    const kid = first.gatehouse.keys.current().kid
    await first.close()
    const second = await startDev({ port: 0, dataDir, memory: false, user: 'dev', password: 'dev' })
    expect(second.gatehouse.keys.current().kid).toBe(kid)
    await second.close()
  })

  it('prints the MCP URL, listens on 127.0.0.1, refuses foreign Host headers (HT-13) and stops cleanly on SIGTERM', async () => {
    let text = ''
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream
    const running = main(['dev', '--port', '0', '--memory'], out, out)
    for (let i = 0; i < 100 && !text.includes('MCP URL'); i++)
      await new Promise((r) => setTimeout(r, 50))
    const mcpUrl = /MCP URL\s+(\S+)/.exec(text)?.[1]
    expect(mcpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/)
    const res = await fetch(mcpUrl!, { method: 'POST' })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toContain('resource_metadata=')
    // HT-13: a loopback deployment refuses foreign Host values (DNS rebinding).
    const port = Number(new URL(mcpUrl!).port)
    const status = await new Promise<number>((done, fail) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/.well-known/oauth-authorization-server',
          headers: { host: 'evil.test' },
        },
        (res) => {
          res.resume()
          done(res.statusCode ?? 0)
        },
      )
      req.on('error', fail)
      req.end()
    })
    expect(status).toBe(421)
    process.emit('SIGTERM')
    expect(await running).toBe(0)
    expect(text).toContain('stopped')
  })

  it('explains every flag in --help and refuses a bad port', async () => {
    let text = ''
    const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream
    expect(await main(['dev', '--help'], out, out)).toBe(0)
    for (const flag of [
      '--port',
      '--data-dir',
      '--memory',
      'GATEHOUSE_DEV_USER',
      'GATEHOUSE_DEV_PASSWORD',
    ])
      expect(text).toContain(flag)
    expect(await main(['dev', '--port', 'abc'], out, out)).toBe(2)
  })
})
