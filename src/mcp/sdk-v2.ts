/**
 * The only runtime imports of `@modelcontextprotocol/server` (SDK 2.x, an optional peer
 * dependency), loaded lazily by `createMCPHandler({ sdk: 2 })` (or when SDK 1.x is absent).
 * SDK 2.x names the pieces as 1.x does: `WebStandardStreamableHTTPServerTransport` from the
 * package root, `AjvJsonSchemaValidator` from `/validators/ajv`; like 1.x it builds a new
 * validator per server unless `jsonSchemaValidator` is given, so the glue shares one here too.
 */
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js'
import type { StreamableTransportClass } from './transport.js'
import { createSharedValidator } from './validator.js'

/** The 2.x transport class. */
export async function importV2Transport(): Promise<StreamableTransportClass> {
  const m = await import('@modelcontextprotocol/server')
  return m.WebStandardStreamableHTTPServerTransport
}

/** The 2.x Ajv validator, shared (see `createSharedValidator`). */
export async function importV2Validator(): Promise<jsonSchemaValidator> {
  const m = await import('@modelcontextprotocol/server/validators/ajv')
  return createSharedValidator(() => new m.AjvJsonSchemaValidator())
}
