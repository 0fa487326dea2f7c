/**
 * The audit sink Gatehouse hands to its parts: stamps each event with the time, the request id and
 * peer address of the request it happened in, counts it, notes the client and subject on the
 * request line, and passes it to every configured writer. A writer that throws is logged (without
 * the event's content) and never breaks the request.
 */
import type { AuditEvent, AuditInput, AuditSink } from '../audit-event.js'
import { currentContext, type RequestContext } from './context.js'
import type { Logger } from './logger.js'
import { NO_METRICS, type Metrics } from './metrics.js'

/** Receives each finished audit event (a file, a queue, a SIEM forwarder, a test's array). */
export type AuditWriter = (event: AuditEvent) => void

export interface AuditSinkOptions {
  writers: readonly AuditWriter[]
  logger: Logger
  metrics: Metrics
  now: () => number
}

/** Builds the sink that every part of one Gatehouse instance emits into. */
export function createAuditSink(options: AuditSinkOptions): AuditSink {
  const { writers, logger, metrics, now } = options
  // Nobody reads the events (no writer, no metrics): only the request line's notes are made.
  const unread = writers.length === 0 && metrics === NO_METRICS
  return {
    emit(input: AuditInput): void {
      const context = currentContext()
      if (context) noteOnLine(context, input)
      if (unread) return
      const event: AuditEvent = {
        time: new Date(now()).toISOString(),
        ...definedOnly(input),
        ...(context ? { requestId: context.requestId } : {}),
        ...(context?.ip !== undefined ? { ip: context.ip } : {}),
      }
      metrics.audit(event)
      for (const write of writers) {
        try {
          write(event)
        } catch (error) {
          logger.error(
            { event: event.event, errorName: error instanceof Error ? error.name : typeof error },
            'audit writer failed',
          )
        }
      }
    },
  }
}

/** What the event tells the request line (and the token span) of the request it happened in. */
function noteOnLine(context: RequestContext, input: AuditInput): void {
  if (input.clientId !== undefined) context.clientId ??= input.clientId
  if (input.subject !== undefined) context.subject ??= input.subject
  if (input.event === 'tokens_issued' && input.grantType !== undefined) {
    context.grantType ??= input.grantType
  }
}

/**
 * The log-stream writer: a child logger bound with `audit: true`, one `info` line per event. The
 * logger's own `time` stands for the event's (pino writes it first; one key, not two).
 */
export function logAuditWriter(logger: Logger): AuditWriter {
  const audit = logger.child({ audit: true })
  return (event) => {
    if (audit.isLevelEnabled?.('info') === false) return
    const { time: _time, ...fields } = event
    audit.info(fields, 'audit')
  }
}

function definedOnly(input: AuditInput): AuditInput {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(input)) if (v !== undefined) out[k] = v
  return out as unknown as AuditInput
}
