/**
 * Public types of the SDK, derived from the schema's model types.
 */
import type { AbloError } from '../errors.js';
import type { CommitReceipt, OnStale, ParticipantRef, ReadDependency, StaleNotification } from '../protocol/commit.js';
import type { ModelTypeMap, ModelTypes, SchemaLike, SchemaTypes } from '../schema/types.js';
import type { Claim, ClaimQueueEntry } from '../protocol/claims.js';
import type { CreateSessionBody, SessionObject } from '../protocol/sessions.js';
import type { PresenceMember, PresenceState } from '../protocol/presence.js';
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
  /**
   * A session token (`ek_…`, minted by your server with `ablo.sessions.create`): sent where `apiKey` would be,
   * and used instead of it. The client acts as the token's participant, within its groups and operations.
   */
  sessionToken?: string | undefined;
  /**
   * Where to get session tokens, instead of `apiKey` / `sessionToken` (browsers, mobile apps, agent jobs): your
   * server mints a short-lived token for its user (`ablo.sessions.create`) and this resolves to it. Called for the
   * first token, before each token expires (a fifth of its life, at most a minute, before; sent over the open
   * socket, no reconnect), after the engine refuses an expired token (HTTP 401, socket close 4007), and once after a
   * revoked one (a second refusal is final: writes are rejected, status `unauthorized`). A rejection is retried with
   * backoff, except right after a revocation, where it is final.
   */
  fetchToken?: (() => Promise<string>) | undefined;
  /**
   * Engine URL; defaults to `ABLO_URL`, then `http://127.0.0.1:4100`. Several engines of one database (behind
   * no load balancer, or as a fallback): a list, or a comma-separated string. The client connects to the first
   * that answers and moves to the next when its engine drops, cannot be reached or drains; after a move it
   * catches up from its last sync id and resends unconfirmed writes with the same client transaction id.
   */
  baseURL?: string | readonly string[] | undefined;
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
  /**
   * `ready()` rejects with `AbloConnectionError` (code `unreachable`) when no
   * engine answers within this many ms (default 10,000). The client keeps
   * reconnecting; a later `ready()` can still succeed.
   */
  readyTimeoutMs?: number | undefined;
  /**
   * When the engine runs a different schema than this client: `false`
   * (default) warns through the logger; `true` rejects `ready()` with
   * `AbloSchemaError` (code `schema_mismatch`) and stops the client.
   */
  strictSchema?: boolean | undefined;
  /** Entries kept on each undo (and redo) stack per scope (default 100); older ones are dropped. */
  undoLimit?: number | undefined;
  /** Where the client's messages go (default: warnings to `console.warn`, retries only with `ABLO_DEBUG=1`). */
  logger?: AbloLogger | undefined;
  /** Presence (`ablo.presence`): at most one `presence_set` per group per `throttleMs` (default 50), the last state wins. */
  presence?: { throttleMs?: number | undefined } | undefined;
}

/** `console` fits. */
export interface AbloLogger {
  /** Each reconnect: attempt, delay and reason. */
  debug?: ((message: string, details?: Record<string, unknown>) => void) | undefined;
  /** Things to fix that do not stop the client, e.g. a schema that differs from the engine's. */
  warn?: ((message: string, details?: Record<string, unknown>) => void) | undefined;
}

type Scalar<T> = T extends string | number | boolean | null ? T : never;

/** field → value, or an array of values meaning "any of". Only scalar fields can be filtered. */
export type Where<Row> = { [K in keyof Row]?: Scalar<Row[K]> | Array<Scalar<Row[K]>> };
export type OrderByInput<Row> = { [K in keyof Row]?: 'asc' | 'desc' };

export interface QueryOptions<Row> {
  where?: Where<Row> | undefined;
  orderBy?: OrderByInput<Row> | undefined;
  limit?: number | undefined;
}

export interface ListOptions<Row> extends QueryOptions<Row> {
  /** Id of the last row of the previous page. */
  startingAfter?: string | undefined;
}

/** A page of a server list (`{ object: 'list', data, hasMore }`), defined with the protocol's answers. */
import type { ListPage } from '../protocol/api.js';
export type { ListPage };

export interface WriteOptions {
  /** `'confirmed'` (default): resolve after the engine's receipt. `'queued'`: resolve at once. */
  wait?: 'confirmed' | 'queued' | undefined;
  /** Replaying the same key returns the original result and writes nothing. */
  idempotencyKey?: string | undefined;
  /** Sync id this write is based on (from `snapshot()` or a row's `syncId`). */
  readAt?: number | undefined;
  /** What to do when what you read moved since `readAt` (default `'reject'`). */
  onStale?: OnStale | undefined;
  /** Free text stored with the commit, for logs. */
  label?: string | undefined;
  /**
   * The undo scope this write is recorded in (default `'default'`); `false`: not recorded (undo and redo
   * themselves are never recorded as new writes).
   */
  undoScope?: string | false | undefined;
}

export interface CreateArgs<T extends ModelTypes> extends Pick<WriteOptions, 'wait' | 'idempotencyKey' | 'label' | 'undoScope'> {
  data: T['create'];
  id?: string | undefined;
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

/**
 * What an `update` or `delete` with `onStale: 'notify'` resolves with:
 * `applied` with the row (for `delete`, `{ id, deleted: true }`), or `held`
 * when what it read had moved, with the notification (the write was not made).
 */
export type WriteOutcome<R> = { status: 'applied'; row: R } | { status: 'held'; notification: StaleNotification };

/** `onStale: 'notify'` and waiting for the receipt: the result says whether the write was held. */
type NotifyArgs = { onStale: 'notify'; wait?: 'confirmed' | undefined };
/** Any other disposition, or not waiting for the receipt: the result is the row. */
type RowArgs = { onStale?: 'reject' | 'overwrite' | undefined } | { wait: 'queued' };

/** One change to a live query's result, relative to the previous result. */
export interface LiveChange<Row> {
  /** `added`: entered the result; `updated`: still in it with a new value; `removed`: left it. */
  kind: 'added' | 'updated' | 'removed';
  id: string;
  /** The row now (added, updated). */
  row?: Row | undefined;
  /** The row before (updated, removed). */
  previous?: Row | undefined;
}

/**
 * `ablo.<model>.live(options)`: the result of `getAll(options)`, kept current
 * incrementally from each change (no scan per change).
 */
export interface LiveQuery<Row> extends Disposable {
  /**
   * Equal to `getAll(options)` after every flush of local changes (changes are
   * applied together, once per microtask). A frozen array: a new one only when
   * the result changed, the same one otherwise.
   */
  readonly rows: readonly Row[];
  /** `listener(rows, changes)` once per flush in which the result changed. Returns an unsubscribe. */
  subscribe(listener: (rows: readonly Row[], changes: ReadonlyArray<LiveChange<Row>>) => void): () => void;
  /** Stop keeping the result current and drop the listeners; `rows` keeps its last value. */
  dispose(): void;
}

export interface ModelClient<T extends ModelTypes> {
  /** Create a row. Shows in `get` at once; resolves with the confirmed row. */
  create(args: CreateArgs<T>): Promise<T['row']>;
  /** With `onStale: 'notify'`: `{ status: 'applied', row }` or `{ status: 'held', notification }`. */
  update(args: UpdateArgs<T> & NotifyArgs): Promise<WriteOutcome<T['row']>>;
  update(args: UpdateArgs<T> & RowArgs): Promise<T['row']>;
  update(args: UpdateArgs<T>): Promise<T['row'] | WriteOutcome<T['row']>>;
  /** With `onStale: 'notify'`: `{ status: 'applied', row: { id, deleted: true } }` or `{ status: 'held', notification }`. */
  delete(args: DeleteArgs & NotifyArgs): Promise<WriteOutcome<DeleteResult>>;
  delete(args: DeleteArgs & RowArgs): Promise<DeleteResult>;
  delete(args: DeleteArgs): Promise<DeleteResult | WriteOutcome<DeleteResult>>;
  /** The row from the local pool (synchronous; includes your unconfirmed writes). */
  get(id: string): T['row'] | undefined;
  /**
   * The rows matching `options` from the local pool. Inside `subscribe` and
   * `useAblo` selectors, and whenever a `live()` query with the same options
   * is alive, this is that live query's frozen result (the same array until it
   * changes); copy it before sorting or editing in place.
   */
  getAll(options?: QueryOptions<T['row']>): T['row'][];
  /** `getAll(options)` kept current as rows change; see `LiveQuery`. Call `dispose()` when done. */
  live(options?: QueryOptions<T['row']>): LiveQuery<T['row']>;
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

/** `ablo.presence`: ephemeral state per sync group and participant (docs/presence.md). */
export interface PresenceApi {
  /**
   * Set this client's state in `group` (an exact group this client receives). Throttled (one frame per group per
   * `throttleMs`, the last state wins); kept and sent again after a reconnect until `leave(group)`.
   */
  set(group: string, state: PresenceState): void;
  /** Leave `group`: the others see this participant leave at once. */
  leave(group: string): void;
  /** The members of `group` this client knows, itself included (empty until the engine's `sync` for it). */
  get(group: string): readonly PresenceMember[];
  /** `listener(members)` on every change of `group`'s members. Returns an unsubscribe. */
  subscribe(group: string, listener: (members: readonly PresenceMember[]) => void): () => void;
}

/** What `undo()` / `redo()` did. */
export type UndoOutcome =
  /** Nothing to undo (or redo) in the scope. */
  | { status: 'empty' }
  /** The inverse was committed; the entry moved to the other stack. */
  | { status: 'applied'; receipt: CommitReceipt }
  /**
   * Someone else changed a field of the entry since: nothing was written, the conflict is in `ablo.conflicts`
   * (and `conflict:notified`), and the entry is dropped from the stack.
   */
  | { status: 'held'; notifications: StaleNotification[] }
  /** Another participant holds a claim on the row: nothing was written; the entry stays on its stack. */
  | { status: 'claimed'; model: string; id: string; holder: ParticipantRef | null };

/** The undo state of one scope. */
export interface UndoState {
  canUndo: boolean;
  canRedo: boolean;
  /** Entries on each stack. */
  undoDepth: number;
  redoDepth: number;
}

/**
 * A write of this client that the engine held (`onStale: 'notify'`, undo included): what it tried, and what the
 * row holds now, so a person can choose.
 */
export interface Conflict {
  /** Stable id of this conflict (one per held row of a commit). */
  id: string;
  clientTxId: string;
  model: string;
  rowId: string;
  /** The fields that moved since the write's `readAt`. */
  fields: string[];
  /** What this client tried to write to the row (`null` for a delete). */
  mine: Record<string, unknown> | null;
  /** The row's current values of the conflicting fields. */
  theirs: Record<string, unknown>;
  notification: StaleNotification;
  at: string;
}

export interface ConflictsApi {
  /** Held writes not yet resolved or dismissed, oldest first. */
  list(): readonly Conflict[];
  /** `'mine'`: write this client's values again over the current ones (`onStale: 'overwrite'`); `'theirs'`: keep the row as it is. Either way the conflict is gone. */
  resolve(id: string, choice: 'mine' | 'theirs'): Promise<void>;
  /** Forget it without writing. */
  dismiss(id: string): void;
  /** `listener(conflicts)` whenever the list changes. Returns an unsubscribe. */
  subscribe(listener: (conflicts: readonly Conflict[]) => void): () => void;
}

export interface AbloEvents {
  'connection:change': { status: ConnectionStatus; code?: number; reason?: string };
  'sync:rollback': { clientTxId: string; error: AbloError; operations: unknown[] };
  'conflict:notified': { clientTxId: string; notifications: StaleNotification[]; receipt: CommitReceipt };
  /** A claim this client held ended without `release()`: lease expired or the connection dropped. */
  'claim:lost': { claimId: string; model: string; id: string; reason: string };
  /** The engine refused this client's presence frame for `group` (too large, too many keys, a group not received…). */
  'presence:error': { group: string; error: AbloError };
}

export type AbloClient<S extends SchemaLike> = {
  [K in keyof SchemaTypes<S> & string]: ModelClient<SchemaTypes<S>[K]>;
} & AbloCore<SchemaTypes<S>>;

export interface AbloCore<M extends ModelTypeMap> {
  /**
   * Resolves once connected and bootstrapped. Rejects with `AbloConnectionError`
   * when no engine answers within `readyTimeoutMs` (call it again to keep
   * waiting), `AbloAuthenticationError` when the key is refused, and
   * `AbloSchemaError` on a schema mismatch with `strictSchema`.
   */
  ready(): Promise<void>;
  dispose(): Promise<void>;
  readonly status: ConnectionStatus;
  /** Highest sync id this client has applied. */
  readonly lastSyncId: number;
  /** Who this client writes as, as the engine's welcome named it (null until the first welcome). */
  readonly participant: ParticipantRef | null;
  /** Writes made but not yet confirmed (or refused) by the engine; they are sent again after a reconnect. */
  readonly pendingWrites: number;
  commits: { create(args: CommitArgs<M>): Promise<CommitReceipt> };
  /**
   * Session tokens, on the server side (the client's credential must be a secret key): `create` mints an `ek_…`
   * token for a participant, some sync groups and operations (docs/auth.md); `revoke` ends one.
   */
  sessions: {
    create(args: CreateSessionBody): Promise<SessionObject & { token: string }>;
    revoke(sessionId: string): Promise<SessionObject>;
  };
  snapshot(rows?: { [K in keyof M & string]?: string | string[] }): Snapshot;
  /**
   * The sync groups this client receives (what `syncGroups`, the engine's welcome or `setSyncGroups` set). During a
   * switch, the groups last asked for; a refused switch puts back the groups held before.
   */
  readonly syncGroups: readonly string[];
  /**
   * Receive `groups` instead, on the open connection (no reconnect): rows of new groups are bootstrapped, rows
   * only in groups that left are dropped. Resolves when the new groups' rows are in the local pool. Offline, the
   * next connection uses the new groups (with a fresh bootstrap).
   */
  setSyncGroups(groups: string[]): Promise<void>;
  /** Ephemeral state per group and participant; see PresenceApi. */
  presence: PresenceApi;
  /**
   * Undo this client's last recorded write in `scope` (default `'default'`): the inverse is committed with the
   * write's sync id as `readAt` and `onStale: 'notify'`, so a field someone changed since is held, not clobbered.
   */
  undo(scope?: string): Promise<UndoOutcome>;
  /** Redo the last undone write in `scope` (guarded the same way). */
  redo(scope?: string): Promise<UndoOutcome>;
  /** Whether `scope` has something to undo or redo. Changes notify `subscribe` selectors. */
  undoState(scope?: string): UndoState;
  /** Held `notify` writes of this client, with current values; see ConflictsApi. */
  conflicts: ConflictsApi;
  on<E extends keyof AbloEvents>(event: E, listener: (payload: AbloEvents[E]) => void): () => void;
  /** Call `listener` whenever `selector`'s result changes (structural equality). Returns an unsubscribe. */
  subscribe<R>(selector: (ablo: AbloClient<SchemaLike<M>>) => R, listener: (value: R, previous: R) => void): () => void;
}
