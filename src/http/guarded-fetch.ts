/**
 * The one outbound HTTP path of Gatehouse: every URL the server fetches (JWKS, discovery,
 * introspection, …) goes through `createGuardedFetch`, which applies the SSRF and resource rules
 * of the security catalogue (A.2.14) before and while talking to the remote. This is the front
 * door; the parts are in `guarded-fetch/`: `pipeline.ts` (the request from check to body),
 * `policy.ts` (which URLs and addresses pass), `address-classes.ts` (the address ranges),
 * `host-slots.ts` (per-host concurrency), `deadline.ts`, `body.ts` and `types.ts`.
 */
export { isLoopbackHost } from '../config/urls.js' // moved: re-export kept until the integrator updates importers
export { classifyAddress, classifyHost, type HostClass } from './guarded-fetch/address-classes.js'
export { readBody } from './guarded-fetch/body.js'
export { createGuardedFetch } from './guarded-fetch/pipeline.js'
export {
  DEFAULT_FETCH_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_PER_HOST,
  DEFAULT_MAX_RESPONSE_BYTES,
  type GuardedFetch,
  type GuardedFetchOptions,
  type GuardedRequestInit,
  type GuardedResponse,
  type GuardedTransport,
  type TransportRequest,
} from './guarded-fetch/types.js'
