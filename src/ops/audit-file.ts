/**
 * The file audit writer (Node): one JSON object per line, appended; the file is created with mode
 * 600. Writes are buffered by the stream; `close` flushes them.
 */
import { createWriteStream } from 'node:fs'
import type { FileAuditWriter } from './audit-file-writer.js'

export type { FileAuditWriter } from './audit-file-writer.js'

/** Opens `path` for appending audit events as JSON lines. */
export function createFileAuditWriter(path: string): FileAuditWriter {
  const stream = createWriteStream(path, { flags: 'a', mode: 0o600 })
  // An unwritable file must not crash the process; the error is reported on close.
  let failure: Error | undefined
  stream.on('error', (error) => {
    failure = error
  })
  return {
    write: (event) => {
      if (failure === undefined) stream.write(`${JSON.stringify(event)}\n`)
    },
    close: () =>
      new Promise<void>((done, fail) => {
        stream.end(() => {
          if (failure) fail(failure)
          else done()
        })
      }),
  }
}
