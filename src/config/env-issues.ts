/**
 * Configuration problems worded for the operator who set `GATEHOUSE_*` variables: each names the
 * variable behind it, and a variable that maps to no setting gets the spelling it probably meant
 * (usually a missing `__` between levels). No I/O; values are never echoed.
 */
import type * as z from 'zod'
import { ConfigSchema } from './schema.js'
import { closest } from './suggest.js'

/** One applied variable: its name, the path it set, its text and the value read from it. */
export interface EnvSource {
  readonly variable: string
  readonly path: readonly (string | number)[]
  readonly raw: string
  value: unknown
}

const PREFIX = 'GATEHOUSE_'
const NESTING = 'levels are separated by a double underscore'

/** The issue as lines for the operator: naming the variable when one caused it. */
export function describeIssue(issue: z.core.$ZodIssue, sources: readonly EnvSource[]): string[] {
  if (issue.code === 'unrecognized_keys') {
    const lines: string[] = []
    const others: string[] = []
    for (const key of issue.keys) {
      const full = [...issue.path, key]
      const source = sources.find((s) => startsWith(s.path, full))
      if (source) lines.push(unknownVariable(source, issue.path.length))
      else others.push(key)
    }
    if (others.length > 0) {
      const message = `Unrecognized key${others.length > 1 ? 's' : ''}: ${others.map((k) => `"${k}"`).join(', ')}`
      lines.unshift(describe(issue.path, message, sources))
    }
    return lines
  }
  return [describe(issue.path, issue.message, sources)]
}

/** `path: message`, with the variable that set the path, a field around it, or fields inside it. */
function describe(
  path: readonly PropertyKey[],
  message: string,
  sources: readonly EnvSource[],
): string {
  const at = path.map(String).join('.') || '(root)'
  const exact = sources.find((s) => samePath(s.path, path))
  if (exact) return `${exact.variable} (${at}): ${message}`
  const around = sources
    .filter((s) => startsWith(path, s.path))
    .sort((a, b) => b.path.length - a.path.length)[0]
  if (around) return `${at}: ${message} (in ${around.variable})`
  const inside = sources.filter((s) => startsWith(s.path, path)).map((s) => s.variable)
  if (inside.length > 0) return `${at}: ${message} (set by ${inside.join(', ')})`
  return `${at}: ${message}`
}

/** A variable whose segment at `depth` names no setting: what it set, and what it likely meant. */
function unknownVariable(source: EnvSource, depth: number): string {
  const sets = source.path.map(String).join('.')
  const suggestion = suggestVariable(source, depth)
  return suggestion
    ? `${source.variable}: sets ${sets}, which is not a setting; did you mean ${suggestion} (${NESTING})?`
    : `${source.variable}: sets ${sets}, which is not a setting (${NESTING}: ${PREFIX}UPSTREAM__CLIENT_ID sets upstream.clientId)`
}

/**
 * A known variable near the unknown one: the segment split at an underscore into a known setting
 * and the rest (`UPSTREAM_CLIENT_ID` -> `UPSTREAM__CLIENT_ID`), else the nearest known setting.
 */
function suggestVariable(source: EnvSource, depth: number): string | undefined {
  const segments = source.variable.slice(PREFIX.length).split('__')
  const segment = segments[depth]
  if (segment === undefined) return undefined
  const parent = source.path.slice(0, depth)
  const known = keysAt(parent)
  const rename = (replacement: string[]) =>
    PREFIX + [...segments.slice(0, depth), ...replacement, ...segments.slice(depth + 1)].join('__')
  const words = segment.split('_')
  let split: string[] | undefined
  for (let j = 1; j < words.length; j++) {
    const head = camel(words.slice(0, j))
    if (!known.has(head)) continue
    const tail = camel(words.slice(j))
    const candidate = [words.slice(0, j).join('_'), words.slice(j).join('_')]
    // Prefer a split whose rest is known one level down too.
    if (keysAt([...parent, head]).has(tail)) return rename(candidate)
    split ??= candidate
  }
  if (split) return rename(split)
  const near = closest(camel(words), known)
  return near === undefined ? undefined : rename([envWord(near)])
}

/** A path segment as it appears in a variable name (`maxRedirectUris` -> `MAX_REDIRECT_URIS`). */
function envWord(key: string | number): string {
  return String(key)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase()
}

function camel(words: readonly string[]): string {
  return words
    .map((w, i) =>
      i === 0 ? w.toLowerCase() : w.charAt(0).toUpperCase() + w.slice(1).toLowerCase(),
    )
    .join('')
}

/** zod's internal schema description, as far as finding field names needs it. */
interface SchemaNode {
  _zod: {
    def: {
      type: string
      shape?: Record<string, SchemaNode>
      innerType?: SchemaNode
      in?: SchemaNode
      options?: SchemaNode[]
      element?: SchemaNode
    }
  }
}

/** The field names the schema knows at `path` (through optionals, defaults, unions and lists). */
function keysAt(path: readonly (string | number)[]): Set<string> {
  let nodes = [ConfigSchema as unknown as SchemaNode]
  for (const key of path) nodes = nodes.flatMap((n) => child(n, key))
  return new Set(
    nodes.flatMap((n) => variants(n)).flatMap((n) => Object.keys(n._zod.def.shape ?? {})),
  )
}

function child(node: SchemaNode, key: string | number): SchemaNode[] {
  return variants(node).flatMap((n) => {
    const def = n._zod.def
    if (def.type === 'array' && def.element) return [def.element]
    const field = def.shape?.[String(key)]
    return field ? [field] : []
  })
}

/** The concrete schemas behind wrappers and unions. */
function variants(node: SchemaNode): SchemaNode[] {
  const def = node._zod.def
  const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined)
  if (inner) return variants(inner)
  if (def.type === 'union' && def.options) return def.options.flatMap(variants)
  return [node]
}

function samePath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && startsWith(a, b)
}

/** Whether `path` begins with `prefix`. */
function startsWith(path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((k, i) => String(k) === String(path[i]))
}
