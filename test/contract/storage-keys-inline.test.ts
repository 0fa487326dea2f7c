/**
 * Every storage key is spelled in one place, src/storage/keys.ts: no other source file holds a
 * string or template literal that starts with one of its prefixes (`'rt:'`, `` `code:${h}` ``).
 * Known exceptions are listed below, each with its reason; one that is fixed must leave the list.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import * as keys from '../../src/storage/keys.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** `file: prefix` pairs allowed to stay inline for now, with why. */
const KNOWN: Record<string, string> = {
  // Not Gatehouse storage: a dev stand-in's in-memory map of its own codes and refresh tokens.
  'src/dev/provider-stand-ins/recording-proxy.ts: code:': 'stand-in map, not a store key',
  'src/dev/provider-stand-ins/recording-proxy.ts: rt:': 'stand-in map, not a store key',
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** The code of a file without its comments (which may quote a prefix to explain it). */
function withoutComments(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '')
    .replace(/\s\/\/\s.*$/gm, '')
}

const prefixes = Object.entries(keys)
  .filter(([name]) => name.endsWith('_PREFIX'))
  .map(([, value]) => value as string)

/** `file: prefix` for every literal outside keys.ts that starts with a storage key prefix. */
function inlineKeys(files: string[]): string[] {
  const found = new Set<string>()
  for (const file of files) {
    const name = relative(root, file).split('\\').join('/')
    if (name === 'src/storage/keys.ts') continue
    const code = withoutComments(readFileSync(file, 'utf8'))
    for (const prefix of prefixes) {
      const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      if (new RegExp(`['"\`]${escaped}`).test(code)) found.add(`${name}: ${prefix}`)
    }
  }
  return [...found].sort()
}

describe('storage keys are spelled only in src/storage/keys.ts', () => {
  it('knows every prefix keys.ts exports, the ones this review moved there included', () => {
    for (const prefix of ['dpop-jti:', 'workload-jti:', 'client-jwks:', 'gw-rate:', 'rt:']) {
      expect(prefixes).toContain(prefix)
    }
  })

  it('finds an inline key in a template or a string literal, and not in a comment', () => {
    const sample = [
      'const a = `rt:${hash}`',
      "const b = store.get('dpop-jti:' + key)",
      '/** the `code:` prefix */',
      '// `workload-jti:` in a comment',
    ].join('\n')
    const code = withoutComments(sample)
    expect(/[`'"]rt:/.test(code)).toBe(true)
    expect(/[`'"]dpop-jti:/.test(code)).toBe(true)
    expect(/[`'"]code:/.test(code)).toBe(false)
    expect(/[`'"]workload-jti:/.test(code)).toBe(false)
  })

  it('src/ spells no storage key prefix outside keys.ts beyond the known list', () => {
    const found = inlineKeys(sourceFiles(join(root, 'src')))
    expect(found.filter((f) => !(f in KNOWN))).toEqual([])
    // Each known exception still exists: a fixed one must leave the list.
    expect(Object.keys(KNOWN).filter((k) => !found.includes(k))).toEqual([])
  })
})
