/**
 * `ablo/engine`: run the Ablo engine in your own process (what `ablo dev` runs).
 */
export { createEngine } from './engine.js';
export type { Engine, EngineOptions, EngineCommitEvent } from './engine.js';
export { createSqliteStorage } from './storage/sqlite.js';
export type {
  Storage,
  StorageTx,
  StoredRow,
  ListQuery,
  ListResult,
  ChangeRecord,
  ApiKeyRecord,
  SchemaVersionRecord,
  ChangeFeed,
  ChangeBatch,
  CommitReadPort,
  RowSink,
  PlannedChange,
} from './storage/types.js';
export { createApiKey, generateApiKey, hashApiKey } from './apiKeys.js';
export type { PushOptions, PushResult } from './schemaService.js';
export type { SyncEvent } from './sync.js';
export { ClaimManager } from './claims.js';
export type { Claim, ClaimGrant, ClaimQueueEntry, ClaimState } from '../protocol/claims.js';
