/**
 * Module hooks for the imports of the `@modelcontextprotocol/conformance` runner (0.1.16, and the
 * 0.2.0 pre-release installed as `mcp-conformance-next`):
 * - `fs`: on Node 20 its bundle imports `globSync`, which Node adds in 22 (only its `tier-check`
 *   command calls it, and the tests never run that). On Node 22+ nothing is redirected.
 * - `undici`: a few scenarios (dns-rebinding-protection) send raw requests with undici's
 *   `request` instead of `fetch`; with `CONFORMANCE_BEARER` set those requests to
 *   `CONFORMANCE_ORIGIN` get the same `Authorization` header as the runner's `fetch` calls
 *   (see preload.mjs). Everything else of undici is the real module.
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

const undiciShim = (realUrl) =>
  'data:text/javascript,' +
  encodeURIComponent(`
import * as undici from ${JSON.stringify(realUrl)};
export * from ${JSON.stringify(realUrl)};
export function request(url, options = {}) {
  const token = process.env.CONFORMANCE_BEARER;
  const origin = process.env.CONFORMANCE_ORIGIN;
  if (token && origin && new URL(String(url)).origin === origin) {
    options = { ...options, headers: { authorization: 'Bearer ' + token, ...options.headers } };
  }
  return undici.request(url, options);
}
`)

export async function resolve(specifier, context, next) {
  const fromRunner =
    context.parentURL?.includes('/@modelcontextprotocol/conformance/') === true ||
    context.parentURL?.includes('/mcp-conformance-next/') === true
  if (fromRunner && (specifier === 'fs' || specifier === 'node:fs') && !('globSync' in fs)) {
    return { url: shim, shortCircuit: true }
  }
  if (fromRunner && specifier === 'undici') {
    const real = await next(specifier, context)
    return { url: undiciShim(real.url), shortCircuit: true }
  }
  return next(specifier, context)
}
