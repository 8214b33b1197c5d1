/**
 * What every tool's `structuredContent` looks like: the `outputSchema` each
 * tool declares in tools/list, as JSON Schema built from the schema's model
 * descriptors (rows come from src/codegen/jsonSchema.ts, the same schemas
 * the generated client and OpenAPI use) and from the wire shapes in
 * src/protocol (receipts, claims, participants).
 *
 * Every output schema accepts a success result of its tool or a failure
 * (`{ error }`, the shape of `toolErrorSchema`): clients of MCP SDK 1.x
 * check `structuredContent` against the declared schema even on `isError`
 * results, so a success-only schema would turn every refusal into a protocol
 * error before the agent saw it. The root stays `type: "object"`; an `anyOf`
 * says which keys each outcome requires.
 *
 * A row cut to fit the output budget (`clippedFields`, see ./render.ts
 * `clipRow`) still validates: every field a cut can touch also accepts a
 * string ending in the cut marker.
 *
 * The schemas are plain JSON Schema data; `sdkOutputSchema` is the one place
 * that adapts them to the SDK's `registerTool` (Zod for SDK 1.x).
 */
import { z } from 'zod';
import { modelJsonSchemas, type JSONSchema } from '../src/codegen/jsonSchema.js';
import { ERROR_TYPES, type AbloErrorType } from '../src/errors.js';
import { claimSchema } from '../src/protocol/claims.js';
import { commitReceiptSchema, participantSchema, rowSchema } from '../src/protocol/commit.js';
import type { FieldDescriptor, ModelDescriptor, SerializedSchema } from '../src/schema/descriptor.js';
import { CLIPPED_VALUE_PATTERN } from './render.js';

/** A tool's output schema: a JSON Schema object whose root is `type: "object"`. */
export type ToolOutput = JSONSchema & { type: 'object' };

// ---------------------------------------------------------------------------
// Failures

const OTHER_ERROR_TYPES = ERROR_TYPES.filter((t) => t !== 'stale_context') as [AbloErrorType, ...AbloErrorType[]];

const errorCore = {
  /** The error family (src/errors.ts), stable across versions. */
  type: z.enum(ERROR_TYPES as [AbloErrorType, ...AbloErrorType[]]),
  /** The registered code within the family, e.g. `row_not_found`. */
  code: z.string(),
  /** What happened. */
  message: z.string(),
  /** What to do next: one sentence an agent can act on. */
  fix: z.string(),
};

/** A write refused because what it read changed since `readAt` (`stale_context`). */
export const staleErrorSchema = z
  .object({
    ...errorCore,
    type: z.literal('stale_context'),
    model: z.string().optional(),
    id: z.string().optional(),
    /** The readAt to retry with: the sync id of the values below. */
    readAt: z.number().int().nonnegative(),
    /** The readAt the refused write was sent with. */
    staleReadAt: z.number().int().nonnegative().optional(),
    observedSyncId: z.number().int().nonnegative().optional(),
    conflictingFields: z.array(z.string()),
    /** The conflicting fields as they are now. */
    currentValues: z.record(z.string(), z.unknown()),
    writtenBy: participantSchema.nullable(),
    onBehalfOf: participantSchema.optional(),
    group: z.string().optional(),
    historyPruned: z.boolean().optional(),
    changeLogFloor: z.number().optional(),
    /** The whole row as it is now; null when it no longer exists. */
    currentRow: rowSchema.nullable().optional(),
  })
  .catchall(z.unknown());

/** Any other failure; the details its type carries are listed, more may follow. */
export const otherErrorSchema = z
  .object({
    ...errorCore,
    type: z.enum(OTHER_ERROR_TYPES),
    model: z.string().optional(),
    id: z.string().optional(),
    /** The argument or field at fault (dotted, e.g. `data.status`). */
    field: z.string().optional(),
    issues: z.array(z.object({ field: z.string(), code: z.string(), message: z.string() }).catchall(z.unknown())).optional(),
    /** claimed: who holds the row, what they said they are doing, until when. */
    holder: participantSchema.nullable().optional(),
    action: z.string().nullable().optional(),
    expiresAt: z.string().optional(),
    queueLength: z.number().int().nonnegative().optional(),
    /** permission_error: the operation refused and the ones allowed. */
    operation: z.string().optional(),
    allowed: z.array(z.string()).optional(),
  })
  .catchall(z.unknown());

/**
 * `structuredContent.error` of every failed call (`isError: true`): `type`,
 * `code`, `message`, `fix`, and the details of its type — for
 * `stale_context`, `readAt` and `currentValues` always.
 */
export const toolErrorSchema = z.discriminatedUnion('type', [staleErrorSchema, otherErrorSchema]);
export type ToolError = z.infer<typeof toolErrorSchema>;

// ---------------------------------------------------------------------------
// Shapes other helpers return (claims that keep their place, presence)

/** Who holds a row now (`<model>_get`'s `claim`). */
export const claimHolderSchema = z.object({ holder: participantSchema, action: z.string().nullable(), expiresAt: z.string() });

/** Who waits for a row, in order (`<model>_get`'s `queue`). */
export const claimQueueSchema = z.array(z.object({ participant: participantSchema, action: z.string().nullable(), position: z.number().int().positive() }));

/** A claim still waiting after the patience window: resume with `<model>_claim { id, ticket }`. */
export const claimWaitingSchema = z.object({
  status: z.literal('waiting'),
  model: z.string(),
  id: z.string(),
  position: z.number().int().positive(),
  ticket: z.string(),
  ticketExpiresAt: z.string(),
  holder: participantSchema.nullable(),
});

/** The presence tool's result: who is on a group. */
export const presenceOutputSchema = z.object({
  group: z.string(),
  members: z.array(
    z.object({
      participant: participantSchema,
      state: z.record(z.string(), z.unknown()),
      connectedAt: z.string().optional(),
      updatedAt: z.string().optional(),
    }),
  ),
});

// ---------------------------------------------------------------------------
// JSON Schema building blocks

/**
 * A Zod wire shape as JSON Schema (draft-07, which every MCP client reads). As
 * input: a shape that allows more keys keeps allowing them, so a newer engine
 * adding a key to a receipt does not break an older server's schema.
 */
export function zodJsonSchema(schema: z.ZodType): JSONSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-7', io: 'input' }) as JSONSchema;
  return rest;
}

/**
 * The failure as every output schema lists it: the four keys every error has
 * (the details by type are `toolErrorSchema`'s, documented in docs/mcp.md;
 * repeating them in each tool would multiply the size of tools/list).
 */
const ERROR_JSON: JSONSchema = {
  type: 'object',
  properties: {
    type: { type: 'string', enum: [...ERROR_TYPES] },
    code: { type: 'string' },
    message: { type: 'string' },
    fix: { type: 'string', description: 'What to do next.' },
  },
  required: ['type', 'code', 'message', 'fix'],
};
const RECEIPT_JSON = zodJsonSchema(commitReceiptSchema);
const CLAIM_JSON = zodJsonSchema(claimSchema);
const CLIPPED_VALUE: JSONSchema = { type: 'string', pattern: CLIPPED_VALUE_PATTERN, description: 'A value cut to fit the output budget (its field is in clippedFields).' };
const CLIPPED_FIELDS: JSONSchema = { type: 'array', items: { type: 'string' }, description: 'Fields of the row cut to fit the output budget; get the row again for them whole.' };
const HELD_STATUS: JSONSchema = { type: 'string', enum: ['held', 'partial'], description: 'The write was held (onStale "notify"): the receipt\'s notifications say what changed.' };

/**
 * A field's schema that also accepts a cut value, for the values `clipRow`
 * cuts: longer than 64 characters as JSON, so strings, lists and objects (a
 * JSON field's schema takes a string already), never numbers, booleans or
 * dates. Of the system fields only `id` can be that long.
 */
function clippable(field: string, schema: JSONSchema, d: FieldDescriptor | undefined): JSONSchema {
  if (d ? d.type === 'number' || d.type === 'boolean' || d.type === 'date' || d.type === 'json' : field !== 'id') return schema;
  const { description, ...value } = schema;
  return { ...(description ? { description } : {}), anyOf: [value, CLIPPED_VALUE] };
}

/** Row schemas of a whole schema, computed once per schema object. */
const rowSchemasBySchema = new WeakMap<SerializedSchema, Record<string, JSONSchema>>();

/** The row of `model` as a tool returns it: the generated row schema, each cuttable field also accepting a cut value. */
export function rowOutputSchema(serialized: SerializedSchema, model: string): JSONSchema {
  let rows = rowSchemasBySchema.get(serialized);
  if (!rows) {
    rows = Object.fromEntries(Object.entries(modelJsonSchemas(serialized)).map(([name, s]) => [name, s.row]));
    rowSchemasBySchema.set(serialized, rows);
  }
  const row = rows[model];
  if (!row) throw new Error(`rowOutputSchema: no model "${model}" in the schema`);
  const { $schema: _dialect, ...rest } = row;
  const descriptor: ModelDescriptor | undefined = serialized.models[model];
  const properties = Object.fromEntries(
    Object.entries(rest.properties as Record<string, JSONSchema>).map(([field, s]) => [field, clippable(field, s, descriptor?.fields[field])]),
  );
  return { ...rest, properties };
}

interface Outcome {
  /** Keys this outcome always has. */
  required: string[];
  /** Narrower schemas of shared keys for this outcome (e.g. `status: { const: 'waiting' }`). */
  properties?: Record<string, JSONSchema>;
  description?: string;
}

/**
 * A tool's output schema: its keys (`properties`), the outcomes a success can
 * be (which keys each requires), and the failure (`{ error }`).
 */
export function toolOutput(title: string, properties: Record<string, JSONSchema>, outcomes: Outcome[]): ToolOutput {
  return {
    type: 'object',
    title,
    properties: { ...properties, error: { ...ERROR_JSON, description: 'Only on a failed call (isError: true), with the details of its type.' } },
    anyOf: [
      ...outcomes.map((o) => ({ ...(o.description ? { description: o.description } : {}), ...(o.properties ? { properties: o.properties } : {}), required: o.required, not: { required: ['error'] } })),
      { description: 'A failed call: error alone.', required: ['error'], maxProperties: 1 },
    ],
  };
}

// ---------------------------------------------------------------------------
// The tools

/** Output schemas of one model's tools. */
export interface ModelOutputs {
  list: ToolOutput;
  get: ToolOutput;
  create: ToolOutput;
  update: ToolOutput;
  delete: ToolOutput;
  claim: ToolOutput;
  release: ToolOutput;
}

const outputsBySchema = new WeakMap<SerializedSchema, Map<string, ModelOutputs>>();

/** The output schemas of `model`'s seven tools (built once per schema and model). */
export function modelOutputs(serialized: SerializedSchema, model: string): ModelOutputs {
  let byModel = outputsBySchema.get(serialized);
  if (!byModel) outputsBySchema.set(serialized, (byModel = new Map()));
  const cached = byModel.get(model);
  if (cached) return cached;
  const row = rowOutputSchema(serialized, model);
  const held = { status: HELD_STATUS, receipt: RECEIPT_JSON };
  const heldOutcome: Outcome = { description: 'Held by onStale "notify": nothing written.', required: ['status', 'receipt'] };
  const name = { type: 'string', const: model };
  const outputs: ModelOutputs = {
    list: toolOutput(
      `${model}_list result`,
      {
        data: { type: 'array', items: row, description: 'The rows of this page, in order.' },
        hasMore: { type: 'boolean', description: 'More rows follow: call again with cursor=nextCursor.' },
        nextCursor: { type: 'string', description: 'Pass as cursor for the next page (only when hasMore).' },
        model: name,
        count: { type: 'integer', minimum: 0, description: 'Rows in data.' },
        clippedFields: CLIPPED_FIELDS,
      },
      [{ required: ['data', 'hasMore', 'model', 'count'] }],
    ),
    get: toolOutput(
      `${model}_get result`,
      {
        row,
        claim: { anyOf: [zodJsonSchema(claimHolderSchema), { type: 'null' }], description: 'Who holds the row now; null when no one does.' },
        queue: { ...zodJsonSchema(claimQueueSchema), description: 'Who waits for the row, in order.' },
        clippedFields: CLIPPED_FIELDS,
      },
      [{ required: ['row', 'claim', 'queue'] }],
    ),
    create: toolOutput(`${model}_create result`, { row, clippedFields: CLIPPED_FIELDS }, [{ required: ['row'] }]),
    update: toolOutput(`${model}_update result`, { row, clippedFields: CLIPPED_FIELDS, ...held }, [{ description: 'Written: the row as it is now.', required: ['row'] }, heldOutcome]),
    delete: toolOutput(
      `${model}_delete result`,
      { deleted: { type: 'boolean', const: true }, model: name, id: { type: 'string' }, syncId: { type: 'integer', minimum: 0 }, ...held },
      [{ description: 'Deleted.', required: ['deleted', 'model', 'id', 'syncId'] }, heldOutcome],
    ),
    claim: toolOutput(
      `${model}_claim result`,
      {
        ...(zodJsonSchema(claimWaitingSchema).properties as Record<string, JSONSchema>),
        status: { type: 'string', enum: ['granted', 'waiting'] },
        claim: CLAIM_JSON,
        row,
        clippedFields: CLIPPED_FIELDS,
      },
      [
        { description: 'Granted: the claim and the row as it is now.', properties: { status: { const: 'granted' } }, required: ['status', 'claim', 'row'] },
        { description: 'Still waiting: call again with the ticket to keep this place in line.', properties: { status: { const: 'waiting' } }, required: Object.keys(claimWaitingSchema.shape) },
      ],
    ),
    release: toolOutput(
      `${model}_release result`,
      { released: { type: 'boolean' }, model: name, id: { type: 'string' }, claimId: { type: 'string' } },
      [{ required: ['released', 'model', 'id'] }],
    ),
  };
  byModel.set(model, outputs);
  return outputs;
}

/** `ablo_schema`: the models, the schema hash and version. */
export const SCHEMA_OUTPUT: ToolOutput = toolOutput(
  'ablo_schema result',
  {
    models: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: {
          idPrefix: { type: 'string' },
          syncGroups: { type: 'array', items: { type: 'string' } },
          fields: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              properties: {
                type: { type: 'string' },
                required: { type: 'boolean' },
                nullable: { type: 'boolean' },
                default: {},
                description: { type: 'string' },
                values: { type: 'array', items: { type: 'string' } },
                format: { type: 'string' },
                constraints: { type: 'array', items: { type: 'string' } },
              },
              required: ['type', 'required', 'nullable'],
            },
          },
          relations: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              properties: { kind: { type: 'string', enum: ['belongsTo', 'hasMany'] }, model: { type: 'string' }, foreignKey: { type: 'string' } },
              required: ['kind', 'model', 'foreignKey'],
            },
          },
          description: { type: 'string' },
        },
        required: ['idPrefix', 'syncGroups', 'fields', 'relations'],
      },
    },
    hash: { type: ['string', 'null'] },
    version: { type: 'integer', minimum: 0 },
    changedSinceStart: { type: 'boolean', const: true },
  },
  [{ required: ['models', 'hash', 'version'] }],
);

/** `ablo_commit`: the receipt. */
export const COMMIT_OUTPUT: ToolOutput = toolOutput('ablo_commit result', { receipt: RECEIPT_JSON }, [{ required: ['receipt'] }]);

/** The presence tool's output schema. */
export const PRESENCE_OUTPUT: ToolOutput = toolOutput('ablo_presence result', zodJsonSchema(presenceOutputSchema).properties as Record<string, JSONSchema>, [{ required: ['group', 'members'] }]);

/**
 * A tool's output schema as `registerTool` takes it. SDK 1.x wants a Zod
 * object and converts it itself; Zod puts a schema's metadata into the JSON
 * Schema it makes, so an open object carrying the whole output schema as
 * metadata lists exactly `output`. (SDK 2.x takes any Standard Schema with a
 * JSON Schema: only this function changes.)
 */
export function sdkOutputSchema(output: ToolOutput): z.ZodObject {
  return z.looseObject({}).meta(output);
}
