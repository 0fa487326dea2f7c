// A server for bench/adapter.bench.mjs: `node bench/adapter-server.mjs <kind>`, where kind is
// raw | gatehouse | gatehouse-held | gatehouse-light | baseline | hono | hono-plain | express. Every kind does the same work for the same two
// requests an OAuth client makes per sign-in (`GET /authorize` answered 302; `POST /token` with a
// form, answered with a 1 KB JSON body): only how a request reaches the handler differs.
// `gatehouse-held` is the adapter with `holdSmallBody`, `gatehouse-light` with `lightRequest` (as
// `gatehouse serve` sets both); `baseline`
// is another build's Node adapter (ADAPTER_DIST=<its dist/>).
// Serves as bench/child-server.mjs says (a { port } line, 'cpu' and 'close' over IPC).
import { pathToFileURL } from 'node:url'
import { serveChild } from './child-server.mjs'

const kind = process.argv[2]
const LOCATION = 'http://127.0.0.1/cb?code=0123456789abcdef0123456789abcdef01234567890&state=xyz'
const ANSWER = JSON.stringify({
  access_token: 'a'.repeat(700),
  token_type: 'Bearer',
  expires_in: 3600,
  refresh_token: 'r'.repeat(43),
  scope: 'mcp:read',
})
const NO_STORE = { 'cache-control': 'no-store' }

/** The handler's work, the same for every kind: read the code, answer. */
const codeOf = (form) => new URLSearchParams(form).get('code')

/** The Web handler the Web-standard kinds serve. */
async function web(request) {
  if (request.method === 'GET') {
    new URL(request.url).searchParams.get('client_id')
    return new Response(null, { status: 302, headers: { location: LOCATION, ...NO_STORE } })
  }
  codeOf(await request.text())
  return new Response(ANSWER, { headers: { 'content-type': 'application/json', ...NO_STORE } })
}

async function handlerFor(kind) {
  switch (kind) {
    case 'raw':
      // node:http by hand: the least any Node server does for these two requests.
      return (req, res) => {
        if (req.method === 'GET') {
          new URL(req.url, 'http://127.0.0.1').searchParams.get('client_id')
          res.writeHead(302, { location: LOCATION, ...NO_STORE })
          res.end()
          return
        }
        const chunks = []
        req.on('data', (chunk) => chunks.push(chunk))
        req.on('end', () => {
          codeOf(Buffer.concat(chunks).toString())
          res.writeHead(200, { 'content-type': 'application/json', ...NO_STORE })
          res.end(ANSWER)
        })
      }
    case 'gatehouse':
    case 'gatehouse-held':
    case 'gatehouse-light':
    case 'baseline': {
      const dist =
        kind === 'baseline'
          ? pathToFileURL(`${process.env.ADAPTER_DIST}/`)
          : new URL('../dist/', import.meta.url)
      const { toNodeHandler } = await import(new URL('adapters/node.js', dist).href)
      return toNodeHandler(web, {
        baseUrl: 'http://127.0.0.1:9',
        ...(kind === 'gatehouse-held' ? { holdSmallBody: true } : {}),
        ...(kind === 'gatehouse-light' ? { holdSmallBody: true, lightRequest: true } : {}),
      })
    }
    case 'hono': {
      // Hono's own Node adapter, serving the same Web handler.
      const { getRequestListener } = await import('@hono/node-server')
      return getRequestListener(web)
    }
    case 'hono-plain': {
      // The same, without replacing the global Request and Response (which it does by default).
      const { getRequestListener } = await import('@hono/node-server')
      return getRequestListener(web, { overrideGlobalObjects: false })
    }
    case 'express': {
      // The stack of the MCP SDK's demo authorization server: Express with its form parser.
      const { default: express } = await import('express')
      const app = express()
      app.get('/authorize', (req, res) => {
        void req.query.client_id
        res.set(NO_STORE).redirect(302, LOCATION)
      })
      app.post('/token', express.urlencoded({ extended: false }), (req, res) => {
        void req.body.code
        res.set(NO_STORE).type('json').send(ANSWER)
      })
      return app
    }
    default:
      throw new Error(`unknown kind ${kind}`)
  }
}

serveChild(await handlerFor(kind))
