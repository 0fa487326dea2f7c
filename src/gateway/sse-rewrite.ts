/**
 * Rewrites JSON-RPC messages inside a `text/event-stream` while it streams: each event is passed on
 * as soon as its blank line arrives; only events whose data is a message `apply` changes are
 * re-encoded.
 */
export function rewriteSSE(
  apply: (parsed: unknown) => unknown,
): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let buffer = ''
  const emit = (event: string, controller: TransformStreamDefaultController<Uint8Array>) => {
    controller.enqueue(encoder.encode(rewriteEvent(event, apply)))
  }
  return new TransformStream({
    transform(chunk, controller) {
      buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n')
      let end = buffer.indexOf('\n\n')
      while (end !== -1) {
        emit(buffer.slice(0, end + 2), controller)
        buffer = buffer.slice(end + 2)
        end = buffer.indexOf('\n\n')
      }
    },
    flush(controller) {
      buffer += decoder.decode()
      if (buffer.length > 0) emit(buffer, controller)
    },
  })
}

function rewriteEvent(event: string, apply: (parsed: unknown) => unknown): string {
  const lines = event.split('\n')
  const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, ''))
  if (data.length === 0) return event
  let msg: unknown
  try {
    msg = JSON.parse(data.join('\n'))
  } catch {
    return event
  }
  const next = apply(msg)
  if (next === msg) return event
  const kept = lines.filter((l) => l !== '' && !l.startsWith('data:'))
  return `${[...kept, `data: ${JSON.stringify(next)}`].join('\n')}\n\n`
}
