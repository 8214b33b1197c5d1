/**
 * Tool input schemas, built from the engine's serialized schema. They are Zod
 * types, so the MCP SDK both validates arguments with them and publishes them
 * as JSON Schema in `tools/list` (field types, enums, constraints, defaults and
 * descriptions included). The engine validates every write again; these exist
 * so a client sees the real shape and a wrong argument is named before a
 * request is made.
 *
 * Each object is strict, and its own error message lists the valid keys, so
 * an unknown field comes back as "unknown field X; valid fields: …".
 */
import { scalarKind, type Scalar } from '../src/protocol/listQuery.js';
import { z } from 'zod';
import { fieldZod } from '../src/schema/compile.js';
import type { FieldDescriptor, ModelDescriptor } from '../src/schema/descriptor.js';
import { MAX_LIST_LIMIT } from '../src/protocol/listQuery.js';
import {
  CLAIM_ACTION_MAX_CHARS,
  CLAIM_LEASE_DEFAULT_SECONDS,
  CLAIM_LEASE_MAX_SECONDS,
  CLAIM_LEASE_MIN_SECONDS,
} from '../src/protocol/claims.js';
import { MAX_OPERATIONS_PER_COMMIT, MAX_READS_PER_COMMIT } from '../src/protocol/commit.js';
import { hasLoneSurrogate } from '../src/protocol/json.js';
import { PRESENCE_GROUP_MAX_CHARS } from '../src/protocol/presence.js';

/** Fields every stored row has, besides the model's own. */
export const SYSTEM_FIELDS = ['id', 'createdAt', 'updatedAt', 'syncId'] as const;
export const DEFAULT_MCP_LIST_LIMIT = 100;

/** A whole number as JSON Schema `integer` (without Zod's ±2^53 bounds, which only cost tokens). */
function integer(min?: number, max?: number): z.ZodType<number> {
  let n = z.number();
  if (min !== undefined) n = n.gte(min);
  if (max !== undefined) n = n.lte(max);
  return n.refine(Number.isInteger, { message: 'Expected a whole number.' }).meta({ type: 'integer' }) as unknown as z.ZodType<number>;
}

/** A strict object whose unknown-key error names the valid keys. */
export function strictObject(shape: Record<string, z.ZodType>, what: string): z.ZodObject {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys') {
        const unknown = (iss as unknown as { keys: string[] }).keys;
        return `Unknown ${unknown.length === 1 ? 'key' : 'keys'} ${unknown.map((k) => `"${k}"`).join(', ')} in ${what}. Valid keys: ${keys.join(', ') || '(none)'}.`;
      }
      if (iss.code === 'invalid_type') return `${what} must be an object with keys: ${keys.join(', ') || '(none)'}.`;
      return undefined;
    },
  });
}

/** The base type of a field for MCP input: like the engine's, but dates and integers in plain JSON Schema form. */
function baseType(d: FieldDescriptor): z.ZodType {
  if (d.type === 'date') {
    // The engine checks the exact ISO form; the JSON Schema says which one.
    return z.string().meta({ format: d.format === 'date' ? 'date' : 'date-time' });
  }
  if (d.type === 'number' && (d.checks ?? []).some((c) => c.kind === 'int')) {
    let min: number | undefined;
    let max: number | undefined;
    let exact = true;
    for (const c of d.checks ?? []) {
      if (c.kind === 'int') continue;
      if (c.kind === 'min' && c.inclusive) min = c.value;
      else if (c.kind === 'max' && c.inclusive) max = c.value;
      else exact = false;
    }
    if (exact) return integer(min, max);
  }
  const { nullable: _n, optional: _o, default: _d, description: _desc, ...base } = d;
  return fieldZod(base as FieldDescriptor);
}

function describeField(d: FieldDescriptor): string | undefined {
  const parts: string[] = [];
  if (d.description) parts.push(d.description);
  if (d.type === 'date') parts.push(d.format === 'date' ? 'ISO date, YYYY-MM-DD.' : 'ISO date-time, e.g. 2025-01-31T12:00:00Z.');
  return parts.length ? parts.join(' ') : undefined;
}

function withMeta(t: z.ZodType, d: FieldDescriptor, includeDefault: boolean): z.ZodType {
  const meta: Record<string, unknown> = {};
  const description = describeField(d);
  if (description) meta.description = description;
  if (includeDefault && d.default !== undefined) meta.default = d.default;
  return Object.keys(meta).length ? t.meta(meta) : t;
}

/** A field as written on create: required unless it has a default or is optional. */
export function createFieldInput(d: FieldDescriptor): z.ZodType {
  let t = baseType(d);
  if (d.nullable) t = t.nullable();
  t = withMeta(t, d, true);
  return d.default !== undefined || d.optional ? t.optional() : t;
}

/** A field as written on update: always optional; null clears a nullable or optional field. */
export function updateFieldInput(d: FieldDescriptor): z.ZodType {
  let t = baseType(d);
  if (d.nullable || d.optional) t = t.nullable();
  return withMeta(t, d, false).optional();
}



const SYSTEM_KINDS: Record<(typeof SYSTEM_FIELDS)[number], Scalar> = { id: 'string', createdAt: 'string', updatedAt: 'string', syncId: 'number' };

/** Fields usable in `where` and `orderBy`: id, the model's scalar fields, createdAt, updatedAt, syncId. */
export function queryableFields(model: ModelDescriptor): Array<{ name: string; kind: Scalar; field?: FieldDescriptor }> {
  const out: Array<{ name: string; kind: Scalar; field?: FieldDescriptor }> = [{ name: 'id', kind: 'string' }];
  for (const [name, d] of Object.entries(model.fields)) {
    const kind = scalarKind(d);
    if (kind) out.push({ name, kind, field: d });
  }
  for (const name of ['createdAt', 'updatedAt', 'syncId'] as const) out.push({ name, kind: SYSTEM_KINDS[name] });
  return out;
}

function filterValue(kind: Scalar, d: FieldDescriptor | undefined): z.ZodType {
  if (d?.type === 'enum') return z.enum(d.values as [string, ...string[]]);
  return kind === 'string' ? z.string() : kind === 'number' ? z.number() : z.boolean();
}

export interface ModelInputs {
  data: { create: z.ZodObject; update: z.ZodObject };
  where: z.ZodObject;
  orderBy: z.ZodObject;
  fieldNames: string[];
  queryable: string[];
}

export function modelInputs(name: string, model: ModelDescriptor): ModelInputs {
  const createShape: Record<string, z.ZodType> = {};
  const updateShape: Record<string, z.ZodType> = {};
  for (const [field, d] of Object.entries(model.fields)) {
    createShape[field] = createFieldInput(d);
    updateShape[field] = updateFieldInput(d);
  }
  const whereShape: Record<string, z.ZodType> = {};
  const orderShape: Record<string, z.ZodType> = {};
  const queryable = queryableFields(model);
  for (const q of queryable) {
    const value = filterValue(q.kind, q.field);
    whereShape[q.name] = z.union([value, z.array(value).max(1000)]).nullable().optional();
    orderShape[q.name] = z.enum(['asc', 'desc']).optional();
  }
  return {
    data: {
      create: strictObject(createShape, `${name} data`).describe(`Fields of the new ${name} row.`),
      update: strictObject(updateShape, `${name} data`).describe(`Only the fields to change (at least one); null clears a nullable field.`),
    },
    where: strictObject(whereShape, `${name} where`).describe(
      'Filter: field → value (equality), or an array of values (any of). null matches empty fields. Several fields: all must match.',
    ),
    orderBy: strictObject(orderShape, `${name} orderBy`).describe('Sort: field → "asc" | "desc", in priority order; id breaks ties.'),
    fieldNames: Object.keys(model.fields),
    queryable: queryable.map((q) => q.name),
  };
}

/** A row id: it goes into the engine's URL paths, so it must be well-formed text (a lone surrogate cannot be URL-encoded). */
export const idInput = z
  .string()
  .min(1)
  .max(128)
  .refine((s) => !hasLoneSurrogate(s), { message: 'Ids are well-formed text: this one holds a lone UTF-16 surrogate.' });
const readAtBare = integer(0);
const onStaleBare = z.enum(['reject', 'overwrite', 'notify']);
export const readAtInput = integer(0).describe(
  "Stale-write guard: the row's syncId when you read it. If someone changed the fields you write since then, nothing is written and you get their current values.",
);
export const onStaleInput = onStaleBare.describe(
  'When readAt finds a change: reject (default; an error with the current values), overwrite (write anyway), notify (do not write; report it).',
);

export function listArgs(name: string, inputs: ModelInputs): z.ZodObject {
  return strictObject(
    {
      where: inputs.where.optional(),
      orderBy: inputs.orderBy.optional(),
      limit: integer(1, MAX_LIST_LIMIT)
        .describe(`Most rows to return (1–${MAX_LIST_LIMIT}, default ${DEFAULT_MCP_LIST_LIMIT}); a page may hold fewer to stay within the output budget.`)
        .optional(),
      cursor: z
        .string()
        .min(1)
        .max(20_000)
        .describe('nextCursor from the previous page. It remembers where, orderBy and limit, so you can pass it alone.')
        .optional(),
    },
    `${name}_list arguments`,
  );
}

export function getArgs(name: string): z.ZodObject {
  return strictObject({ id: idInput.describe(`Id of the ${name} row.`) }, `${name}_get arguments`);
}

export function createArgs(name: string, inputs: ModelInputs, idPrefix: string): z.ZodObject {
  return strictObject(
    {
      data: inputs.data.create,
      id: idInput
        .regex(/^[A-Za-z0-9_\-:.]+$/, 'Ids use letters, digits and _ - : . only.')
        .describe(`Optional id for the new row (letters, digits, _ - : .). Default: a new ${idPrefix}_… id.`)
        .optional(),
    },
    `${name}_create arguments`,
  );
}

export function updateArgs(name: string, inputs: ModelInputs): z.ZodObject {
  return strictObject(
    {
      id: idInput.describe(`Id of the ${name} row to change.`),
      data: inputs.data.update,
      readAt: readAtInput.optional(),
      onStale: onStaleInput.optional(),
    },
    `${name}_update arguments`,
  );
}

export function deleteArgs(name: string): z.ZodObject {
  return strictObject(
    {
      id: idInput.describe(`Id of the ${name} row to delete.`),
      readAt: readAtInput.optional(),
      onStale: onStaleInput.optional(),
    },
    `${name}_delete arguments`,
  );
}

export function claimArgs(name: string): z.ZodObject {
  return strictObject(
    {
      id: idInput.describe(`Id of the ${name} row to claim.`),
      action: z.string().max(CLAIM_ACTION_MAX_CHARS).describe('What you are doing, shown to others who find the row claimed (e.g. "summarizing").').optional(),
      wait: z
        .boolean()
        .describe(
          'Wait in line when someone else holds the row (default true: this call returns the row when it is your turn, or your place in line and a ticket if the turn has not come within the wait). false: fail at once, naming the holder (with a ticket: only check your place, without waiting).',
        )
        .optional(),
      leaseSeconds: integer(CLAIM_LEASE_MIN_SECONDS, CLAIM_LEASE_MAX_SECONDS)
        .describe(`Lease length (default ${CLAIM_LEASE_DEFAULT_SECONDS}); renewed automatically while this MCP session is open.`)
        .optional(),
      waitSeconds: z
        .number()
        .positive()
        .max(86_400)
        .describe("Wait at most this long in this call (default and most: the server's claim patience, about a minute); then you get your place in line and a ticket.")
        .optional(),
      ticket: z
        .string()
        .min(1)
        .max(128)
        .describe(`The ticket of an earlier ${name}_claim that answered status "waiting": resumes that same place in line (same id). Without it, this session resumes its own place for the row anyway.`)
        .optional(),
    },
    `${name}_claim arguments`,
  );
}

export function releaseArgs(name: string): z.ZodObject {
  return strictObject({ id: idInput.describe(`Id of the ${name} row whose claim (held by this session) to release.`) }, `${name}_release arguments`);
}

export function presenceArgs(): z.ZodObject {
  return strictObject(
    {
      group: z
        .string()
        .min(1)
        .max(PRESENCE_GROUP_MAX_CHARS)
        .describe('One exact sync group, e.g. "board:123" (no * pattern). ablo_schema names each model\'s sync group format.'),
    },
    'ablo_presence arguments',
  );
}

export function schemaArgs(models: readonly string[]): z.ZodObject {
  return strictObject(
    {
      models: z
        .array(models.length > 0 ? z.enum(models as [string, ...string[]]) : z.string())
        .describe('Only these models (default: every model this server exposes).')
        .optional(),
    },
    'ablo_schema arguments',
  );
}

export function commitArgs(models: readonly string[]): z.ZodObject {
  const model = models.length > 0 ? z.enum(models as [string, ...string[]]) : z.string();
  const fields = z.record(z.string(), z.unknown());
  const op = z.discriminatedUnion('op', [
    strictObject({ op: z.literal('create'), model, id: idInput.optional(), data: fields }, 'a create operation'),
    strictObject(
      { op: z.literal('update'), model, id: idInput, data: fields, readAt: readAtBare.optional(), onStale: onStaleBare.optional() },
      'an update operation',
    ),
    strictObject({ op: z.literal('delete'), model, id: idInput, readAt: readAtBare.optional(), onStale: onStaleBare.optional() }, 'a delete operation'),
  ]);
  const read = z.union([
    strictObject(
      {
        model,
        id: idInput,
        readAt: readAtBare,
        fields: z.array(z.string()).max(200).describe('Only these fields matter (default: any change to the row).').optional(),
        onStale: onStaleBare.optional(),
      },
      'a row read',
    ),
    strictObject({ group: z.string().min(1).max(200), readAt: readAtBare, onStale: onStaleBare.optional() }, 'a sync-group read'),
  ]);
  return strictObject(
    {
      operations: z
        .array(op)
        .min(1)
        .max(MAX_OPERATIONS_PER_COMMIT)
        .describe(
          'Applied atomically, in order: all or nothing. data is checked per model as in <model>_create / <model>_update; readAt / onStale work as there.',
        ),
      reads: z
        .array(read)
        .max(MAX_READS_PER_COMMIT)
        .describe(
          'What this batch depends on: { model, id, readAt, fields? } (a row as of readAt) or { group, readAt }. If it moved after readAt, onStale applies to the whole batch.',
        )
        .optional(),
      idempotencyKey: z.string().min(1).max(255).describe('Sending the same key again returns the first receipt and writes nothing.').optional(),
    },
    'ablo_commit arguments',
  );
}
