/**
 * A request the stdio bridge cannot write to its process (`JSON.stringify` runs out of stack on a
 * message nested 20,000 deep) is answered at once and leaves nothing in flight: its id is free
 * again, and the process is never told to cancel a request it did not get. The gateway refuses
 * such bodies before the bridge (messages.ts `MAX_DEPTH`); this holds without that check. The
 * process is a line-JSON script that answers every request and reports each method on stderr.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { RPCMessage } from '../../src/gateway/messages.js'
import { Bridge, type BridgeSession } from '../../src/gateway/stdio-bridge.js'
import type { StdioConfig } from '../../src/gateway/stdio-process.js'

const SERVER = `
let buffered = ''
process.stdin.on('data', (chunk) => {
  buffered += chunk
  let at
  while ((at = buffered.indexOf('\\n')) >= 0) {
    const msg = JSON.parse(buffered.slice(0, at))
    buffered = buffered.slice(at + 1)
    process.stderr.write('got ' + msg.method + '\\n')
    if (msg.id !== undefined && msg.method !== undefined) {
      process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: {} }) + '\\n')
    }
  }
})
`

const config = {
  kind: 'stdio',
  command: process.execPath,
  args: ['-e', SERVER],
  inheritEnv: [],
  env: {},
  mode: 'shared',
  maxMessageBytes: 4_194_304,
  timeoutSeconds: 1,
  maxTimeoutSeconds: 5,
} as unknown as StdioConfig

let bridge: Bridge | undefined

afterEach(async () => {
  await bridge?.stop()
})

/** A message whose `arguments` hold arrays nested `depth` deep. */
function deepCall(id: number, depth: number): RPCMessage {
  let deep: unknown = []
  for (let i = 0; i < depth; i++) deep = [deep]
  return { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { deep } } }
}

describe('the stdio bridge and a request it cannot write', () => {
  it('answers it at once, keeps no call in flight and never cancels it at the process', async () => {
    const log: string[] = []
    const answers: RPCMessage[] = []
    bridge = new Bridge(
      config,
      { env: { PATH: process.env.PATH ?? '' }, log: (m) => log.push(m) },
      { restart: false, stopWhenEmpty: false, extraEnv: {} },
      () => undefined,
    )
    const session: BridgeSession = {
      transport: {
        send: (m) => answers.push(m),
        forget: () => undefined,
        close: () => Promise.resolve(),
      },
      rewrites: new Map(),
    }
    bridge.attach(session)

    expect(() => {
      bridge!.fromClient(session, deepCall(5, 20_000))
    }).not.toThrow()
    expect(answers).toEqual([
      { jsonrpc: '2.0', id: 5, error: { code: -32600, message: expect.any(String) as string } },
    ])
    expect(bridge.busy).toBe(false)

    // The id is free, and the process answers a call under it.
    bridge.fromClient(session, { jsonrpc: '2.0', id: 5, method: 'ping' })
    await expect.poll(() => answers.length, { timeout: 5000 }).toBe(2)
    expect(answers[1]).toEqual({ jsonrpc: '2.0', id: 5, result: {} })

    // Past the 1 s deadline, the process has been told of no cancellation.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(log.join('\n')).toContain('got ping')
    expect(log.join('\n')).not.toContain('notifications/cancelled')
    expect(log.join('\n')).not.toContain('got tools/call')
  }, 15_000)
})
