/**
 * `ablo/engine`: run the Ablo engine in your own process (what `ablo dev` runs).
 */
export { createEngine } from './engine.js';
export type { Engine, EngineOptions, EngineCommitEvent } from './engine.js';
export type { EngineRoute, HttpMethod, KeyRoute, OpenRoute, OpenRouteRequest, Route, RouteHost, RouteMount, RouteMounter, RouteRequest, SchemaChanged } from './routes/index.js';
export { sendJson, type HttpContext } from './http.js';
export { createSqliteStorage } from './storage/sqlite.js';
export { createPostgresStorage, type PostgresStorageOptions } from './storage/postgres.js';
export type {
  Storage,
  StorageTx,
  StoredRow,
  ListQuery,
  ListResult,
  EncodedRowPage,
  ScanJsonOptions,
  ChangeRecord,
  ApiKeyRecord,
  SchemaVersionRecord,
  ChangeFeed,
  ChangeBatch,
  CommitReadPort,
  RowSink,
  PlannedChange,
  PruneCutoff,
  PruneResult,
} from './storage/types.js';
export { DEFAULT_RETENTION, IDEMPOTENCY_GRACE_MS } from './retention.js';
export type { RetentionOptions, RetentionSettings } from './retention.js';
export { ApiKeyAuthenticator, apiKeyPrincipal, createApiKey, generateApiKey, hashApiKey } from './apiKeys.js';
export { OPERATIONS } from './auth/principal.js';
export type { Authenticator, CredentialRevoked, Operation, Principal, PrincipalKind } from './auth/principal.js';
export { RATE_LIMIT_DEFAULTS, type RateLimitOptions } from './auth/rateLimits.js';
export type { PresenceOptions, PresenceSettings } from './presence/options.js';
export type { PushOptions, PushResult } from './schemaService.js';
export type { SyncEvent } from './sync.js';
export { ClaimManager, MemoryClaimStore } from './claims.js';
export { PostgresClaimStore, type PostgresClaimStoreOptions } from './claims/postgres.js';
export type { ClaimAcquireInput, ClaimEvent, ClaimQueued, ClaimResumeInput, ClaimStore } from './claims/store.js';
export type { FrameRule, SyncConnection, SyncHost, SyncPlugin } from './sync/plugin.js';
export type { Claim, ClaimGrant, ClaimQueueEntry, ClaimState } from '../protocol/claims.js';
export type { SourceConfig, SourcesConfig } from './source/config.js';
export type { EngineSources } from './engine.js';
export type { SourceStatus } from './source/service.js';
