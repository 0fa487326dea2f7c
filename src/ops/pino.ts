/**
 * The pino logger of the CLI (Node): JSON lines on stdout by default, human-readable through
 * pino-pretty for `gatehouse dev`. Redaction here is a second line of defence: Gatehouse only
 * logs fields it chose (request-log.ts), but an app may log through the same logger.
 */
import { pino, stdTimeFunctions, type DestinationStream, type LevelWithSilent } from 'pino'
import { PinoPretty } from 'pino-pretty'
import type { Logger } from './logger.js'

/** Paths pino censors whatever logs them. */
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'password',
  'secret',
  'token',
  'code',
  'state',
  'code_verifier',
  'client_secret',
  'access_token',
  'refresh_token',
  'id_token',
  'assertion',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.code',
  '*.state',
  '*.code_verifier',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.assertion',
  'req.headers',
  'res.headers',
  'headers',
  'url',
  'body',
]

export interface PinoLoggerOptions {
  level: LevelWithSilent
  /** Human-readable lines (pino-pretty) instead of JSON. */
  pretty?: boolean
  /** Where lines go; default stdout. */
  destination?: DestinationStream
}

/** A pino logger with ISO timestamps and redaction. */
export function createPinoLogger(options: PinoLoggerOptions): Logger {
  const settings = {
    level: options.level,
    base: { name: 'gatehouse' },
    timestamp: stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  }
  if (options.pretty === true) {
    return pino(
      settings,
      PinoPretty({
        ignore: 'pid,hostname,name',
        translateTime: 'SYS:HH:MM:ss.l',
        ...(options.destination ? { destination: options.destination } : {}),
      }),
    )
  }
  return options.destination ? pino(settings, options.destination) : pino(settings)
}
