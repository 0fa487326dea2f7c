/**
 * The only runtime imports of `@modelcontextprotocol/sdk` (SDK 1.x, an optional peer dependency),
 * and the choice between it and SDK 2.x (`sdk-v2.ts`): loaded lazily, the first time
 * `createMCPHandler` is called, so that importing `mcp-gatehouse` never needs either SDK.
 * Everything else in `src/mcp` imports the SDKs as types only.
 */
import type { jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js'
import { importV2Transport, importV2Validator } from './sdk-v2.js'
import type { MCPSDKVersion, StreamableTransportClass } from './transport.js'
import { createSharedValidator } from './validator.js'

/** What the glue takes from an SDK. */
export interface LoadedSDK {
  readonly version: MCPSDKVersion
  readonly Transport: StreamableTransportClass
}

const loaded = new Map<MCPSDKVersion | 'auto', Promise<LoadedSDK>>()
const validators = new Map<MCPSDKVersion, Promise<jsonSchemaValidator>>()

async function importV1Transport(): Promise<StreamableTransportClass> {
  const m = await import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js')
  return m.WebStandardStreamableHTTPServerTransport
}

async function importV1Validator(): Promise<jsonSchemaValidator> {
  const m = await import('@modelcontextprotocol/sdk/validation/ajv')
  return createSharedValidator(() => new m.AjvJsonSchemaValidator())
}

/**
 * The SDK's transport, imported once per version. Without `version`: 1.x when
 * `@modelcontextprotocol/sdk` is installed, else 2.x (`@modelcontextprotocol/server`).
 */
export function loadSDK(version?: MCPSDKVersion): Promise<LoadedSDK> {
  const key = version ?? 'auto'
  let sdk = loaded.get(key)
  if (sdk === undefined) {
    sdk = pick(version).catch((error: unknown) => {
      loaded.delete(key)
      throw error
    })
    loaded.set(key, sdk)
  }
  return sdk
}

async function pick(version: MCPSDKVersion | undefined): Promise<LoadedSDK> {
  if (version === 2) {
    try {
      return { version: 2, Transport: await importV2Transport() }
    } catch (error) {
      throw missing(2, error)
    }
  }
  try {
    return { version: 1, Transport: await importV1Transport() }
  } catch (error) {
    if (version === 1) throw missing(1, error)
    try {
      return { version: 2, Transport: await importV2Transport() }
    } catch {
      throw missing(undefined, error)
    }
  }
}

/**
 * The SDK's default JSON-schema validator (Ajv with formats), one per process and SDK version for
 * every server of every handler, compiling each distinct schema once (`createSharedValidator`).
 */
export function sharedDefaultValidator(version: MCPSDKVersion): Promise<jsonSchemaValidator> {
  let validator = validators.get(version)
  if (validator === undefined) {
    validator = (version === 2 ? importV2Validator() : importV1Validator()).catch(
      (error: unknown) => {
        validators.delete(version)
        throw missing(version, error)
      },
    )
    validators.set(version, validator)
  }
  return validator
}

function missing(version: MCPSDKVersion | undefined, cause: unknown): Error {
  const name =
    version === 1
      ? '@modelcontextprotocol/sdk (>= 1.32)'
      : version === 2
        ? '@modelcontextprotocol/server (>= 2.4)'
        : '@modelcontextprotocol/sdk (>= 1.32) or @modelcontextprotocol/server (>= 2.4)'
  return new Error(`createMCPHandler needs the peer dependency ${name} installed`, { cause })
}
