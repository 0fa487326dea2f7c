/**
 * The Web-standard app skeleton: routes with their allowed methods, CORS preflight where allowed,
 * 405 with `Allow` otherwise, and the one place where thrown errors become responses.
 */
import { Hono } from 'hono'
import { errorResponse, toErrorResponse, type ErrorHook } from '../errors.js'
import { methodNotAllowed, preflightResponse } from './responses.js'

/** A handler in the core: a Web `Request` in, a `Response` out. */
export type Handler = (request: Request) => Promise<Response>

export interface Route {
  path: string
  /** Method -> handler. `HEAD` follows `GET`. */
  methods: Partial<Record<'GET' | 'POST', Handler>>
  /** Whether browsers may call it cross-origin (never the authorization endpoint). */
  cors: boolean
  /**
   * Whether `GET` is safe to repeat as `HEAD` (metadata). Endpoints whose GET changes state
   * (authorize, consent, the IdP callback) answer HEAD with 405.
   */
  head?: boolean
}

/** The header an unhandled response carries, so adapters can pass the request on. */
export const UNHANDLED_HEADER = 'x-gatehouse-unhandled'

/** Builds the request handler for a set of routes. */
export function createRouter(routes: readonly Route[], onError?: ErrorHook): Handler {
  const app = new Hono({ strict: true })
  for (const route of routes) {
    const allow = Object.keys(route.methods)
    const head = route.head === true && allow.includes('GET')
    if (head) allow.push('HEAD')
    for (const [method, handler] of Object.entries(route.methods)) {
      app.on(method === 'GET' && head ? ['GET', 'HEAD'] : [method], route.path, async (c) => {
        // Hono hands a HEAD to the GET handler by itself: one whose GET changes state refuses it.
        if (!head && c.req.raw.method === 'HEAD') return methodNotAllowed(allow)
        try {
          return await handler(c.req.raw)
        } catch (error) {
          return toErrorResponse(error, onError)
        }
      })
    }
    app.on('OPTIONS', route.path, () =>
      route.cors ? preflightResponse([...allow, 'OPTIONS']) : methodNotAllowed(allow),
    )
    app.all(route.path, () => methodNotAllowed(allow))
  }
  app.notFound(() => errorResponse(404, { error: 'not_found' }, { [UNHANDLED_HEADER]: '1' }))
  app.onError((error) => toErrorResponse(error, onError))
  return async (request) => app.fetch(request)
}
