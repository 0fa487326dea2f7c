/**
 * The only runtime imports of `@modelcontextprotocol/sdk` (an optional peer dependency): loaded
 * lazily, the first time `createMcpHandler` is called, so that importing `mcp-gatehouse` never needs
 * the SDK. Everything else in `src/mcp` imports the SDK as types only.
 */
import type { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js'
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js'
import { createSharedValidator } from './validator.js'

/** The SDK's Web-standard Streamable HTTP server transport class. */
export type TransportClass = typeof WebStandardStreamableHTTPServerTransport

let transportClass: Promise<TransportClass> | undefined

/** The transport class, imported once. */
export function loadTransportClass(): Promise<TransportClass> {
  transportClass ??= import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js').then(
    (m) => m.WebStandardStreamableHTTPServerTransport,
    (error: unknown) => {
      transportClass = undefined
      throw missingSdk(error)
    },
  )
  return transportClass
}

let defaultValidator: Promise<jsonSchemaValidator> | undefined

/**
 * The SDK's default JSON-schema validator (Ajv with formats), one per process for every server of
 * every handler, compiling each distinct schema once (`createSharedValidator`).
 */
export function sharedDefaultValidator(): Promise<jsonSchemaValidator> {
  defaultValidator ??= import('@modelcontextprotocol/sdk/validation/ajv').then(
    (m) => createSharedValidator(() => new m.AjvJsonSchemaValidator()),
    (error: unknown) => {
      defaultValidator = undefined
      throw missingSdk(error)
    },
  )
  return defaultValidator
}

function missingSdk(cause: unknown): Error {
  return new Error(
    'createMcpHandler needs the peer dependency @modelcontextprotocol/sdk (>= 1.32) installed',
    { cause },
  )
}
