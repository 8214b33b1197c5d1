/**
 * `ablo`: the runtime SDK. Loads no engine, SQLite, ink or React (and `ws`
 * only when a socket is opened in Node, which has no global WebSocket).
 */
import { Ablo } from './client/client.js';

export default Ablo;
export { Ablo };
export * from './errors.js';
export type {
  AbloClient,
  AbloCore,
  AbloEvents,
  AbloOptions,
  ModelClient,
  CreateArgs,
  UpdateArgs,
  DeleteArgs,
  DeleteResult,
  WriteOutcome,
  AbloLogger,
  CommitArgs,
  TypedOperation,
  QueryOptions,
  LiveQuery,
  LiveChange,
  ListOptions,
  ListPage,
  Where,
  OrderByInput,
  WriteOptions as ClientWriteOptions,
  Snapshot,
  PresenceApi,
  UndoOutcome,
  UndoState,
  Conflict,
  ConflictsApi,
} from './client/types.js';
export { PRESENCE_DEFAULTS, presenceMemberSchema, presenceStateSchema } from './protocol/presence.js';
export type { PresenceMember, PresenceState } from './protocol/presence.js';
export type { ConnectionStatus, SocketFactory, SocketLike } from './client/connection.js';
export type { ClaimHandle, ClaimRequestOptions } from './client/claims.js';
export type { ClaimApi } from './client/types.js';
export { claimSchema, claimGrantSchema, claimQueueEntrySchema, claimStateSchema, claimOptionsSchema } from './protocol/claims.js';
export type { Claim, ClaimGrant, ClaimQueueEntry, ClaimState, ClaimOptions } from './protocol/claims.js';
export {
  participantSchema,
  onStaleSchema,
  operationSchema,
  readDependencySchema,
  writeOptionsSchema,
  commitRequestSchema,
  commitReceiptSchema,
  staleNotificationSchema,
  changeSchema,
  rowSchema,
} from './protocol/commit.js';
export type {
  Operation,
  ReadDependency,
  CommitRequest,
  CommitReceipt,
  StaleNotification,
  Change,
  Row,
  OnStale,
  ParticipantRef,
  WriteOptions,
} from './protocol/commit.js';
export { serverFrameSchema, clientFrameSchema, SYNC_PROTOCOL_VERSION, SYNC_PROTOCOL_RANGE, CLOSE_CODES } from './protocol/sync.js';
export {
  listPageSchema,
  rowPageSchema,
  changesPageSchema,
  healthSchema,
  schemaDocumentSchema,
  pushResultSchema,
  schemaPushAnswerSchema,
  apiKeySchema,
  deletedSchema,
} from './protocol/api.js';
export type { ChangesPage, Health, SchemaDocument, PushResult, SchemaPushAnswer, ApiKeyObject, CreateApiKeyBody, Deleted } from './protocol/api.js';
export type { CreateSessionBody, SessionObject } from './protocol/sessions.js';
export type { InferModel, InferCreate, InferUpdate, SchemaLike } from './schema/types.js';
