import type { AuditWriter } from './audit.js'

/** An audit writer that owns a file (see audit-file.ts, Node only). */
export interface FileAuditWriter {
  write: AuditWriter
  /** Flushes and closes the file. */
  close(): Promise<void>
}
