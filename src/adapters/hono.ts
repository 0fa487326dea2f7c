/**
 * Mount Gatehouse in a Hono app as middleware: translation only, no protocol logic, no Node APIs.
 */
import { UNHANDLED_HEADER } from '../http/app.js'
import type { MiddlewareHandler } from 'hono'

/**
 * Hono middleware that hands every request to the Gatehouse handler and runs the next handler
 * (`await next()`) when Gatehouse answers 404 with `x-gatehouse-unhandled: 1`.
 *
 * Gatehouse reads `c.req.raw`, so mount it before middleware that consumes the body. Errors the
 * handler throws go to the app's `onError`.
 */
export function gatehouseHono(
  handler: (request: Request) => Response | Promise<Response>,
): MiddlewareHandler {
  return async (c, next) => {
    const response = await handler(c.req.raw)
    if (response.status === 404 && response.headers.get(UNHANDLED_HEADER) === '1') {
      await response.body?.cancel()
      await next()
      return
    }
    return response
  }
}
