/**
 * `GATEHOUSE_*` environment variables, mapped onto the one configuration schema. A variable names
 * a path: `_` separates words of a field (camelCase), `__` goes one level deeper.
 *   GATEHOUSE_ISSUER=https://gw.example                  -> issuer
 *   GATEHOUSE_ACCESS_TOKEN_TTL_SECONDS=900               -> accessTokenTtlSeconds (number)
 *   GATEHOUSE_UPSTREAM__CLIENT_SECRET=…                  -> upstream.clientSecret
 *   GATEHOUSE_RESOURCES='[{"url":"https://gw/mcp"}]'     -> resources (JSON)
 * Values that parse as JSON numbers, booleans, arrays or objects are taken as such; anything else
 * is a string. Variables override the file. No I/O here: the caller passes the environment.
 */

const PREFIX = 'GATEHOUSE_'
/** Variables of the CLI, not configuration fields. */
const RESERVED = new Set([
  'GATEHOUSE_DEV_USER',
  'GATEHOUSE_DEV_PASSWORD',
  'GATEHOUSE_CONFIG',
  // Where `gatehouse admin` finds the store (src/cli/admin.ts).
  'GATEHOUSE_STORE',
  'GATEHOUSE_REDIS_PREFIX',
  'GATEHOUSE_PG_SCHEMA',
])

/** The configuration the environment describes (a partial object, validated later with the rest). */
export function configFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, unknown> {
  const config: Record<string, unknown> = {}
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(PREFIX) || raw === undefined || RESERVED.has(name)) continue
    const path = name
      .slice(PREFIX.length)
      .split('__')
      .map((segment) =>
        segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
      )
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype'))
      continue
    let node = config
    for (const key of path.slice(0, -1)) {
      const next = node[key]
      node[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? next : {}
      node = node[key] as Record<string, unknown>
    }
    node[path[path.length - 1] as string] = parseValue(raw)
  }
  return config
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
