/**
 * Answers of the HTTP API (SPEC §3), as Zod schemas: the engine shapes its
 * answers with these types, and the one engine client (src/client/engineApi.ts)
 * parses what it receives with them. Request bodies and claim shapes live next
 * to their topic (commit.ts, claims.ts); errors are the envelope of
 * src/errors.ts.
 *
 * Unknown fields are not an error (a field a newer engine adds passes a client
 * that does not know it yet), and the client hands back the answer as received,
 * not the parsed copy, so nothing is dropped or reordered.
 */
import { z } from 'zod';
import type { SerializedSchema } from '../schema/descriptor.js';
import type { SchemaPlan } from '../schema/plan.js';
import { changeSchema, participantSchema, rowSchema, type Row } from './commit.js';
import { OPERATIONS } from './operations.js';
import { groupPatternSchema } from './sessions.js';

const syncId = z.number().int().nonnegative();
const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A page of a list (`{ object: 'list', data, hasMore }`) with items of `item`. */
export function listPageSchema<T extends z.ZodType>(item: T) {
  return z.object({ object: z.literal('list'), data: z.array(item), hasMore: z.boolean() });
}
/** Every list answer: rows of a model, API keys, the change log. */
export interface ListPage<T> {
  object: 'list';
  data: T[];
  hasMore: boolean;
}

/** `GET /v1/models/:model`. */
export const rowPageSchema = listPageSchema(rowSchema);
export type RowPage = ListPage<Row>;

/** `GET /v1/changes`: the change log after a sync id, and the engine's watermark. */
export const changesPageSchema = listPageSchema(changeSchema).extend({ lastSyncId: syncId });
export type ChangesPage = z.infer<typeof changesPageSchema>;

/** `GET /v1/health` (no key needed); `ablo status` shows it. */
export const healthSchema = z.object({
  ok: z.boolean(),
  /** The engine's package version. */
  version: z.string(),
  schemaHash: z.string().nullable(),
  schemaVersion: z.number().int().nonnegative().optional(),
  lastSyncId: syncId,
  /** Open sync sockets. */
  connections: z.number().int().nonnegative().optional(),
  /** Lowest sync id still in the change log (0: nothing pruned yet); a client behind it gets a bootstrap. */
  changeLogFloor: syncId.optional(),
  /** How long the change log and idempotency records are kept, in ms (docs/engine.md "Retention"). */
  retention: z.object({ changeLogMs: z.number(), idempotencyMs: z.number() }).optional(),
});
export type Health = z.infer<typeof healthSchema>;

/** `GET /v1/schema`: the serialized schema (null before the first push). */
export const schemaDocumentSchema = z.object({
  object: z.literal('schema'),
  version: z.number().int().nonnegative(),
  hash: z.string().nullable(),
  schema: z.custom<SerializedSchema>(isObject, 'Expected a serialized schema object.').nullable(),
});
export type SchemaDocument = z.infer<typeof schemaDocumentSchema>;

/** What a schema push did: the plan, whether it was applied, and why not. */
export const pushResultSchema = z.object({
  plan: z.custom<SchemaPlan>((v) => isObject(v) && Array.isArray((v as { changes?: unknown }).changes), 'Expected a schema plan.'),
  applied: z.boolean(),
  /** Why nothing was applied, when `applied` is false and the plan has changes. */
  reason: z.enum(['dry_run', 'needs_confirmation']).optional(),
  version: z.number().int().nonnegative(),
  hash: z.string(),
});
export type PushResult = z.infer<typeof pushResultSchema>;
/** `POST /v1/schema`. */
export const schemaPushAnswerSchema = pushResultSchema.extend({ object: z.literal('schema_push') });
export type SchemaPushAnswer = z.infer<typeof schemaPushAnswerSchema>;

/** An API key as the API shows it: never the hash; the key itself only in the answer that created it. */
export const apiKeySchema = z.object({
  object: z.literal('api_key'),
  id: z.string(),
  name: z.string(),
  /** First characters of the key (`sk_test_AbC1`, `rk_live_x9Z2`). */
  prefix: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  participant: participantSchema,
  /** `secret` (`sk_…`: everything) or `restricted` (`rk_…`: its groups and operations). */
  kind: z.enum(['secret', 'restricted']),
  /** `'all'` (a secret key), or the restricted key's sync group patterns. */
  groups: z.union([z.literal('all'), z.array(z.string())]),
  /** What the key may do (`write` shows as create, update, delete). */
  operations: z.array(z.enum(OPERATIONS)),
  /** `POST /v1/keys` only: shown once, the engine keeps its hash. */
  key: z.string().optional(),
  /** `DELETE /v1/keys/:id` only. */
  revoked: z.literal(true).optional(),
});
export type ApiKeyObject = z.infer<typeof apiKeySchema>;

/** Operations a restricted key may be made with: every one but `sessions` (minting sessions takes a secret key), or `write`. */
export const KEY_OPERATIONS = ['read', 'create', 'update', 'delete', 'write', 'claim', 'presence', 'keys', 'schema'] as const;

/**
 * `POST /v1/keys` body (strict). Without `restricted`, a secret key `sk_…`.
 * With `restricted: true`, an `rk_…` key limited to `syncGroups` (exact
 * groups, prefixes ending in `*`, or `@role` for a schema identity role
 * expanded for the key's participant) and `operations`, acting as
 * `participant` (default: a `system` participant named after the key id).
 */
export const createApiKeyBodySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    mode: z.enum(['test', 'live']).optional(),
    restricted: z.boolean().optional(),
    syncGroups: z.array(groupPatternSchema).min(1).max(100).optional(),
    operations: z.array(z.enum(KEY_OPERATIONS)).min(1).max(KEY_OPERATIONS.length * 2).optional(),
    participant: z.strictObject({ kind: z.enum(['user', 'agent', 'system']), id: z.string().min(1).max(200) }).optional(),
  })
  .superRefine((body, ctx) => {
    if (body.restricted) {
      if (!body.syncGroups) ctx.addIssue({ code: 'custom', path: ['syncGroups'], message: 'a restricted key needs syncGroups (e.g. ["board:*"])' });
      if (!body.operations) ctx.addIssue({ code: 'custom', path: ['operations'], message: 'a restricted key needs operations (e.g. ["read"])' });
      return;
    }
    for (const field of ['syncGroups', 'operations'] as const) {
      if (body[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `${field} is for a restricted key: add "restricted": true` });
    }
  });
export type CreateApiKeyBody = z.infer<typeof createApiKeyBodySchema>;
export const apiKeyPageSchema = listPageSchema(apiKeySchema);

/** `DELETE /v1/models/:model/:id` when the delete was applied. */
export const deletedSchema = z.object({
  object: z.literal('deleted'),
  model: z.string(),
  id: z.string(),
  deleted: z.literal(true),
  syncId,
});
export type Deleted = z.infer<typeof deletedSchema>;
