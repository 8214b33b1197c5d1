/**
 * Public types of the SDK, derived from the schema's model types.
 */
import type { AbloError } from '../errors.js';
import type { CommitReceipt, OnStale, ParticipantRef, ReadDependency, StaleNotification } from '../protocol/commit.js';
import type { ModelTypeMap, ModelTypes, SchemaLike, SchemaTypes } from '../schema/types.js';
import type { Claim, ClaimQueueEntry } from '../protocol/claims.js';
import type { ClaimHandle, ClaimRequestOptions } from './claims.js';
import type { ConnectionStatus, SocketFactory } from './connection.js';

/** `ablo.<model>.claim(...)`, plus the live claim state of a row. */
export interface ClaimApi<Row> {
  /** Take the row's lease: at once if free, else in FIFO order (or fail with `wait: false`). */
  (options: ClaimRequestOptions): Promise<ClaimHandle<Row>>;
  /** Who holds the row now (live, from the engine), or null. */
  state(args: { id: string }): Claim | null;
  /** Who waits for the row, in order. */
  queue(args: { id: string }): ClaimQueueEntry[];
  /** Release this client's claim on the row (or leave its queue). */
  release(args: { id: string }): Promise<void>;
}

export interface AbloOptions<S extends SchemaLike> {
  /** A `defineSchema` result or a generated typed schema. */
  schema: S;
  /** Defaults to `ABLO_API_KEY`. */
  apiKey?: string | undefined;
  /** Engine URL; defaults to `ABLO_URL`, then `http://127.0.0.1:4100`. */
  baseURL?: string | undefined;
  /** Who this client writes as (default: the API key's participant). */
  participant?: ParticipantRef | undefined;
  /** Sync groups to receive (default `['default']`). */
  syncGroups?: string[] | undefined;
  /** Custom WebSocket constructor (tests, unusual runtimes). */
  webSocket?: SocketFactory | undefined;
  /** Custom fetch (tests, unusual runtimes). */
  fetch?: typeof fetch | undefined;
  /** Reconnect backoff bounds in ms (default 250 → 10,000). */
  reconnect?: { baseMs?: number | undefined; maxMs?: number | undefined } | undefined;
}

type Scalar<T> = T extends string | number | boolean | null ? T : never;

/** field → value, or an array of values meaning "any of". Only scalar fields can be filtered. */
export type Where<Row> = { [K in keyof Row]?: Scalar<Row[K]> | Array<Scalar<Row[K]>> };
export type OrderByInput<Row> = { [K in keyof Row]?: 'asc' | 'desc' };

export interface QueryOptions<Row> {
  where?: Where<Row>;
  orderBy?: OrderByInput<Row>;
  limit?: number;
}

export interface ListOptions<Row> extends QueryOptions<Row> {
  /** Id of the last row of the previous page. */
  startingAfter?: string;
}

export interface ListPage<Row> {
  object: 'list';
  data: Row[];
  hasMore: boolean;
}

export interface WriteOptions {
  /** `'confirmed'` (default): resolve after the engine's receipt. `'queued'`: resolve at once. */
  wait?: 'confirmed' | 'queued';
  /** Replaying the same key returns the original result and writes nothing. */
  idempotencyKey?: string;
  /** Sync id this write is based on (from `snapshot()` or a row's `syncId`). */
  readAt?: number;
  /** What to do when what you read moved since `readAt` (default `'reject'`). */
  onStale?: OnStale;
  /** Free text stored with the commit, for logs. */
  label?: string;
}

export interface CreateArgs<T extends ModelTypes> extends Pick<WriteOptions, 'wait' | 'idempotencyKey' | 'label'> {
  data: T['create'];
  id?: string;
}
export interface UpdateArgs<T extends ModelTypes> extends WriteOptions {
  id: string;
  data: T['update'];
}
export interface DeleteArgs extends WriteOptions {
  id: string;
}

export interface DeleteResult {
  id: string;
  deleted: true;
}

export interface ModelClient<T extends ModelTypes> {
  /** Create a row. Shows in `get` at once; resolves with the confirmed row. */
  create(args: CreateArgs<T>): Promise<T['row']>;
  update(args: UpdateArgs<T>): Promise<T['row']>;
  delete(args: DeleteArgs): Promise<DeleteResult>;
  /** The row from the local pool (synchronous; includes your unconfirmed writes). */
  get(id: string): T['row'] | undefined;
  getAll(options?: QueryOptions<T['row']>): T['row'][];
  getCount(options?: { where?: Where<T['row']> }): number;
  /** The row as the engine has it now. */
  retrieve(args: { id: string }): Promise<T['row']>;
  /** Rows from the engine (server-authoritative, paginated). */
  list(options?: ListOptions<T['row']>): Promise<ListPage<T['row']>>;
  /** An advisory lease on one row with a fair queue; see docs/coordination.md. */
  claim: ClaimApi<T['row']>;
}

type OperationFor<K extends string, T extends ModelTypes> =
  | { op: 'create'; model: K; id?: string; data: T['create'] }
  | { op: 'update'; model: K; id: string; data: T['update']; readAt?: number; onStale?: OnStale }
  | { op: 'delete'; model: K; id: string; readAt?: number; onStale?: OnStale };

export type TypedOperation<M extends ModelTypeMap> = { [K in keyof M & string]: OperationFor<K, M[K]> }[keyof M & string];

export interface CommitArgs<M extends ModelTypeMap> {
  operations: Array<TypedOperation<M>>;
  reads?: ReadDependency[];
  wait?: 'confirmed' | 'queued';
  idempotencyKey?: string;
  label?: string;
}

export interface Snapshot {
  /** The sync id up to which this client has seen every change: use it as `readAt`. */
  stamp: number;
}

export interface AbloEvents {
  'connection:change': { status: ConnectionStatus; code?: number; reason?: string };
  'sync:rollback': { clientTxId: string; error: AbloError; operations: unknown[] };
  'conflict:notified': { clientTxId: string; notifications: StaleNotification[]; receipt: CommitReceipt };
  /** A claim this client held ended without `release()`: lease expired or the connection dropped. */
  'claim:lost': { claimId: string; model: string; id: string; reason: string };
}

export type AbloClient<S extends SchemaLike> = {
  [K in keyof SchemaTypes<S> & string]: ModelClient<SchemaTypes<S>[K]>;
} & AbloCore<SchemaTypes<S>>;

export interface AbloCore<M extends ModelTypeMap> {
  /** Resolves once connected and bootstrapped. */
  ready(): Promise<void>;
  dispose(): Promise<void>;
  readonly status: ConnectionStatus;
  /** Highest sync id this client has applied. */
  readonly lastSyncId: number;
  commits: { create(args: CommitArgs<M>): Promise<CommitReceipt> };
  snapshot(rows?: { [K in keyof M & string]?: string | string[] }): Snapshot;
  on<E extends keyof AbloEvents>(event: E, listener: (payload: AbloEvents[E]) => void): () => void;
  /** Call `listener` whenever `selector`'s result changes (structural equality). Returns an unsubscribe. */
  subscribe<R>(selector: (ablo: AbloClient<SchemaLike<M>>) => R, listener: (value: R, previous: R) => void): () => void;
}
