// The upstream of the gateway bench: one MCP server (the official SDK 1.x), served the way an
// operator would run it, so the gateway is compared with the same server reached directly.
//   node bench/mcp-echo-server.mjs stdio              newline-delimited JSON-RPC on stdin/stdout
//   node bench/mcp-echo-server.mjs http-stateless     Streamable HTTP, no sessions, JSON answers
//   node bench/mcp-echo-server.mjs http-stateful      Streamable HTTP with sessions, JSON answers
//   node bench/mcp-echo-server.mjs http-sse           Streamable HTTP, no sessions, SSE answers
// The HTTP modes print one JSON line { url } and serve until SIGTERM.
// Tools: `echo` ({ message }) answers at once; `stream` ({ count }) sends `count` log notifications,
// each carrying its wall-clock send time in ms (`performance.timeOrigin + performance.now()`), then
// answers: the bench measures how much later each one reaches the client.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'

const now = () => performance.timeOrigin + performance.now()

function mcpServer() {
  const server = new McpServer(
    { name: 'bench-echo', version: '1.0.0' },
    { capabilities: { logging: {} } },
  )
  server.registerTool(
    'echo',
    { description: 'echoes its message', inputSchema: { message: z.string() } },
    async ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  )
  server.registerTool(
    'stream',
    { description: 'sends count timestamped notifications', inputSchema: { count: z.number() } },
    async ({ count }, extra) => {
      for (let i = 0; i < count; i++) {
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', data: { i, sentAt: now() } },
        })
        // One event per tick, as a server doing work between them would send them.
        await new Promise((done) => setImmediate(done))
      }
      return { content: [{ type: 'text', text: `sent ${count}` }] }
    },
  )
  return server
}

async function readBody(req) {
  const chunks = []
  for await (const c of req) chunks.push(c)
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined
}

async function serveHTTP(mode) {
  const sessions = new Map()
  const http = createServer(async (req, res) => {
    try {
      const body = req.method === 'POST' ? await readBody(req) : undefined
      if (mode === 'http-stateful') {
        const sid = req.headers['mcp-session-id']
        let transport = typeof sid === 'string' ? sessions.get(sid) : undefined
        if (!transport) {
          if (sid !== undefined || body?.method !== 'initialize') {
            res.writeHead(404).end()
            return
          }
          transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: randomUUID,
            enableJsonResponse: true,
            onsessioninitialized: (id) => sessions.set(id, transport),
          })
          transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId)
          await mcpServer().connect(transport)
        }
        await transport.handleRequest(req, res, body)
        return
      }
      // Stateless: a server and transport per request, as the SDK's stateless example does.
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: mode === 'http-stateless',
      })
      const server = mcpServer()
      res.on('close', () => {
        transport.close()
        server.close()
      })
      await server.connect(transport)
      await transport.handleRequest(req, res, body)
    } catch (error) {
      if (!res.headersSent) res.writeHead(500).end(String(error))
    }
  })
  http.keepAliveTimeout = 30_000
  await new Promise((done) => http.listen(0, '127.0.0.1', done))
  process.stdout.write(
    `${JSON.stringify({ url: `http://127.0.0.1:${http.address().port}/mcp` })}\n`,
  )
  process.on('SIGTERM', () => process.exit(0))
}

const mode = process.argv[2]
if (mode === 'stdio') await mcpServer().connect(new StdioServerTransport())
else if (['http-stateless', 'http-stateful', 'http-sse'].includes(mode)) await serveHTTP(mode)
else throw new Error('mode: stdio | http-stateless | http-stateful | http-sse')
