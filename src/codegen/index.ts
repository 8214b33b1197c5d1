/**
 * Code generation from a serialized schema: JSON Schema per model, the
 * OpenAPI 3.1 document of the HTTP API, and the typed client module. Used by
 * `ablo generate` and the engine's `/v1/openapi.json`; not a published subpath.
 */
export {
  fieldJsonSchema,
  modelJsonSchemas,
  modelTypeNames,
  JSON_SCHEMA_DIALECT,
  type JSONSchema,
  type FieldSchemaMode,
  type ModelJsonSchemas,
} from './jsonSchema.js';
export { generateOpenApi, type OpenApiOptions } from './openapi.js';
export { generateTypedClient, type TypedClientOptions } from './typedClient.js';
