/**
 * `Ablo()`: typed model clients over the sync stream, a local pool that reads
 * synchronously, optimistic writes with rollback, and an outbox that survives
 * disconnects (resent with the same clientTxId, so never applied twice).
 */
import { secretKeyWarning } from './secretKey.js';
import { AbloAuthenticationError, AbloConnectionError, AbloError, abloError, AbloIdempotencyError, AbloPermissionError, AbloValidationError, errorFromEnvelope } from '../errors.js';
import {
  rowIdSchema,
  type Change,
  type CommitReceipt,
  type CommitRequest,
  type Operation,
  type ParticipantRef,
  type ReadDependency,
  type StaleNotification,
} from '../protocol/commit.js';
import { groupMatcher, type GroupMatcher } from '../protocol/groups.js';
import { generateId, ulid } from '../protocol/ids.js';
import { buildListQuery } from '../protocol/listQuery.js';
import { parseWire } from '../protocol/parse.js';
import { compileSchema, type CompiledModel, type CompiledSchema } from '../schema/compile.js';
import type { SerializedSchema } from '../schema/descriptor.js';
import { canonicalJson, parseSerializedSchema } from '../schema/serialize.js';
import type { SchemaLike } from '../schema/types.js';
import { BootstrapSizeWarning } from './bootstrapSize.js';
import { ClaimTracker, type ClaimRequestOptions } from './claims.js';
import { PresenceTracker, presenceThrottle } from './presence.js';
import { Connection, type ConnectionStatus } from './connection.js';
import { deepEqual } from './equal.js';
import { EngineApiClient } from './engineApi.js';
import { GroupSwitch } from './groups.js';
import { unreachableError } from './http.js';
import { idFromIdempotencyKey } from './ids.js';
import { schemaDifference, schemaMismatchError, type SchemaDifference } from './schemaCheck.js';
import { LiveCore, LiveQueryHandle, LiveRegistry, liveKey, ReadTracker, whereKey, type LocalQuery } from './live.js';
import { countMatching, runQuery } from './query.js';
import { LocalStore, type RowData } from './store.js';
import { TokenSource } from './token.js';
import { ConflictList } from './conflicts.js';
import { checkUndoScope, UndoManager } from './undo.js';
import type { CreateSessionBody } from '../protocol/sessions.js';
import type { AbloClient, AbloEvents, AbloLogger, AbloOptions, ListPage, Snapshot, UndoOutcome, UndoState } from './types.js';

interface OutboxEntry {
  clientTxId: string;
  request: CommitRequest;
  /** `canonicalJson(request)`: a second write with the same key must match it. */
  fingerprint: string;
  ids: string[];
  confirmed: Promise<CommitReceipt>;
  /** When it was made: wall clock and monotonic clock (ms), for the `ageMs` it is sent with. */
  madeAt: { wall: number; mono: number };
  sent: boolean;
  resolve: (receipt: CommitReceipt) => void;
  reject: (err: unknown) => void;
}

interface ReadyWaiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  /** Armed while no engine has answered; cleared by a welcome. */
  timer: ReturnType<typeof setTimeout> | null;
}

/** Names the client itself uses; a model cannot be called one of these. */
const RESERVED = new Set([
  'ready', 'dispose', 'status', 'lastSyncId', 'commits', 'sessions', 'snapshot', 'on', 'subscribe', 'model', 'then',
  'syncGroups', 'setSyncGroups', 'presence', 'undo', 'redo', 'undoState', 'conflicts',
  'participant', 'pendingWrites',
]);

function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name];
}

/** `ABLO_DEBUG=1` (or `true`) in the environment, where there is one. */
function debugFromEnv(): boolean {
  const v = env('ABLO_DEBUG');
  return v === '1' || v === 'true';
}

/** The notification that held the write to this row, if the engine held it. */
function heldNotification(receipt: CommitReceipt, model: string, id: string): StaleNotification | undefined {
  return receipt.notifications?.find((n) => n.model === model && n.id === id);
}

function makeLogger(logger: AbloLogger | undefined): {
  debug?: (message: string, details?: Record<string, unknown>) => void;
  warn: (message: string, details?: Record<string, unknown>) => void;
} {
  const debug = logger?.debug
    ? (message: string, details?: Record<string, unknown>) => logger.debug!(message, details)
    : debugFromEnv()
      ? (message: string) => console.error(`[ablo] ${message}`)
      : undefined;
  const warn = logger?.warn
    ? (message: string, details?: Record<string, unknown>) => logger.warn!(message, details)
    : (message: string) => console.warn(`[ablo] ${message}`);
  return debug ? { debug, warn } : { warn };
}

/** The engine refused a write for its token alone (expired, revoked): with fetchToken it is sent again under a new one. */
function isTokenRefusal(err: AbloError): boolean {
  return err.code === 'token_expired' || err.code === 'revoked_token';
}

/** Errors the engine raises while shutting down or draining: the commit was not applied, so send it again later (to another engine when there is one). */
function isRetryable(err: AbloError): boolean {
  return (err.type === 'server_error' && (err.code === 'shutting_down' || err.code === 'storage_error')) || err.code === 'draining';
}

/**
 * `baseURL` (or ABLO_URL) as a list of engine URLs: one URL, an array, or a comma-separated string
 * (`ABLO_URL=https://a.example.com,https://b.example.com`). Default `http://127.0.0.1:4100`.
 */
function engineUrls(given: string | readonly string[] | undefined): string[] {
  const raw = given === undefined ? ['http://127.0.0.1:4100'] : typeof given === 'string' ? given.split(',') : [...given];
  const urls = raw.map((u) => String(u).trim().replace(/\/+$/, '')).filter((u) => u.length > 0);
  if (urls.length === 0) throw new AbloValidationError('baseURL needs at least one engine URL (http:// or https://).', { code: 'invalid_url' });
  for (const u of urls) {
    if (!/^https?:\/\//.test(u)) throw new AbloValidationError(`baseURL must start with http:// or https:// (got "${u}").`, { code: 'invalid_url' });
  }
  return urls;
}

export class AbloClientImpl {
  readonly schema: CompiledSchema;
  private readonly store: LocalStore;
  /** Live queries over the store: `live()`, and the `getAll` calls of subscription selectors. */
  private readonly liveQueries: LiveRegistry;
  private readonly http: EngineApiClient;
  private readonly connection: Connection;
  /**
   * The groups this socket receives: `syncGroups`, or (without them) what the engine's welcome says it
   * resolved (`*` for a secret key, a session's patterns). Patterns (`board:*`) match by prefix.
   */
  private groups: GroupMatcher;
  /** The groups asked for and held, and `setSyncGroups` switches (./groups.ts). */
  private readonly switcher: GroupSwitch;
  private readonly bootstrapSize: BootstrapSizeWarning;
  /**
   * Set while the engine's rate limit holds this client's commits (`rate_limited` with `retryAfterMs`): nothing is
   * sent until it fires, then the outbox goes out again in order, with the same client transaction ids.
   */
  private rateLimitTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly outbox = new Map<string, OutboxEntry>();
  /** The participant the engine's last welcome named. */
  private welcomeParticipant: ParticipantRef | null = null;
  private readonly listeners = new Map<string, Set<(payload: never) => void>>();
  private readonly changeListeners = new Set<() => void>();
  private bootstrapped = false;
  /** True once the first bootstrap is done and the schema check passed: `ready()` resolves at once from then on. */
  private isReady = false;
  private readonly readyWaiters = new Set<ReadyWaiter>();
  private readonly readyTimeoutMs: number;
  /** A welcome arrived on the current socket (so the engine is reachable). */
  private welcomed = false;
  /** The engine URLs, joined (for messages). */
  private readonly baseURL: string;
  private readonly strictSchema: boolean;
  private readonly logger: { debug?: (message: string, details?: Record<string, unknown>) => void; warn: (message: string, details?: Record<string, unknown>) => void };
  /** The engine schema hash last found different from ours; ready() waits until its check is settled. */
  private schemaCheck: { hash: string; settled: boolean } | null = null;
  private fatal: Error | null = null;
  private disposed = false;
  private syncMode: 'bootstrap' | 'catchup' | null = null;
  private readonly claims: ClaimTracker;
  /** `ablo.presence` (./presence.ts). */
  readonly presence: PresenceTracker;
  /** `fetchToken`'s tokens, when the client was given one instead of a key. */
  private readonly tokens: TokenSource | null;
  /** Undo/redo stacks of this client's model-client writes (src/client/undo.ts). */
  private readonly undoManager: UndoManager;
  /** Held `notify` writes of this client (src/client/conflicts.ts); `ablo.conflicts`. */
  readonly conflicts: ConflictList;

  constructor(options: AbloOptions<SchemaLike>) {
    if (!options || !options.schema) {
      throw abloError('missing_schema');
    }
    this.schema = compileSchema(options.schema);
    for (const name of this.schema.modelNames) {
      if (RESERVED.has(name)) {
        throw new AbloValidationError(`Model "${name}" has the same name as a client method; rename the model (or use ablo.model("${name}")).`, {
          code: 'reserved_model_name',
          model: name,
        });
      }
    }
    if (options.fetchToken !== undefined && typeof options.fetchToken !== 'function') {
      throw new AbloValidationError('fetchToken must be a function that resolves to a session token.', { code: 'invalid_option', field: 'fetchToken' });
    }
    if (options.fetchToken && (options.apiKey !== undefined || options.sessionToken !== undefined)) {
      throw new AbloValidationError('Pass one credential: apiKey, sessionToken or fetchToken.', { code: 'invalid_option', field: 'fetchToken' });
    }
    this.tokens = options.fetchToken ? new TokenSource(options.fetchToken) : null;
    // A session token (`ek_…`) is sent where an API key would be: the engine tells them apart.
    const apiKey = this.tokens ? undefined : (options.sessionToken ?? options.apiKey ?? env('ABLO_API_KEY'));
    if (!apiKey && !this.tokens) {
      throw new AbloAuthenticationError(
        'No API key: pass Ablo({ apiKey }) (or Ablo({ sessionToken })) or set ABLO_API_KEY (the key `ablo dev` printed, also in .env.local). ' +
          'To load .env.local, run scripts with `node --env-file=.env.local` (Node ≥ 20.6).',
        { code: 'missing_api_key' },
      );
    }
    const baseURLs = engineUrls(options.baseURL ?? env('ABLO_URL'));
    this.baseURL = baseURLs.join(', ');
    this.readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    if (!(this.readyTimeoutMs > 0)) {
      throw new AbloValidationError(`readyTimeoutMs must be a positive number of ms (got ${String(options.readyTimeoutMs)}).`, { code: 'invalid_option' });
    }
    this.strictSchema = options.strictSchema ?? false;
    if (options.undoLimit !== undefined && !(Number.isInteger(options.undoLimit) && options.undoLimit > 0)) {
      throw new AbloValidationError(`undoLimit must be a positive integer (got ${String(options.undoLimit)}).`, { code: 'invalid_option', field: 'undoLimit' });
    }
    this.logger = makeLogger(options.logger);
    const exposed = apiKey ? secretKeyWarning(apiKey, globalThis as unknown as Record<string, unknown>) : null;
    if (exposed) this.logger.warn(exposed);
    // `syncGroups` as given; undefined: every group the credential may read.
    const syncGroups = options.syncGroups && options.syncGroups.length > 0 ? [...options.syncGroups] : undefined;
    this.groups = groupMatcher(syncGroups ?? []);
    this.bootstrapSize = new BootstrapSizeWarning((message, details) => this.logger.warn(message, details));
    this.store = new LocalStore(this.schema.modelNames, (m) => this.schema.model(m).fieldNames);
    this.liveQueries = new LiveRegistry(this.store);
    this.store.onChange(() => this.emitChange());
    this.switcher = new GroupSwitch(
      {
        schema: this.schema,
        store: this.store,
        send: (frame) => this.connection.send(frame),
        live: () => this.connection.status === 'live',
        helloGroups: (groups) => this.connection.setGroups(groups),
        useMatcher: (match) => {
          this.groups = match;
        },
        dropped: (rows) => this.claims.forgetRows(rows),
        changed: () => this.emitChange(),
      },
      syncGroups,
    );
    this.http = new EngineApiClient({
      baseURL: baseURLs,
      ...(apiKey ? { apiKey } : {}),
      ...(this.tokens ? { tokens: this.tokens } : {}),
      ...(options.participant ? { participant: options.participant } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    // Session tokens (server side): through the engine API with this client's key.
    const http = this.http;
    const sessions = {
      create: (body: CreateSessionBody) => http.createSession(body),
      revoke: (sessionId: string) => http.revokeSession(sessionId),
    };
    Object.defineProperty(this, 'sessions', { value: sessions, enumerable: false });
    this.claims = new ClaimTracker({
      send: (frame) => this.connection.send(frame),
      live: () => this.connection.status === 'live',
      changed: () => this.emitChange(),
      lost: (event) => this.emit('claim:lost', event),
    });
    this.presence = new PresenceTracker({
      send: (frame) => this.connection.send(frame),
      live: () => this.connection.status === 'live',
      changed: () => this.emitChange(),
      error: (group, error) => {
        this.logger.warn(`presence in "${group}" refused by the engine: ${error.message}`, { group, code: error.code });
        this.emit('presence:error', { group, error });
      },
      throttleMs: presenceThrottle(options.presence),
    });
    this.connection = new Connection({
      urls: baseURLs.map((u) => `${u.replace(/^http/, 'ws')}/v1/sync`),
      ...(apiKey ? { apiKey } : {}),
      ...(this.tokens ? { tokens: this.tokens } : {}),
      ...(syncGroups ? { groups: syncGroups } : {}),
      ...(options.participant ? { participant: options.participant } : {}),
      schemaHash: this.schema.hash,
      // A pool of other groups than the hello's cannot catch up: the new groups' rows were never received.
      lastSyncId: () => (this.bootstrapped && this.switcher.poolMatches ? this.store.lastSyncId : undefined),
      onFrame: (frame) => this.onFrame(frame),
      onStatus: (status, detail) => this.onStatus(status, detail),
      onFatal: (err) => this.fail(err),
      retryRefusedHello: () => this.switcher.takeHelloRetry(),
      ...(this.logger.debug
        ? {
            onRetry: ({ attempt, delayMs, reason }: { attempt: number; delayMs: number; reason: string }) => {
              const url = baseURLs[this.connection.urlIndex]!;
              this.logger.debug?.(`reconnect to ${url}: attempt ${attempt} in ${delayMs} ms (${reason})`, { attempt, delayMs, reason, url });
            },
          }
        : {}),
      ...(options.webSocket ? { socketFactory: options.webSocket } : {}),
      ...(options.reconnect?.baseMs !== undefined ? { reconnectBaseMs: options.reconnect.baseMs } : {}),
      ...(options.reconnect?.maxMs !== undefined ? { reconnectMaxMs: options.reconnect.maxMs } : {}),
    });
    this.undoManager = new UndoManager(
      {
        schema: this.schema,
        get: (model, id) => this.store.get(model, id),
        submit: (operations, opts) => this.submit(operations, opts),
        ownTx: (clientTxId) => this.outbox.has(clientTxId),
        changed: () => this.emitChange(),
      },
      options.undoLimit,
    );
    this.conflicts = new ConflictList({
      get: (model, id) => this.store.get(model, id),
      submit: (operations, opts) => this.submit(operations, opts),
      changed: () => this.emitChange(),
    });
    for (const name of this.schema.modelNames) {
      Object.defineProperty(this, name, { value: this.modelClient(name), enumerable: true });
    }
    this.connection.start();
  }

  // ---- lifecycle -------------------------------------------------------------

  ready(): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.disposed) return Promise.reject(new AbloConnectionError('The client was disposed before it was ready.', { code: 'disposed' }));
    if (this.isReady) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: ReadyWaiter = { resolve, reject, timer: null };
      this.readyWaiters.add(waiter);
      if (!this.welcomed) this.armReadyTimer(waiter);
      // Waiting out a reconnect backoff: try now, the engine may have come up.
      if (this.connection.status === 'offline') this.connection.retryNow();
    });
  }

  /** Reject `waiter` if no engine answers within readyTimeoutMs. */
  private armReadyTimer(waiter: ReadyWaiter): void {
    if (waiter.timer || !Number.isFinite(this.readyTimeoutMs)) return; // Infinity: wait as long as it takes
    waiter.timer = setTimeout(() => {
      waiter.timer = null;
      this.readyWaiters.delete(waiter);
      waiter.reject(unreachableError(this.baseURL, this.connection.lastFailure ?? `no answer within ${this.readyTimeoutMs} ms`));
    }, Math.min(this.readyTimeoutMs, 2 ** 31 - 1));
  }

  private settleReady(err?: unknown): void {
    if (err === undefined) this.isReady = true;
    const waiters = [...this.readyWaiters];
    this.readyWaiters.clear();
    for (const w of waiters) {
      if (w.timer) clearTimeout(w.timer);
      if (err === undefined) w.resolve();
      else w.reject(err);
    }
  }

  /** Resolve ready() once the bootstrap is done and the schema check (if any) has passed. */
  private maybeReady(): void {
    if (this.isReady || this.fatal || this.disposed || !this.bootstrapped) return;
    if (this.schemaCheck && !this.schemaCheck.settled) return;
    this.settleReady();
  }

  get status(): ConnectionStatus {
    return this.connection.status;
  }

  get lastSyncId(): number {
    return this.store.lastSyncId;
  }

  /** Who the engine says this client writes as (from its welcome); null before the first. */
  get participant(): ParticipantRef | null {
    return this.welcomeParticipant;
  }

  /** Writes made but not yet confirmed (or refused) by the engine. */
  get pendingWrites(): number {
    return this.outbox.size;
  }

  get syncGroups(): readonly string[] {
    return this.switcher.groups;
  }

  /** Receive `groups` instead, on the open connection when there is one (./groups.ts). */
  setSyncGroups(groups: string[]): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.disposed) return Promise.reject(abloError('disposed'));
    return this.switcher.set(groups);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.rateLimitTimer) clearTimeout(this.rateLimitTimer);
    this.connection.close();
    const err = new AbloConnectionError('The client was disposed before the engine confirmed this write; it may or may not have been applied.', {
      code: 'disposed',
    });
    for (const entry of this.outbox.values()) entry.reject(err);
    this.outbox.clear();
    this.claims.dispose(err);
    this.switcher.fail(new AbloConnectionError('The client was disposed before its new sync groups were in.', { code: 'disposed' }));
    this.presence.dispose();
    this.settleReady(new AbloConnectionError('The client was disposed before it was ready.', { code: 'disposed' }));
    this.listeners.clear();
    this.changeListeners.clear();
  }

  /**
   * A failure retrying cannot fix (a refused or revoked key, a strict schema
   * mismatch): reject ready() and every pending write and claim request, roll
   * back their optimistic state, and stop.
   */
  private fail(err: Error): void {
    // The first failure is kept: an engine's auth error frame (with its code,
    // e.g. revoked_api_key) arrives before the 4001 close that follows it.
    if (this.fatal || this.disposed) return;
    this.fatal = err;
    this.connection.close(err instanceof AbloAuthenticationError || err instanceof AbloPermissionError ? 'unauthorized' : 'closed');
    this.settleReady(err);
    const entries = [...this.outbox.values()];
    this.outbox.clear();
    for (const entry of entries) {
      const pending = this.store.removePending(entry.clientTxId);
      this.emit('sync:rollback', { clientTxId: entry.clientTxId, error: err as AbloError, operations: pending?.operations ?? [] });
      entry.reject(err);
    }
    this.claims.dispose(err as AbloError);
    this.switcher.fail(err);
  }

  // ---- events ----------------------------------------------------------------

  on<E extends keyof AbloEvents>(event: E, listener: (payload: AbloEvents[E]) => void): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener as (payload: never) => void);
    this.listeners.set(event, set);
    return () => set.delete(listener as (payload: never) => void);
  }

  private emit<E extends keyof AbloEvents>(event: E, payload: AbloEvents[E]): void {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        (l as (p: AbloEvents[E]) => void)(payload);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /**
   * The selector runs with a read tracker: each `getAll` it calls is served by
   * a shared live query that this subscription holds until the selector stops
   * calling it or the subscription ends, so an unchanged result is the same
   * array and the comparison stops at identity.
   */
  subscribe<R>(selector: (ablo: never) => R, listener: (value: R, previous: R) => void): () => void {
    const reads = new ReadTracker(this.liveQueries);
    let previous: R;
    try {
      previous = reads.run(() => selector(this as never));
    } catch (err) {
      reads.releaseAll();
      throw err;
    }
    const run = (): void => {
      const next = reads.run(() => selector(this as never));
      if (deepEqual(previous, next)) return;
      const before = previous;
      previous = next;
      listener(next, before);
    };
    this.changeListeners.add(run);
    return () => {
      if (this.changeListeners.delete(run)) reads.releaseAll();
    };
  }

  /** Re-run subscriptions (local data or other client state changed). */
  protected emitChange(): void {
    for (const run of [...this.changeListeners]) {
      try {
        run();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  // ---- reads -----------------------------------------------------------------

  snapshot(_rows?: Record<string, string | string[]>): Snapshot {
    return { stamp: this.store.lastSyncId };
  }

  // ---- undo / redo (src/client/undo.ts) ------------------------------------------

  undo(scope?: string): Promise<UndoOutcome> {
    return this.undoManager.undo(scope);
  }

  redo(scope?: string): Promise<UndoOutcome> {
    return this.undoManager.redo(scope);
  }

  undoState(scope?: string): UndoState {
    return this.undoManager.state(scope);
  }

  model(name: string): unknown {
    this.schema.model(name);
    return (this as unknown as Record<string, unknown>)[name];
  }

  // ---- writes ----------------------------------------------------------------

  /** Queue a commit: apply it optimistically, send it when connected, settle on the receipt. */
  submit(
    operations: Operation[],
    options: { reads?: ReadDependency[]; idempotencyKey?: string; label?: string },
  ): { clientTxId: string; ids: string[]; confirmed: Promise<CommitReceipt> } {
    if (this.disposed) throw abloError('disposed');
    if (this.fatal) throw this.fatal;
    const key = options.idempotencyKey;
    const clientTxId = key ?? `tx_${ulid()}`;
    const ids: string[] = [];
    const idless = new Map<string, number>();
    const wireOps: Operation[] = operations.map((op) => {
      const model = this.schema.model(op.model);
      if (op.op === 'create') {
        const data = model.parseCreate(op.data);
        let id = op.id;
        if (id === undefined) {
          if (key === undefined) id = generateId(model.idPrefix);
          else {
            // Same key → same id, so the engine recognises a resend (even from another process) and replays it.
            const n = idless.get(op.model) ?? 0;
            idless.set(op.model, n + 1);
            id = idFromIdempotencyKey(model.idPrefix, op.model, key, n);
          }
        }
        parseWire(rowIdSchema, id, `${op.model} id`);
        ids.push(id);
        return { op: 'create', model: op.model, id, data };
      }
      parseWire(rowIdSchema, op.id, `${op.model} id`);
      ids.push(op.id);
      if (op.op === 'update') {
        const data = model.parseUpdate(op.data);
        if (Object.keys(data).length === 0) {
          throw new AbloValidationError(`Update of ${op.model} ${op.id} has no fields to write.`, { code: 'empty_update', model: op.model });
        }
        return { ...op, data };
      }
      return { ...op };
    });
    const request: CommitRequest = {
      operations: wireOps,
      idempotencyKey: clientTxId,
      ...(options.reads && options.reads.length > 0 ? { reads: options.reads } : {}),
      ...(options.label ? { label: options.label } : {}),
    };
    const fingerprint = canonicalJson(request);
    const inFlight = this.outbox.get(clientTxId);
    if (inFlight) {
      // The same write again while the first is in flight: share its outcome, as the engine would replay it.
      if (inFlight.fingerprint === fingerprint) return { clientTxId, ids: inFlight.ids, confirmed: inFlight.confirmed };
      throw new AbloIdempotencyError(`Idempotency key "${clientTxId}" is already in flight for a different write. Use a new key for a new write.`, {
        code: 'idempotency_key_reused',
      });
    }
    let resolve!: (r: CommitReceipt) => void;
    let reject!: (e: unknown) => void;
    const confirmed = new Promise<CommitReceipt>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: OutboxEntry = { clientTxId, request, fingerprint, ids, confirmed, madeAt: { wall: Date.now(), mono: monotonicNow() }, sent: false, resolve, reject };
    this.outbox.set(clientTxId, entry);
    this.store.addPending({ clientTxId, operations: wireOps, ids, at: new Date().toISOString() });
    if (this.canSend()) this.sendEntry(entry);
    return { clientTxId, ids, confirmed };
  }

  /** Live, and (with strictSchema) the engine's schema is known to match. */
  private canSend(): boolean {
    return this.connection.status === 'live' && this.rateLimitTimer === null && !(this.strictSchema && this.schemaCheck !== null && !this.schemaCheck.settled);
  }

  /** Send no commits for `retryAfterMs` (the engine's rate limit), then the outbox again. */
  private holdSends(retryAfterMs: unknown): void {
    if (this.rateLimitTimer) return;
    const wait = typeof retryAfterMs === 'number' && retryAfterMs > 0 ? Math.min(retryAfterMs, 30_000) : 1000;
    this.logger.debug?.(`rate limited by the engine: commits wait ${wait} ms`, { retryAfterMs: wait });
    this.rateLimitTimer = setTimeout(() => {
      this.rateLimitTimer = null;
      this.flushOutbox();
    }, wait);
  }

  /** Send everything not yet confirmed, in order, with its original clientTxId. */
  private flushOutbox(): void {
    if (!this.canSend()) return;
    for (const entry of this.outbox.values()) if (!entry.sent) this.sendEntry(entry);
  }

  /**
   * Send a queued commit with its age: past the engine's idempotency window
   * the engine refuses it (`idempotency_expired`, rolled back like any refused
   * write) rather than risk applying it twice.
   */
  private sendEntry(entry: OutboxEntry): void {
    entry.sent = this.connection.send({ type: 'commit', ref: entry.clientTxId, commit: { ...entry.request, ageMs: ageOf(entry.madeAt) } });
  }

  async commit(
    operations: Operation[],
    options: { reads?: ReadDependency[]; idempotencyKey?: string; label?: string; wait?: 'confirmed' | 'queued' },
  ): Promise<CommitReceipt> {
    const { clientTxId, confirmed } = this.submit(operations, options);
    if (options.wait === 'queued') {
      confirmed.catch(() => {});
      return {
        object: 'commit',
        id: '',
        clientTxId,
        status: 'committed',
        lastSyncId: this.store.lastSyncId,
        results: [],
      };
    }
    return confirmed;
  }

  private modelClient(name: string): Record<string, unknown> {
    const model = this.schema.model(name);
    const checkId = (id: unknown): string => parseWire(rowIdSchema, id, `${name} id`);
    const claim = Object.assign(
      async (options: ClaimRequestOptions) => {
        checkId(options?.id);
        if (this.disposed) throw abloError('disposed');
        return this.claims.acquire(name, options);
      },
      {
        state: (args: { id: string }) => this.claims.state(name, checkId(args?.id)),
        queue: (args: { id: string }) => this.claims.queue(name, checkId(args?.id)),
        release: async (args: { id: string }) => this.claims.releaseRow(name, checkId(args?.id)),
      },
    );
    const everythingQuery = this.localQuery(model, {});
    const everything = { q: everythingQuery, local: toLocalQuery(everythingQuery, undefined), key: '' };
    everything.key = liveKey(name, everything.local);
    return {
      claim,
      create: async (args: { data: unknown; id?: string; wait?: 'confirmed' | 'queued'; idempotencyKey?: string; label?: string; undoScope?: string | false }) => {
        const op = { op: 'create', model: name, data: args?.data as Record<string, unknown>, ...(args?.id !== undefined ? { id: args.id } : {}) } as Operation;
        const scope = checkUndoScope(args?.undoScope);
        const { clientTxId, ids, confirmed } = this.submit([op], args ?? {});
        const id = ids[0]!;
        this.undoManager.record(scope, { action: 'create', model: name, id, previous: undefined, data: (args?.data ?? {}) as Record<string, unknown> }, clientTxId, confirmed);
        if (args?.wait === 'queued') {
          confirmed.catch(() => {});
          return this.store.get(name, id);
        }
        const receipt = await confirmed;
        return this.store.get(name, id) ?? writtenRow(receipt, name, id) ?? (await this.retrieveRow(name, id));
      },
      update: async (args: { id: string; data: unknown } & Record<string, unknown>) => {
        const op = {
          op: 'update',
          model: name,
          id: args?.id,
          data: args?.data,
          ...(args?.readAt !== undefined ? { readAt: args.readAt } : {}),
          ...(args?.onStale !== undefined ? { onStale: args.onStale } : {}),
        } as Operation;
        const scope = checkUndoScope(args?.undoScope);
        const previous = this.store.get(name, args?.id);
        const { clientTxId, confirmed } = this.submit([op], args as { idempotencyKey?: string; label?: string });
        const data = args.data as Record<string, unknown>;
        this.undoManager.record(scope, { action: 'update', model: name, id: args.id, previous, data }, clientTxId, confirmed);
        if (args?.wait === 'queued') {
          confirmed.catch(() => {});
          return this.store.get(name, args.id);
        }
        const receipt = await confirmed;
        const notification = args.onStale === 'notify' ? heldNotification(receipt, name, args.id) : undefined;
        if (notification) return { status: 'held', notification };
        const row = this.store.get(name, args.id) ?? writtenRow(receipt, name, args.id) ?? (await this.retrieveRow(name, args.id));
        return args.onStale === 'notify' ? { status: 'applied', row } : row;
      },
      delete: async (args: { id: string } & Record<string, unknown>) => {
        const op = {
          op: 'delete',
          model: name,
          id: args?.id,
          ...(args?.readAt !== undefined ? { readAt: args.readAt } : {}),
          ...(args?.onStale !== undefined ? { onStale: args.onStale } : {}),
        } as Operation;
        const scope = checkUndoScope(args?.undoScope);
        const previous = this.store.get(name, args?.id);
        const { clientTxId, confirmed } = this.submit([op], args as { idempotencyKey?: string; label?: string });
        this.undoManager.record(scope, { action: 'delete', model: name, id: args.id, previous, data: null }, clientTxId, confirmed);
        const result = { id: args.id, deleted: true };
        if (args?.wait === 'queued') {
          confirmed.catch(() => {});
          return result;
        }
        const receipt = await confirmed;
        if (args.onStale !== 'notify') return result;
        const notification = heldNotification(receipt, name, args.id);
        return notification ? { status: 'held', notification } : { status: 'applied', row: result };
      },
      get: (id: string) => this.store.get(name, id),
      getAll: (options: { where?: Record<string, unknown>; orderBy?: Record<string, 'asc' | 'desc'>; limit?: number } = {}) => {
        // getAll() without options (the common selector) skips checking and keying an empty query.
        const plain = options !== null && typeof options === 'object' && isEmpty(options);
        const q = plain ? everything.q : this.localQuery(model, options);
        const local = plain ? everything.local : toLocalQuery(q, options.limit);
        const key = plain ? everything.key : liveKey(name, local);
        const tracker = this.liveQueries.tracker;
        if (tracker) {
          const core = tracker.use(key, () => this.liveCore(name, key, local));
          if (!this.store.hasUnflushed(name)) return core.rows;
        } else {
          const core = this.liveQueries.current(name, key);
          if (core) return core.rows;
        }
        return runQuery(this.store.rows(name), q);
      },
      getCount: (options: { where?: Record<string, unknown> } = {}) => {
        const q = this.localQuery(model, options.where ? { where: options.where } : {});
        return this.liveQueries.count(name, whereKey(name, q.where)) ?? countMatching(this.store.rows(name), q.where);
      },
      live: (options: { where?: Record<string, unknown>; orderBy?: Record<string, 'asc' | 'desc'>; limit?: number } = {}) => {
        const local = toLocalQuery(this.localQuery(model, options), options.limit);
        const key = liveKey(name, local);
        return new LiveQueryHandle(this.liveQueries, this.liveQueries.acquire(key, () => this.liveCore(name, key, local)));
      },
      retrieve: async (args: { id: string }) => this.retrieveRow(name, args?.id),
      list: async (options: { where?: Record<string, unknown>; orderBy?: Record<string, 'asc' | 'desc'>; limit?: number; startingAfter?: string } = {}) => {
        return (await this.http.list(name, buildListQuery(model, options))) as ListPage<RowData>;
      },
    };
  }

  private localQuery(model: CompiledModel, options: { where?: Record<string, unknown>; orderBy?: Record<string, 'asc' | 'desc'>; limit?: number }) {
    const q = buildListQuery(model, { ...options, limit: options.limit ?? Number.MAX_SAFE_INTEGER }, false);
    // Local reads have no page-size cap.
    return { ...q, limit: options.limit ?? Number.MAX_SAFE_INTEGER };
  }

  private liveCore(name: string, key: string, query: LocalQuery): LiveCore {
    return new LiveCore(name, key, whereKey(name, query.where), query, this.store.rows(name));
  }

  private retrieveRow(name: string, id: string): Promise<RowData> {
    parseWire(rowIdSchema, id, `${name} id`);
    return this.http.get(name, id) as Promise<RowData>;
  }

  // ---- the stream ------------------------------------------------------------

  private onStatus(status: ConnectionStatus, detail?: { code?: number; reason?: string }): void {
    if (status === 'offline' || status === 'connecting') {
      // Anything sent on the dead socket is sent again (same clientTxId) once we are back.
      for (const entry of this.outbox.values()) entry.sent = false;
      this.claims.onDisconnect();
      this.switcher.onDisconnect();
    }
    if (status === 'offline') {
      // ready() waits for an engine to answer again, for at most readyTimeoutMs.
      this.welcomed = false;
      for (const w of this.readyWaiters) this.armReadyTimer(w);
    }
    this.emit('connection:change', { status, ...(detail?.code !== undefined ? { code: detail.code } : {}), ...(detail?.reason ? { reason: detail.reason } : {}) });
    this.emitChange();
  }

  private onFrame(frame: { type: string; [key: string]: unknown }): void {
    if (this.claims.onFrame(frame) || this.presence.onFrame(frame)) return;
    if (this.switcher.onFrame(frame)) return;
    switch (frame.type) {
      case 'welcome':
        this.welcomed = true;
        this.welcomeParticipant = (frame.participant as ParticipantRef | undefined) ?? null;
        // Server reads go to the engine the socket uses.
        this.http.prefer(this.connection.urlIndex);
        for (const w of this.readyWaiters) {
          if (w.timer) clearTimeout(w.timer);
          w.timer = null;
        }
        this.checkSchema(String(frame.schemaHash ?? ''));
        this.claims.onWelcome();
        this.presence.onWelcome();
        this.syncMode = frame.mode as 'bootstrap' | 'catchup';
        // The hello's groups (without any, the engine says which it resolved for this credential).
        if (Array.isArray(frame.groups)) this.groups = groupMatcher(frame.groups as string[]);
        this.switcher.onWelcome(frame.groups);
        if (this.syncMode === 'bootstrap') {
          this.store.beginBootstrap();
          this.bootstrapSize.reset();
          this.undoManager.onResync();
        }
        return;
      case 'bootstrap':
        this.store.addBootstrapRows(frame.model as string, frame.rows as RowData[]);
        if (!this.switcher.named) this.bootstrapSize.add((frame.rows as RowData[]).length);
        return;
      case 'bootstrap_done': {
        const watermark = frame.lastSyncId as number;
        if (this.syncMode === 'bootstrap') this.store.finishBootstrap(watermark);
        else this.store.markCaughtUp(watermark);
        this.syncMode = null;
        this.bootstrapped = true;
        this.connection.markLive();
        this.flushOutbox();
        this.claims.onLive();
        this.switcher.onLive();
        this.presence.onLive();
        this.maybeReady();
        return;
      }
      case 'schema':
        // The engine's schema changed while we are connected.
        this.checkSchema(String(frame.hash ?? ''));
        return;
      case 'changes':
        this.store.applyChanges(frame.changes as Change[], this.groups);
        this.undoManager.onChanges(frame.changes as Change[]);
        return;
      case 'receipt':
        this.onReceipt(frame.ref as string, frame.receipt as CommitReceipt);
        return;
      case 'error':
        this.onErrorFrame(frame.ref as string | undefined, frame.error);
        return;
      case 'resync':
        // The engine dropped us for falling behind; the socket closes and we catch up on reconnect.
        return;
      case 'pong':
        // A live connection's watermark: we hold every change of our groups up to it (quiet groups included).
        if (typeof frame.lastSyncId === 'number' && this.bootstrapped && this.syncMode === null) this.store.markCaughtUp(frame.lastSyncId);
        return;
      default:
        return;
    }
  }

  /**
   * The engine runs schema `engineHash`. When it is not ours, read the engine's
   * schema and say what differs: a warning, or (strictSchema) a fatal error.
   * Once per engine schema; ready() waits for the answer.
   */
  private checkSchema(engineHash: string): void {
    if (engineHash === this.schema.hash) {
      this.schemaCheck = null;
      return;
    }
    if (this.schemaCheck?.hash === engineHash) return;
    const check = { hash: engineHash, settled: false };
    this.schemaCheck = check;
    void (async () => {
      let diff: SchemaDifference | null = null;
      let reason: string | undefined;
      try {
        const body = await this.http.schema();
        const engineSchema: SerializedSchema | null = body?.schema ? parseSerializedSchema(body.schema) : null;
        diff = schemaDifference(engineSchema, this.schema.serialized);
      } catch (err) {
        reason = `the engine's schema could not be read: ${(err as Error).message}`;
      }
      if (this.schemaCheck !== check || this.fatal || this.disposed) return;
      check.settled = true;
      if (diff && diff.changes.length === 0) {
        // Different hashes, same models (nothing to tell): carry on.
        this.flushOutbox();
        this.maybeReady();
        return;
      }
      const error = schemaMismatchError(this.baseURL, diff, reason);
      if (this.strictSchema) {
        this.fail(error);
        return;
      }
      this.logger.warn(error.message, error.toJSON());
      this.flushOutbox();
      this.maybeReady();
    })();
  }

  private onReceipt(ref: string, receipt: CommitReceipt): void {
    const entry = this.outbox.get(ref);
    if (!entry) return;
    this.outbox.delete(ref);
    this.store.removePending(ref);
    this.undoManager.noteConfirmed(ref);
    if (receipt.notifications && receipt.notifications.length > 0) {
      this.conflicts.fromReceipt(entry.request, receipt);
      this.emit('conflict:notified', { clientTxId: ref, notifications: receipt.notifications, receipt });
    }
    entry.resolve(receipt);
  }

  private onErrorFrame(ref: string | undefined, envelope: unknown): void {
    if (this.claims.onError(ref, envelope) || this.presence.onError(ref, envelope)) return;
    if (this.switcher.onError(ref, envelope)) return;
    const error = errorFromEnvelope({ error: envelope });
    if (!ref) {
      // Only the hello is answered without a ref: a refused key, or a principal that may not sync these groups (or as this participant).
      // (With fetchToken, an expired or revoked token never gets here: the connection asks for a new one first.)
      // Groups from setSyncGroups the credential may not use: back to the groups held, and hello again.
      if (error.code === 'group_not_allowed' && this.switcher.onHelloRefused(error)) return;
      if (error.type === 'authentication_error' || error.type === 'permission_error') this.fail(error);
      return;
    }
    const entry = this.outbox.get(ref);
    if (!entry) return;
    // Refused for its token (expired, revoked) with fetchToken: not applied; sent again once a new token is in.
    if (isRetryable(error) || (this.tokens && isTokenRefusal(error))) {
      entry.sent = false;
      return;
    }
    if (error.code === 'rate_limited') {
      // Refused before it ran (nothing applied): sent again after the wait, in order with what follows it.
      entry.sent = false;
      this.holdSends(error.details.retryAfterMs);
      return;
    }
    this.outbox.delete(ref);
    const pending = this.store.removePending(ref);
    this.emit('sync:rollback', { clientTxId: ref, error, operations: pending?.operations ?? [] });
    entry.reject(error);
  }
}

/** A monotonic clock in ms where there is one (browsers, Node), else the wall clock. */
function monotonicNow(): number {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf ? perf.now() : Date.now();
}

/**
 * How long ago `madeAt` was: the larger of the wall-clock and monotonic
 * differences (a wall clock set back, or a monotonic clock paused while the
 * machine slept, would each under-count alone).
 */
function ageOf(madeAt: { wall: number; mono: number }): number {
  return Math.max(0, Math.floor(Math.max(Date.now() - madeAt.wall, monotonicNow() - madeAt.mono)));
}

/** No own enumerable keys (an options object that asks for nothing). */
function isEmpty(obj: object): boolean {
  for (const _ in obj) return false;
  return true;
}

/** A checked query as a live query's key and definition: no limit means every match. */
function toLocalQuery(q: { where?: Record<string, unknown>; orderBy?: LocalQuery['orderBy'] }, limit: number | undefined): LocalQuery {
  return { ...(q.where ? { where: q.where } : {}), ...(q.orderBy ? { orderBy: q.orderBy } : {}), ...(limit !== undefined ? { limit } : {}) };
}

/**
 * The row a receipt carries for an op on `model`/`id` (the engine adds it
 * when the change will not reach this client: the row is outside its groups).
 */
function writtenRow(receipt: CommitReceipt, model: string, id: string): RowData | undefined {
  let row: RowData | undefined;
  // The last op on the row wrote what it is now.
  for (const r of receipt.results) if (r.model === model && r.id === id) row = r.row as RowData | undefined;
  return row;
}

/**
 * Create a client. Model clients appear as properties named after the
 * models: `ablo.tasks.create(...)`.
 */
export function Ablo<S extends SchemaLike>(options: AbloOptions<S>): AbloClient<S> {
  const client = new AbloClientImpl(options as AbloOptions<SchemaLike>);
  const commits = {
    create: (args: { operations: Operation[]; reads?: ReadDependency[]; wait?: 'confirmed' | 'queued'; idempotencyKey?: string; label?: string }) =>
      client.commit(args.operations, args),
  };
  Object.defineProperty(client, 'commits', { value: commits, enumerable: false });

  return client as unknown as AbloClient<S>;
}

export type { AbloEvents, ParticipantRef };
