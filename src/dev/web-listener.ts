/**
 * A `node:http` listener for a Web handler, for the stand-in IdPs: reads the whole body (at most
 * 1 MiB), builds a `Request`, writes the `Response`. Deliberately not adapters/node.ts: dev/ shares
 * no code with the server it tests (docs/architecture.md), so a bug in the adapter cannot hide in
 * the stand-ins the adapter is tested against.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

const MAX_BODY_BYTES = 1024 * 1024

/** The listener for `createServer(...)`; a handler that throws answers 500 `server_error`. */
export function toNodeListener(
  handler: (request: Request) => Response | Promise<Response>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    respond(handler, req, res).catch(() => res.destroy())
  }
}

async function respond(
  handler: (request: Request) => Response | Promise<Response>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET'
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength
    if (size > MAX_BODY_BYTES) {
      await send(res, method, Response.json({ error: 'invalid_request' }, { status: 413 }))
      return
    }
    chunks.push(chunk)
  }
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '')
  }
  const hasBody = method !== 'GET' && method !== 'HEAD'
  const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`, {
    method,
    headers,
    ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
  })
  let response: Response
  try {
    response = await handler(request)
  } catch {
    response = Response.json({ error: 'server_error' }, { status: 500 })
  }
  await send(res, method, response)
}

async function send(res: ServerResponse, method: string, response: Response): Promise<void> {
  res.statusCode = response.status
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value)
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) res.setHeader('set-cookie', cookies)
  const body = Buffer.from(await response.arrayBuffer())
  res.end(method === 'HEAD' ? undefined : body)
}
