// What a bench's server child does besides serving (bench/flow-server.mjs,
// bench/adapter-server.mjs): listen on 127.0.0.1, print one JSON line { port }, answer 'cpu' over
// IPC with its own process.cpuUsage() (so a bench divides the server's CPU, not its own), and on
// 'close' drop its connections, run `close` and exit.
import { createServer } from 'node:http'

export function serveChild(handler, close = async () => undefined) {
  const server = createServer(handler)
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
  })
  process.on('message', (message) => {
    if (message === 'cpu') process.send({ cpu: process.cpuUsage() })
    if (message === 'close') {
      server.closeAllConnections()
      server.close()
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    }
  })
}
