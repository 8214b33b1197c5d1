/**
 * Commit wire shapes: operations, read dependencies, receipts, stale
 * notifications and change-log entries. Shared by the SDK, the engine, the
 * HTTP API and MCP.
 */
import { z } from 'zod';

export const MAX_OPERATIONS_PER_COMMIT = 1000;
export const MAX_READS_PER_COMMIT = 200;

const name = z.string().min(1).max(63);
export const rowIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_\-:.]+$/, 'Ids use letters, digits and _ - : . only.');
const syncIdSchema = z.number().int().nonnegative();
const fieldsObject = z.record(z.string(), z.unknown());

export const participantSchema = z.strictObject({
  kind: z.enum(['user', 'agent', 'system']),
  id: z.string().min(1).max(200),
});
export type ParticipantRef = z.infer<typeof participantSchema>;

export const onStaleSchema = z.enum(['reject', 'overwrite', 'notify']);
export type OnStale = z.infer<typeof onStaleSchema>;

export const createOperationSchema = z.strictObject({
  op: z.literal('create'),
  model: name,
  id: rowIdSchema.optional(),
  data: fieldsObject,
});
export const updateOperationSchema = z.strictObject({
  op: z.literal('update'),
  model: name,
  id: rowIdSchema,
  data: fieldsObject,
  readAt: syncIdSchema.optional(),
  onStale: onStaleSchema.optional(),
});
export const deleteOperationSchema = z.strictObject({
  op: z.literal('delete'),
  model: name,
  id: rowIdSchema,
  readAt: syncIdSchema.optional(),
  onStale: onStaleSchema.optional(),
});
export const operationSchema = z.discriminatedUnion('op', [createOperationSchema, updateOperationSchema, deleteOperationSchema]);
export type CreateOperation = z.infer<typeof createOperationSchema>;
export type UpdateOperation = z.infer<typeof updateOperationSchema>;
export type DeleteOperation = z.infer<typeof deleteOperationSchema>;
export type Operation = z.infer<typeof operationSchema>;

export const rowReadDependencySchema = z.strictObject({
  model: name,
  id: rowIdSchema,
  readAt: syncIdSchema,
  fields: z.array(z.string().min(1).max(63)).max(200).optional(),
  onStale: onStaleSchema.optional(),
});
export const groupReadDependencySchema = z.strictObject({
  group: z.string().min(1).max(200),
  readAt: syncIdSchema,
  onStale: onStaleSchema.optional(),
});
export const readDependencySchema = z.union([rowReadDependencySchema, groupReadDependencySchema]);
export type ReadDependency = z.infer<typeof readDependencySchema>;

/** Options every write verb takes. */
export const writeOptionsSchema = z.strictObject({
  wait: z.enum(['confirmed', 'queued']).optional(),
  idempotencyKey: z.string().min(1).max(255).optional(),
  readAt: syncIdSchema.optional(),
  onStale: onStaleSchema.optional(),
  label: z.string().max(200).optional(),
});
export type WriteOptions = z.infer<typeof writeOptionsSchema>;

export const commitRequestSchema = z.strictObject({
  operations: z.array(operationSchema).min(1).max(MAX_OPERATIONS_PER_COMMIT),
  reads: z.array(readDependencySchema).max(MAX_READS_PER_COMMIT).optional(),
  /** Client transaction id; replaying it returns the original receipt. */
  idempotencyKey: z.string().min(1).max(255).optional(),
  label: z.string().max(200).optional(),
  /**
   * How long the client has held this transaction when it sends it: ms since
   * it was made, by the client's own clock (so the two clocks need not
   * agree). A keyed request older than the engine's idempotency window is
   * refused (`idempotency_expired`) unless its receipt is still stored (then
   * it is replayed): it is never applied twice. Not part of the request's
   * identity (a resend carries a larger age). Left out (older clients, HTTP
   * callers): the request is taken as new.
   */
  ageMs: z.number().int().nonnegative().optional(),
});
export type CommitRequest = z.infer<typeof commitRequestSchema>;

export const staleNotificationSchema = z.object({
  object: z.literal('stale_notification'),
  model: z.string(),
  id: z.string(),
  readAt: syncIdSchema,
  observedSyncId: syncIdSchema,
  conflictingFields: z.array(z.string()),
  currentValues: z.record(z.string(), z.unknown()),
  /** Who wrote the change that moved it: the credential's own participant. */
  writtenBy: participantSchema.nullable(),
  /** The participant that credential named and acted for (`Ablo-Participant`, `hello.participant`), when it named another. */
  onBehalfOf: participantSchema.optional(),
  group: z.string().optional(),
});
export type StaleNotification = z.infer<typeof staleNotificationSchema>;

/** A stored row as the engine returns it: fields plus id, createdAt, updatedAt, syncId. */
export const rowSchema = z
  .object({ id: z.string(), createdAt: z.string(), updatedAt: z.string(), syncId: syncIdSchema })
  .catchall(z.unknown());
export type Row = z.infer<typeof rowSchema>;

export const operationResultSchema = z.object({
  op: z.enum(['create', 'update', 'delete']),
  model: z.string(),
  id: z.string(),
  status: z.enum(['applied', 'held']),
  /** Sync id of the change this op produced (absent when held). */
  syncId: syncIdSchema.optional(),
  /**
   * The row as this op wrote it (create, update): on a receipt frame when the
   * writer's socket does not receive the change itself (the row is outside
   * its sync groups), so the writer needs no read after the receipt. Never
   * on a stored (replayed) receipt.
   */
  row: rowSchema.optional(),
});
export type OperationResult = z.infer<typeof operationResultSchema>;

export const commitReceiptSchema = z.object({
  object: z.literal('commit'),
  id: z.string(),
  clientTxId: z.string(),
  /** committed: every op applied; partial: some held by notify; held: none applied. */
  status: z.enum(['committed', 'partial', 'held']),
  lastSyncId: syncIdSchema,
  results: z.array(operationResultSchema),
  notifications: z.array(staleNotificationSchema).optional(),
});
export type CommitReceipt = z.infer<typeof commitReceiptSchema>;

export const changeSchema = z.object({
  syncId: syncIdSchema,
  model: z.string(),
  id: z.string(),
  action: z.enum(['create', 'update', 'delete']),
  /** Fields this change wrote (all fields on create and delete). */
  fields: z.array(z.string()),
  /** The row after the change; null for a delete. */
  data: rowSchema.nullable(),
  groups: z.array(z.string()),
  /** Groups the row was in before, when an update moved it. */
  prevGroups: z.array(z.string()).optional(),
  /** Who wrote it: the participant of the credential that committed (an API key's own, a session's). */
  participant: participantSchema,
  /**
   * The participant the credential named and acted for (`Ablo-Participant`,
   * `hello.participant`, `Ablo({ participant })`), when it named another one
   * than its own. Claims are held by it; absent when the writer acted as itself.
   */
  onBehalfOf: participantSchema.optional(),
  /**
   * The credential that committed: an API key id (`key_…`) or a session id
   * (`ses_…`). In the change log (`GET /v1/changes`), not in sync frames;
   * absent on changes recorded before the engine kept it.
   */
  credentialId: z.string().optional(),
  clientTxId: z.string().nullable(),
  at: z.string(),
});
export type Change = z.infer<typeof changeSchema>;
