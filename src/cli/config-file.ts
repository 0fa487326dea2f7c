/**
 * Reads a configuration file: YAML (`.yaml`, `.yml`) through the `yaml` package, anything else as
 * JSON. Only the parse happens here; the one schema validates the result.
 */
import { readFile } from 'node:fs/promises'
import { ConfigError } from '../errors.js'

/** The file's top-level object; `ConfigError` when it cannot be read or parsed (no content echoed). */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch {
    throw new ConfigError([`${file}: cannot read the file`])
  }
  const yaml = /\.ya?ml$/i.test(file)
  let value: unknown
  try {
    if (yaml) {
      const { parse } = await import('yaml')
      value = parse(text, { maxAliasCount: 100 })
    } else {
      value = JSON.parse(text)
    }
  } catch {
    throw new ConfigError([`${file}: not valid ${yaml ? 'YAML' : 'JSON'}`])
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError([`${file}: the top level must be an object`])
  }
  return value as Record<string, unknown>
}
