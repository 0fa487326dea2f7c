/**
 * Module hooks for running `@modelcontextprotocol/conformance` 0.1.16 on Node 20: its bundle
 * imports `globSync` from `fs`, which Node adds in 22 (only its `tier-check` command calls it, and
 * the tests never run that). On Node 22+ nothing is redirected.
 */
import fs from 'node:fs'

const shim =
  'data:text/javascript,' +
  encodeURIComponent(`
import fs from 'node:fs';
export * from 'node:fs';
export default fs;
export function globSync() { throw new Error('fs.globSync needs Node 22'); }
`)

export function resolve(specifier, context, next) {
  const fromRunner = context.parentURL?.includes('/@modelcontextprotocol/conformance/') === true
  if (fromRunner && (specifier === 'fs' || specifier === 'node:fs') && !('globSync' in fs)) {
    return { url: shim, shortCircuit: true }
  }
  return next(specifier, context)
}
