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

/**
 * The issue as lines for the operator: naming the variable when one caused it. `file` is the
 * configuration before the variables, to tell what the file wrote from what a variable made.
 */
export function describeIssue(
  issue: z.core.$ZodIssue,
  sources: readonly EnvSource[],
  file: unknown,
): string[] {
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
      const known = keysAt(issue.path.filter((k) => typeof k !== 'symbol'))
      const named = others.map((k) => {
        const near = closest(
          k,
          [...known].filter((n) => n !== k),
        )
        return near === undefined ? `"${k}"` : `"${k}" (did you mean "${near}"?)`
      })
      const message = `Unrecognized key${others.length > 1 ? 's' : ''}: ${named.join(', ')}`
      lines.unshift(describe(issue.path, message, sources, file))
    }
    return lines
  }
  if (
    issue.code === 'invalid_type' &&
    samePath(issue.path, ['secret']) &&
    !sources.some((s) => startsWith(s.path, ['secret'])) &&
    valueAt(file, ['secret']) === undefined
  ) {
    return [`secret: set ${PREFIX}SECRET (32+ characters)`]
  }
  return [describe(issue.path, issue.message, sources, file)]
}

/**
 * `path: message`, with the variable that set the path or a field around it; or, for a value the
 * file does not have (variables made it), the variables that set fields inside it. A problem with
 * what the file wrote is never put on a variable.
 */
function describe(
  path: readonly PropertyKey[],
  message: string,
  sources: readonly EnvSource[],
  file: unknown,
): string {
  const at = path.map(String).join('.') || '(root)'
  const exact = sources.find((s) => samePath(s.path, path))
  if (exact) return `${exact.variable} (${at}): ${message}`
  const around = sources
    .filter((s) => startsWith(path, s.path))
    .sort((a, b) => b.path.length - a.path.length)[0]
  if (around) return `${at}: ${message} (in ${around.variable})`
  // The outermost value on the way to `path` that the file does not have: variables made it.
  const made = path.findIndex((_, i) => valueAt(file, path.slice(0, i + 1)) === undefined)
  const inside =
    made === -1
      ? []
      : sources.filter((s) => startsWith(s.path, path.slice(0, made + 1))).map((s) => s.variable)
  if (inside.length > 0) return `${at}: ${message} (set by ${inside.join(', ')})`
  return `${at}: ${message}`
}

/** The value at `path` in `root`, or undefined. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root
  for (const key of path) {
    if (typeof node !== 'object' || node === null || typeof key === 'symbol') return undefined
    node = (node as Record<string | number, unknown>)[key]
  }
  return node
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
