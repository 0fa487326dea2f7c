/**
 * The logger Gatehouse writes to: the subset of pino's API it uses, so an embedding app can pass
 * its own pino logger (or anything shaped like it). Gatehouse builds every log object itself from
 * allow-listed fields (see request-log.ts); nothing here ever receives a request, a header map, a
 * body or an error's message.
 */

/** One log method: a structured object first, then an optional message (pino's calling form). */
export type LogFn = (object: Record<string, unknown>, message?: string) => void

/** A pino-compatible logger. */
export interface Logger {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
  child(bindings: Record<string, unknown>): Logger
  /**
   * Whether a line at `level` would be written (pino's own method); when present, Gatehouse
   * builds a request line only for a logger that writes it. Without it, every line is built.
   */
  isLevelEnabled?(level: 'error' | 'warn' | 'info' | 'debug'): boolean
}

const noop: LogFn = () => undefined

/** The library default: writes nothing, so embedding apps are not spammed. */
export const SILENT_LOGGER: Logger = {
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
  child: () => SILENT_LOGGER,
  isLevelEnabled: () => false,
}
