/**
 * An HTTPS "client host" on 127.0.0.1 for metadata-document and SSRF tests: a certificate for
 * `client.test`, `other.test`, `localhost` and 127.0.0.1 from a test CA made at test time with the
 * `openssl` CLI, scripted routes, and a log of every request it saw. The CA is handed to the Node
 * transport (`createNodeTransport({ ca })`) rather than through NODE_EXTRA_CA_CERTS, which Node
 * reads only at process start and which would make every test trust it.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Resolve } from '../../src/adapters/node-transport.js'

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void

export interface SeenRequest {
  host: string
  path: string
  method: string
}

export interface ClientHost {
  port: number
  /** PEM of the test CA that issued the host's certificate. */
  ca: string
  /** `https://{name}:{port}` */
  origin(name?: string): string
  requests: SeenRequest[]
  /** Requests seen for `path` (all paths when omitted). */
  count(path?: string): number
  /** Sets what `path` answers. */
  route(path: string, handler: RouteHandler): void
  /** Serves `body` as JSON at `path`. */
  json(path: string, body: unknown, headers?: Record<string, string>): void
  close(): Promise<void>
}

let certs: { ca: string; key: string; cert: string } | undefined

function testCertificates(): { ca: string; key: string; cert: string } {
  if (certs) return certs
  const dir = mkdtempSync(join(tmpdir(), 'gh-ca-'))
  const f = (name: string) => join(dir, name)
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=Gatehouse test CA',
  )
  ssl('req', ...ec, '-keyout', f('host.key'), '-out', f('host.csr'), '-subj', '/CN=client.test')
  writeFileSync(
    f('ext.cnf'),
    'subjectAltName=DNS:client.test,DNS:other.test,DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  )
  ssl(
    'x509',
    '-req',
    '-in',
    f('host.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('host.pem'),
    '-days',
    '2',
    '-extfile',
    f('ext.cnf'),
  )
  certs = {
    ca: readFileSync(f('ca.pem'), 'utf8'),
    key: readFileSync(f('host.key'), 'utf8'),
    cert: readFileSync(f('host.pem'), 'utf8'),
  }
  return certs
}

/** Starts the client host on 127.0.0.1 (a random port). */
export async function startClientHost(): Promise<ClientHost> {
  const { ca, key, cert } = testCertificates()
  const routes = new Map<string, RouteHandler>()
  const requests: SeenRequest[] = []
  const server = createServer({ key, cert }, (req, res) => {
    const path = req.url ?? '/'
    requests.push({ host: req.headers.host ?? '', path, method: req.method ?? 'GET' })
    const handler = routes.get(path)
    if (!handler) {
      res.writeHead(404).end()
      return
    }
    handler(req, res)
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    ca,
    origin: (name = 'client.test') => `https://${name}:${port}`,
    requests,
    count: (path) => requests.filter((r) => path === undefined || r.path === path).length,
    route: (path, handler) => routes.set(path, handler),
    json: (path, body, headers = {}) =>
      routes.set(path, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', ...headers })
        res.end(JSON.stringify(body))
      }),
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections()
        server.close(() => {
          done()
        })
      }),
  }
}

/**
 * A resolver from a table: a name maps to its answers, or to a function of the lookup number
 * (1, 2, ...) for rebinding. Unknown names fail like NXDOMAIN. `lookups` lists every name asked.
 */
export function tableResolver(table: Record<string, string[] | ((n: number) => string[])>): {
  resolve: Resolve
  lookups: string[]
} {
  const lookups: string[] = []
  const resolve: Resolve = (name) => {
    lookups.push(name)
    const entry = table[name]
    if (entry === undefined) return Promise.reject(new Error(`ENOTFOUND ${name}`))
    const n = lookups.filter((l) => l === name).length
    return Promise.resolve(typeof entry === 'function' ? entry(n) : entry)
  }
  return { resolve, lookups }
}
