/** How the CLI's commands word a usage mistake that `node:util`'s `parseArgs` reports. */
import { closest } from '../config/suggest.js'

/** The options a command gives `parseArgs` (only their names and short forms matter here). */
type Options = Readonly<Record<string, { type: string; short?: string }>>

/**
 * parseArgs's complaint in the CLI's words: an unknown option named with the nearest known one
 * (from `options`, the command's own), a stray word named as such, anything else without
 * parseArgs's advice about `--` (the command's help says how it is used).
 */
export function usageProblem(error: unknown, options?: Options): string {
  const message = error instanceof Error ? error.message : 'bad arguments'
  const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1]
  if (unknown !== undefined) {
    const known = Object.entries(options ?? {}).flatMap(([name, o]) => [
      `--${name}`,
      ...(o.short !== undefined ? [`-${o.short}`] : []),
    ])
    const near = closest(unknown, known)
    return `unknown option ${unknown}${near !== undefined ? ` (did you mean ${near}?)` : ''}`
  }
  const stray = /^Unexpected argument '([^']*)'/.exec(message)?.[1]
  if (stray !== undefined) return `unexpected argument "${stray}"`
  return message.split('. To specify a positional')[0] ?? message
}

/** The one line a usage mistake of `verb` prints: the problem, and where the help is. */
export function usageLine(verb: string, problem: string): string {
  return `gatehouse ${verb}: ${problem}; see gatehouse ${verb} --help\n`
}
