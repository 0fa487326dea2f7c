/**
 * One JSON-schema validator for many MCP servers. The SDK builds an Ajv instance per server unless
 * `ServerOptions.jsonSchemaValidator` is given, which costs about a fifth of the CPU of a stateless
 * request; sharing one fixes that. But Ajv caches every compiled schema by object identity, forever,
 * and handlers often build their elicitation schemas afresh on each call: a shared Ajv would grow
 * without end. This wrapper compiles each distinct schema (by its JSON) once, and starts a fresh
 * inner validator after `maxSchemas` distinct schemas, so memory stays bounded.
 */
import type {
  JsonSchemaType,
  JsonSchemaValidator,
  jsonSchemaValidator,
} from '@modelcontextprotocol/sdk/validation/types.js'

/** A validator that compiles each distinct schema once, around validators made by `create`. */
export function createSharedValidator(
  create: () => jsonSchemaValidator,
  maxSchemas = 512,
): jsonSchemaValidator {
  let inner = create()
  const compiled = new Map<string, JsonSchemaValidator<unknown>>()
  return {
    getValidator<T>(schema: JsonSchemaType): JsonSchemaValidator<T> {
      const key = JSON.stringify(schema)
      let validate = compiled.get(key)
      if (validate === undefined) {
        if (compiled.size >= maxSchemas) {
          inner = create()
          compiled.clear()
        }
        validate = inner.getValidator<unknown>(schema)
        compiled.set(key, validate)
      }
      return validate as JsonSchemaValidator<T>
    },
  }
}
