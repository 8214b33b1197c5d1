/**
 * MCP resources: what an agent can read about the engine without calling a
 * tool — the schema (`ablo://schema`), each model (`ablo://models/<name>`)
 * and a short guide to claims and stale guards (`ablo://guide/coordination`).
 *
 * Every read asks the engine for its schema at that moment (never a copy
 * taken at start), so a model pushed later is listed and a dropped one is
 * gone. The resources mirror the tools: a credential without `read` sees
 * neither the schema nor the models (their read tools are withheld), and the
 * server's `models` selection and disabled read tools apply here too.
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Operation, PrincipalObject } from '../src/protocol/operations.js';
import type { SerializedSchema } from '../src/schema/descriptor.js';
import { missingOperation } from './credential.js';
import type { EngineApi } from './engineApi.js';
import { COORDINATION_GUIDE } from './guide.js';
import { describeModel } from './tools/schema.js';

export const SCHEMA_URI = 'ablo://schema';
export const GUIDE_URI = 'ablo://guide/coordination';
export const MODEL_URI_TEMPLATE = 'ablo://models/{name}';
export const modelUri = (name: string): string => `ablo://models/${encodeURIComponent(name)}`;

/** JSON-RPC code the MCP spec gives "resource not found". */
export const RESOURCE_NOT_FOUND = -32002;

/** What decides which models a session may see; shared by the resources and the prompts. */
export interface ModelScope {
  api: EngineApi;
  principal: PrincipalObject | null;
  /** The server's `models` selection; empty or absent: every model of the live schema. */
  selection?: readonly string[];
  /** Tools left out by name (`disableTools`). */
  disabled: ReadonlySet<string>;
  readOnly: boolean;
  /** The tools this session offers now (for a model's resource: which of its tools to call). */
  tools: () => readonly string[];
}

/** The engine's schema now (an empty one before the first push). */
export async function liveSchema(scope: ModelScope): Promise<{ schema: SerializedSchema; hash: string | null; version: number | undefined }> {
  const doc = await scope.api.schema();
  return { schema: doc.schema ?? { formatVersion: 1, hash: '', models: {} }, hash: doc.hash ?? null, version: doc.version };
}

const may = (scope: ModelScope, needs: readonly Operation[]): boolean => missingOperation(scope.principal, needs) === null;

/** The models of `schema` this session may read about: as its `<model>_list` / `<model>_get` tools would be offered. */
export function visibleModels(scope: ModelScope, schema: SerializedSchema): string[] {
  if (!may(scope, ['read'])) return [];
  const selected = scope.selection && scope.selection.length > 0 ? new Set(scope.selection) : null;
  return Object.keys(schema.models).filter((m) => (!selected || selected.has(m)) && !(scope.disabled.has(`${m}_list`) && scope.disabled.has(`${m}_get`)));
}

/** The schema as `ablo_schema` returns it (every visible model), read now. */
export async function schemaJson(scope: ModelScope): Promise<Record<string, unknown>> {
  const { schema, hash, version } = await liveSchema(scope);
  const models: Record<string, unknown> = {};
  for (const m of visibleModels(scope, schema)) models[m] = describeModel(m, schema.models[m]!).model;
  return { models, hash, version };
}

/**
 * A JSON-RPC error for a request handler to throw. Not an `McpError`: its
 * message already starts "MCP error <code>:", and the client adds that prefix
 * again; the SDK sends any thrown error's `code`, `message` and `data`.
 */
export function rpcError(code: number, message: string, data: Record<string, unknown>): Error & { code: number; data: Record<string, unknown> } {
  return Object.assign(new Error(message), { code, data });
}

/** A model name this session cannot see: the error names the ones it can. */
export function unknownModel(name: string, visible: readonly string[], code: number): Error {
  return rpcError(code, `Unknown model "${name}". Models: ${visible.join(', ') || '(none: push a schema first, or use a credential that may read)'}.`, {
    code: 'unknown_model',
    model: name,
    valid: [...visible],
  });
}

const json = (uri: string, value: unknown): { contents: { uri: string; mimeType: string; text: string }[] } => ({
  contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value, null, 2) }],
});

/** Register the schema, model and guide resources on `server`. */
export function registerResources(server: McpServer, scope: ModelScope): void {
  // The guide holds no data: every session may read it.
  server.registerResource(
    'coordination-guide',
    GUIDE_URI,
    { title: 'Claims and stale guards', description: 'How agents share rows: claims (FIFO, leased), readAt and onStale, and the tools in order.', mimeType: 'text/markdown' },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/markdown', text: COORDINATION_GUIDE }] }),
  );

  if (!may(scope, ['read'])) return; // as ablo_schema and the read tools: withheld
  if (!scope.disabled.has('ablo_schema')) {
    server.registerResource(
      'schema',
      SCHEMA_URI,
      { title: 'Schema', description: "The engine's models now: fields, relations, sync groups (what ablo_schema returns).", mimeType: 'application/json' },
      async (uri) => json(uri.href, await schemaJson(scope)),
    );
  }

  const template = new ResourceTemplate(MODEL_URI_TEMPLATE, {
    list: async () => {
      const { schema } = await liveSchema(scope);
      return {
        resources: visibleModels(scope, schema).map((m) => ({
          uri: modelUri(m),
          name: `model ${m}`,
          title: `Model ${m}`,
          mimeType: 'application/json',
          description: schema.models[m]!.options.description ?? `Fields, sync groups and relations of ${m}.`,
        })),
      };
    },
    complete: {
      name: async (prefix) => {
        const { schema } = await liveSchema(scope);
        return visibleModels(scope, schema).filter((m) => m.startsWith(prefix));
      },
    },
  });
  server.registerResource(
    'model',
    template,
    { title: 'Model', description: 'One model: fields with types, enums and defaults; sync groups; relations; its tools.', mimeType: 'application/json' },
    async (uri, variables) => {
      const name = decodeURIComponent(String(variables.name ?? ''));
      const { schema, hash } = await liveSchema(scope);
      const visible = visibleModels(scope, schema);
      if (!visible.includes(name)) throw unknownModel(name, visible, RESOURCE_NOT_FOUND);
      const tools = scope.tools().filter((t) => t.startsWith(`${name}_`));
      return json(uri.href, {
        name,
        ...describeModel(name, schema.models[name]!).model,
        systemFields: {
          id: 'set by the engine on create unless given',
          createdAt: 'set by the engine',
          updatedAt: 'set by the engine',
          syncId: 'version of the row: pass it as readAt on writes',
        },
        tools,
        schemaHash: hash,
      });
    },
  );
}
