/**
 * `GATEHOUSE_*` environment variables, mapped onto the one configuration schema. A variable names
 * a path: `_` separates words of a field (camelCase), `__` goes one level deeper, and a segment of
 * digits is a list index (from 0, no gaps).
 *   GATEHOUSE_ISSUER=https://gw.example                  -> issuer
 *   GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS=900               -> accessTokenTtlSeconds (number)
 *   GATEHOUSE_UPSTREAM__CLIENT_SECRET=…                  -> upstream.clientSecret
 *   GATEHOUSE_RESOURCES='[{"url":"https://gw/mcp"}]'     -> resources (JSON, replaces the list)
 *   GATEHOUSE_RESOURCES__0__URL=https://gw/mcp           -> resources[0].url (merges into the list)
 * Values that parse as JSON numbers, booleans, arrays or objects are taken as such (a field that
 * must be a string keeps the text as given); anything else is a string. Variables override the
 * file. No I/O here: the caller passes the environment.
 */
import type * as z from 'zod'
import { ConfigError } from '../errors.js'
import { describeIssue, type EnvSource } from './env-issues.js'
import { withGatewayResources } from './gateway-schema.js'
import { ConfigSchema, resolveConfig, type ResolvedConfig } from './schema.js'

export type { EnvSource } from './env-issues.js'

const PREFIX = 'GATEHOUSE_'
/** Variables of the CLI, not configuration fields. */
const RESERVED = new Set([
  'GATEHOUSE_DEV_USER',
  'GATEHOUSE_DEV_PASSWORD',
  'GATEHOUSE_CONFIG',
  // Where `gatehouse admin` finds the store (src/cli/commands/admin.ts).
  'GATEHOUSE_STORE',
  'GATEHOUSE_REDIS_PREFIX',
  'GATEHOUSE_PG_SCHEMA',
])
/** Short names operators expect, for fields one level down. */
const ALIASES: Readonly<Record<string, string>> = {
  GATEHOUSE_LOG_LEVEL: 'GATEHOUSE_LOG__LEVEL',
  GATEHOUSE_LOG_FORMAT: 'GATEHOUSE_LOG__FORMAT',
  GATEHOUSE_METRICS_TOKEN: 'GATEHOUSE_METRICS__TOKEN',
  GATEHOUSE_ADMIN_TOKEN: 'GATEHOUSE_ADMIN__TOKEN',
}
/** Largest list index a variable may name (a larger one would make a huge sparse list). */
const MAX_INDEX = 999
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

/** The result of laying the environment over a configuration object. */
export interface EnvOverlay {
  /** A copy of the base with every variable applied. */
  config: Record<string, unknown>
  /** Which variable set which path, in the order applied. */
  sources: EnvSource[]
  /** Variables that could not be applied (bad index, a field name on a list), as issue lines. */
  problems: string[]
}

/**
 * Applies `GATEHOUSE_*` variables to a copy of `base` (the file's configuration). Whole values
 * (shorter paths) are applied before the fields inside them, so `GATEHOUSE_RESOURCES` (JSON) and
 * `GATEHOUSE_RESOURCES__0__NAME` combine whatever their order in the environment.
 */
export function overlayEnv(
  base: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): EnvOverlay {
  const config = structuredClone(base)
  const sources: EnvSource[] = []
  const problems: string[] = []
  const variables = Object.entries(env)
    .filter(
      (e): e is [string, string] =>
        e[0].startsWith(PREFIX) && e[1] !== undefined && !RESERVED.has(e[0]),
    )
    .map(([variable, raw]) => ({ variable, raw, path: pathOf(variable) }))
    .filter((v): v is { variable: string; raw: string; path: (string | number)[] } => !!v.path)
    .sort((a, b) => a.path.length - b.path.length)
  for (const { variable, raw, path } of variables) {
    const value = parseValue(raw)
    const problem = setPath(config, path, value, variable)
    if (problem) problems.push(problem)
    else sources.push({ variable, path, raw, value })
  }
  problems.push(...findGaps(config, sources))
  return { config, sources, problems }
}

/**
 * Validates the file's configuration with the environment laid over it. Throws `ConfigError`
 * listing every problem; a problem caused by a variable names the variable (and, for one that
 * maps to no setting, the `__` spelling it probably meant). Secret values are never echoed.
 */
export function resolveConfigWithEnv(
  file: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): ResolvedConfig {
  return applyEnv(file, env).config
}

/**
 * `resolveConfigWithEnv`, answering also the configuration input it validated (the file with the
 * variables applied), for code that hands the input on, such as `createGatehouse({ config })`.
 */
export function applyEnv(
  file: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
): { input: Record<string, unknown>; config: ResolvedConfig } {
  const { config, sources, problems } = overlayEnv(file, env)
  // Gateway routes are resources too (`resolveConfig` adds them the same way).
  let parsed = ConfigSchema.safeParse(withGatewayResources(config))
  if (!parsed.success && keepStrings(config, sources, parsed.error.issues)) {
    parsed = ConfigSchema.safeParse(withGatewayResources(config))
  }
  const issues = parsed.success
    ? []
    : parsed.error.issues
        // A missing list element is already reported, naming the variable past it.
        .filter((i) => !isHole(config, i.path))
        .flatMap((i) => describeIssue(i, sources, file))
  if (problems.length > 0 || issues.length > 0) throw new ConfigError([...problems, ...issues])
  return { input: config, config: resolveConfig(config) }
}

/** The configuration the environment describes (a partial object, validated later with the rest). */
export function configFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, unknown> {
  return overlayEnv({}, env).config
}

/** Deep-merges `override` onto `base` (objects merge, everything else replaces). */
export function mergeConfig(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(override)) {
    const b = out[k]
    out[k] = isPlainObject(b) && isPlainObject(v) ? mergeConfig(b, v) : v
  }
  return out
}

/** The path a variable names, or `undefined` for one that could touch prototypes. */
function pathOf(variable: string): (string | number)[] | undefined {
  const path = (ALIASES[variable] ?? variable)
    .slice(PREFIX.length)
    .split('__')
    .map((segment): string | number =>
      /^\d+$/.test(segment)
        ? Number(segment)
        : segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
    )
  return path.some((p) => p === '' || (typeof p === 'string' && FORBIDDEN.has(p)))
    ? undefined
    : path
}

/** Sets `value` at `path`, creating objects and lists on the way; a problem line, or undefined. */
function setPath(
  root: Record<string, unknown>,
  path: readonly (string | number)[],
  value: unknown,
  variable: string,
): string | undefined {
  let node: Record<string, unknown> | unknown[] = root
  for (const [depth, key] of path.entries()) {
    const at = path.slice(0, depth).join('.')
    if (typeof key === 'number' && key > MAX_INDEX) {
      return `${variable}: index ${key} is too large (at most ${MAX_INDEX})`
    }
    if (Array.isArray(node) && typeof key === 'string') {
      const list = variable.split('__').slice(0, depth).join('__')
      return `${variable}: ${at} is a list; give an index (${list}__0__…) or a JSON value`
    }
    const container = node as Record<string | number, unknown>
    if (depth === path.length - 1) {
      container[key] = value
      return undefined
    }
    const next = container[key]
    // A value that is neither an object nor a list is replaced; a list met by a field name is
    // reported on the next step.
    if (!Array.isArray(next) && !isPlainObject(next)) {
      container[key] = typeof path[depth + 1] === 'number' ? [] : {}
    }
    node = container[key] as Record<string, unknown> | unknown[]
  }
  return undefined
}

/** Lists that variables extended past their end: each missing element is a problem line. */
function findGaps(config: Record<string, unknown>, sources: readonly EnvSource[]): string[] {
  const problems: string[] = []
  for (const { variable, path } of sources) {
    let node: unknown = config
    for (const [depth, key] of path.entries()) {
      if (Array.isArray(node) && typeof key === 'number') {
        // findIndex visits holes too (as undefined).
        const missing = node.findIndex((v) => v === undefined)
        if (missing !== -1 && missing < key) {
          const list = path.slice(0, depth).join('.')
          problems.push(
            `${variable}: ${list} has no element ${missing}; indices start at 0 with no gaps`,
          )
          break
        }
      }
      node = (node as Record<string | number, unknown> | undefined)?.[key]
    }
  }
  return [...new Set(problems)]
}

/**
 * Where a field must be a string but a variable's text was read as JSON (a numeric client id or
 * secret), puts the text back; returns whether anything changed (then parse again).
 */
function keepStrings(
  config: Record<string, unknown>,
  sources: EnvSource[],
  issues: readonly z.core.$ZodIssue[],
): boolean {
  let changed = false
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' || issue.expected !== 'string') continue
    const source = sources.find((s) => samePath(s.path, issue.path))
    if (!source || typeof source.value === 'string') continue
    setPath(config, source.path, source.raw, source.variable)
    source.value = source.raw
    changed = true
  }
  return changed
}

/** Whether `path` ends at an empty slot of a list. */
function isHole(config: Record<string, unknown>, path: readonly PropertyKey[]): boolean {
  let parent: unknown
  let node: unknown = config
  for (const key of path) {
    parent = node
    node =
      isPlainObject(node) || Array.isArray(node)
        ? (node as Record<PropertyKey, unknown>)[key]
        : undefined
  }
  return Array.isArray(parent) && node === undefined
}

function samePath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && a.every((k, i) => String(k) === String(b[i]))
}

function parseValue(raw: string): unknown {
  const t = raw.trim()
  if (/^(-?\d+(\.\d+)?|true|false|\[.*\]|\{.*\})$/s.test(t)) {
    try {
      return JSON.parse(t) as unknown
    } catch {
      return raw
    }
  }
  return raw
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
