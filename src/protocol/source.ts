/**
 * Data Source mode wire shapes: what the engine sends to an app's source
 * endpoint (`commit`, `load`, `list`, `events`), what the source answers,
 * the events an app pushes, and the frames of the reverse channel
 * (`ablo.source.v1`). Shared by the engine (`src/engine/source/`) and the
 * app side (`ablo/source`). Every request body is JSON, signed per Standard
 * Webhooks v1 (see `src/source/signature.ts`).
 */
import { z } from 'zod';
import { onStaleSchema, participantSchema, readDependencySchema, rowIdSchema } from './commit.js';

/** WebSocket subprotocol of the reverse channel (`createSourceConnector`). */
export const SOURCE_SUBPROTOCOL = 'ablo.source.v1';
/** Where a connector dials in (`GET` with `Upgrade: websocket`). */
export const SOURCE_CONNECT_PATH = '/v1/source/connect';
/** Most events one `events` answer or push may carry. */
export const MAX_SOURCE_EVENTS = 1000;
/** Most rows one `load` / `list` answer may carry. */
export const MAX_SOURCE_ROWS = 1000;

const modelName = z.string().min(1).max(63);
const fields = z.record(z.string(), z.unknown());

/** One operation of a commit as the source receives it (ids always set: the engine names new rows). */
export const sourceOperationSchema = z.strictObject({
  op: z.enum(['create', 'update', 'delete']),
  model: modelName,
  id: rowIdSchema,
  /** create: every field of the new row; update: the fields it writes. Absent on delete. */
  data: fields.optional(),
  /** The row as the engine last saw it from this source (null: the engine knew no such row). */
  current: fields.nullable().optional(),
  /** The sync id of that row in the engine's change log (the version the commit was checked against). */
  seenSyncId: z.number().int().nonnegative().nullable().optional(),
  readAt: z.number().int().nonnegative().optional(),
  onStale: onStaleSchema.optional(),
});
export type SourceOperation = z.infer<typeof sourceOperationSchema>;

/** Who commits, and what they may touch. */
export const sourceScopeSchema = z.strictObject({
  participant: participantSchema,
  onBehalfOf: participantSchema.optional(),
  credentialId: z.string().optional(),
  /** The writer's sync groups (`'*'`: every group). */
  groups: z.union([z.literal('*'), z.array(z.string())]),
  /** The groups the written rows are in: the writer had to be allowed each. */
  requiredGroups: z.array(z.string()),
});
export type SourceScope = z.infer<typeof sourceScopeSchema>;

export const sourceCommitRequestSchema = z.strictObject({
  type: z.literal('commit'),
  source: z.string(),
  clientTxId: z.string().min(1).max(255),
  operations: z.array(sourceOperationSchema).min(1),
  reads: z.array(readDependencySchema).optional(),
  scope: sourceScopeSchema,
  label: z.string().optional(),
});
export type SourceCommitRequest = z.infer<typeof sourceCommitRequestSchema>;

export const sourceLoadRequestSchema = z.strictObject({
  type: z.literal('load'),
  source: z.string(),
  model: modelName,
  ids: z.array(rowIdSchema).min(1).max(MAX_SOURCE_ROWS),
});
export type SourceLoadRequest = z.infer<typeof sourceLoadRequestSchema>;

export const sourceListRequestSchema = z.strictObject({
  type: z.literal('list'),
  source: z.string(),
  model: modelName,
  cursor: z.string().nullable(),
  limit: z.number().int().positive().max(MAX_SOURCE_ROWS),
});
export type SourceListRequest = z.infer<typeof sourceListRequestSchema>;

export const sourceEventsRequestSchema = z.strictObject({
  type: z.literal('events'),
  source: z.string(),
  cursor: z.string().nullable(),
  limit: z.number().int().positive().max(MAX_SOURCE_EVENTS),
});
export type SourceEventsRequest = z.infer<typeof sourceEventsRequestSchema>;

export const sourceRequestSchema = z.discriminatedUnion('type', [
  sourceCommitRequestSchema,
  sourceLoadRequestSchema,
  sourceListRequestSchema,
  sourceEventsRequestSchema,
]);
export type SourceRequest = z.infer<typeof sourceRequestSchema>;

/** A row as a source returns it: its fields and `id` (createdAt/updatedAt optional; the engine keeps its own). */
export const sourceRowSchema = z.object({ id: rowIdSchema }).catchall(z.unknown());
export type SourceRow = z.infer<typeof sourceRowSchema>;

/**
 * Answer to `commit`: the canonical row after each create and update, by
 * model (a row of another model than its operation's is refused). Deleted
 * rows are not listed.
 */
export const sourceCommitResponseSchema = z.object({
  rows: z.array(sourceRowSchema.extend({ model: modelName.optional() })).max(10_000),
});
export type SourceCommitResponse = z.infer<typeof sourceCommitResponseSchema>;

export const sourceLoadResponseSchema = z.object({ rows: z.array(sourceRowSchema).max(MAX_SOURCE_ROWS) });
export type SourceLoadResponse = z.infer<typeof sourceLoadResponseSchema>;

export const sourceListResponseSchema = z.object({
  rows: z.array(sourceRowSchema).max(MAX_SOURCE_ROWS),
  nextCursor: z.string().nullable(),
});
export type SourceListResponse = z.infer<typeof sourceListResponseSchema>;

/** A change made in the app's database (its outbox), or the echo of a commit the engine sent (`clientTxId`). */
export const sourceEventSchema = z.strictObject({
  /** Unique per event (the outbox row's id): a repeated id is applied once. */
  id: z.string().min(1).max(255),
  model: modelName,
  entityId: rowIdSchema,
  type: z.enum(['create', 'update', 'delete']),
  /** The whole row after the change (create, update); absent or null on delete. */
  data: fields.nullable().optional(),
  /** Set when the change came from an Ablo commit: the engine drops it if it fanned that commit out. */
  clientTxId: z.string().max(255).nullable().optional(),
  occurredAt: z.number().optional(),
});
export type SourceEvent = z.infer<typeof sourceEventSchema>;

export const sourceEventsResponseSchema = z.object({
  events: z.array(sourceEventSchema).max(MAX_SOURCE_EVENTS),
  /** Where the next `events` call starts; null: the same cursor again (nothing new). */
  nextCursor: z.string().nullable(),
});
export type SourceEventsResponse = z.infer<typeof sourceEventsResponseSchema>;

/** Body of `POST /v1/source/:name/events` (the app's outbox pushes; signed with the source's secret). Empty: "pull now". */
export const sourceEventsPushSchema = z.strictObject({
  events: z.array(sourceEventSchema).max(MAX_SOURCE_EVENTS).optional(),
});
export type SourceEventsPush = z.infer<typeof sourceEventsPushSchema>;

/**
 * An error a source answers with (any 4xx): `{ error: { code, message } }`.
 * `code: 'stale_context'` reaches the client as `AbloStaleContextError`;
 * `row_not_found`, `permission_denied`, `validation_failed` as their types;
 * any other code as a validation error carrying the source's code.
 */
export const sourceErrorBodySchema = z.object({
  error: z.object({
    code: z.string().min(1).max(100),
    message: z.string().max(2000).optional(),
    fields: z.array(z.string()).optional(),
  }),
});
export type SourceErrorBody = z.infer<typeof sourceErrorBodySchema>;

// ── Reverse channel frames (`ablo.source.v1`) ────────────────────────────────

/** Engine → connector: one signed request, the same bytes as over HTTP. */
export const connectorRequestFrameSchema = z.strictObject({
  type: z.literal('request'),
  /** Correlates the response; the same for a retry of the same request. */
  id: z.string(),
  headers: z.record(z.string(), z.string()),
  body: z.string(),
});
/** Connector → engine: the handler's response. */
export const connectorResponseFrameSchema = z.strictObject({
  type: z.literal('response'),
  id: z.string(),
  status: z.number().int().min(100).max(599),
  body: z.string(),
});
/** Engine → connector after the upgrade: which source this socket serves. */
export const connectorReadyFrameSchema = z.strictObject({
  type: z.literal('ready'),
  source: z.string(),
});
export type ConnectorRequestFrame = z.infer<typeof connectorRequestFrameSchema>;
export type ConnectorResponseFrame = z.infer<typeof connectorResponseFrameSchema>;
export type ConnectorReadyFrame = z.infer<typeof connectorReadyFrameSchema>;
