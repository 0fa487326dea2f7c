/**
 * Mount Gatehouse in Express (4 or 5): translation only, no protocol logic.
 */
import { UNHANDLED_HEADER } from '../http/app.js'
import type {
  NextFunction,
  Request as ExpressRequest,
  RequestHandler,
  Response as ExpressResponse,
} from 'express'

import { handleNodeRequest, sendWebResponse } from './node.js'
import type { NodeAdapterOptions, WebHandler } from './node.js'

/**
 * Express middleware that hands every request to the Gatehouse handler and falls through with
 * `next()` when the handler answers 404 with `x-gatehouse-unhandled: 1`, so the app's own routes
 * still work.
 *
 * Mount it before any body parser: Gatehouse reads the raw body itself. A request whose body was
 * already parsed goes to `next(error)` with an `Error` saying so. Options as in `toNodeHandler`
 * (`maxBodyBytes` default 1 MiB, `trustProxy` default `false`, `baseUrl`); Express's own
 * `trust proxy` setting is not consulted.
 */
export function gatehouseMiddleware(
  handler: WebHandler,
  options: NodeAdapterOptions = {},
): RequestHandler {
  return (req: ExpressRequest, res: ExpressResponse, next: NextFunction) => {
    if (req.body !== undefined) {
      throw new Error(
        'gatehouse: the request body was already parsed; mount gatehouseMiddleware() before body parsers such as express.json()',
      )
    }
    handleNodeRequest(handler, req, res, options)
      .then(async (response) => {
        if (response.status === 404 && response.headers.get(UNHANDLED_HEADER) === '1') {
          await response.body?.cancel()
          next()
          return
        }
        await sendWebResponse(res, response)
      })
      .catch(next)
  }
}
