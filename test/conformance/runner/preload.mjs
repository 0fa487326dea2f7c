/**
 * Preloaded into the conformance runner's process (`node --import`). It registers the module
 * hooks (hooks.mjs) and, when `CONFORMANCE_BEARER` is set, adds `Authorization: Bearer …` to the runner's
 * `fetch` calls to `CONFORMANCE_ORIGIN`: the runner's server scenarios connect without
 * authorization, and the server under test sits behind Gatehouse. The token comes from a real
 * OAuth flow at that Gatehouse; nothing else about the runner's requests is changed.
 */
import { register } from 'node:module'

register('./hooks.mjs', import.meta.url)

const token = process.env.CONFORMANCE_BEARER
const origin = process.env.CONFORMANCE_ORIGIN
if (token && origin) {
  const realFetch = globalThis.fetch
  globalThis.fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input)
    if (new URL(url).origin !== origin) return realFetch(input, init)
    const request = new Request(input, init)
    if (!request.headers.has('authorization')) {
      request.headers.set('authorization', `Bearer ${token}`)
    }
    return realFetch(request)
  }
}
