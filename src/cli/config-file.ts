/**
 * Reads a configuration file for every verb (`serve`, `check-config`, `admin`): YAML (`.yaml`,
 * `.yml`) through the `yaml` package, anything else as JSON. Only the parse happens here; the one
 * schema validates the result. A file that cannot be had is one line saying why, naming the path
 * and never echoing the content.
 */
import { readFile } from 'node:fs/promises'
import { ConfigError } from '../errors.js'

/** The file's top-level object; `ConfigError` with one line when it cannot be read or parsed. */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new ConfigError([unreadable(file, error)])
  }
  const yaml = /\.ya?ml$/i.test(file)
  const format = yaml ? 'YAML' : 'JSON'
  let value: unknown
  try {
    if (yaml) {
      const { parse } = await import('yaml')
      value = parse(text, { maxAliasCount: 100 })
    } else {
      value = JSON.parse(text)
    }
  } catch (error) {
    throw new ConfigError([`${file} is not valid ${format}${where(error, text)}`])
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError([`${file} must hold a ${format} object`])
  }
  return value as Record<string, unknown>
}

/** Why the file could not be read, in the operator's terms. */
function unreadable(file: string, error: unknown): string {
  const code = (error as { code?: unknown }).code
  if (code === 'ENOENT') return `${file} not found`
  if (code === 'EISDIR') return `${file} is a directory, not a file`
  if (code === 'EACCES' || code === 'EPERM') return `${file} cannot be read (permission denied)`
  return `${file} cannot be read`
}

/**
 * Where the parser stopped, and why in the parser's terms (` at line 4, column 3: bad indent`):
 * the `yaml` package's position and code, or JSON's character offset as a line and column. Never
 * the parser's message, which may quote the file.
 */
function where(error: unknown, text: string): string {
  const e = error as { linePos?: readonly { line: number; col: number }[]; code?: unknown }
  const at = e.linePos?.[0]
  if (at !== undefined) {
    const why = typeof e.code === 'string' ? `: ${e.code.toLowerCase().replace(/_/g, ' ')}` : ''
    return ` (line ${at.line}, column ${at.col}${why})`
  }
  const offset = /at position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1]
  if (offset === undefined) return ''
  const before = text.slice(0, Number(offset)).split('\n')
  return ` (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`
}
