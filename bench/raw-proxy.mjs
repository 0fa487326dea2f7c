// The least a gateway can do on Node, for bench/gateway.bench.mjs: a hand-written node:http
// pass-through to one upstream URL (keep-alive, bodies piped both ways, headers copied, no checks
// of any kind). What the gateway adds beyond this is what Gatehouse adds.
//   node bench/raw-proxy.mjs <upstream URL>
// Prints one JSON line { base } and serves until killed.
import http from 'node:http'

const target = new URL(process.argv[2])
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
const server = http.createServer((req, res) => {
  const upstream = http.request(
    {
      host: target.hostname,
      port: target.port,
      path: target.pathname,
      method: req.method,
      headers: { ...req.headers, host: target.host },
      agent,
    },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    },
  )
  upstream.on('error', () => res.destroy())
  req.pipe(upstream)
})
server.keepAliveTimeout = 30_000
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ base: `http://127.0.0.1:${server.address().port}` })}\n`)
})
