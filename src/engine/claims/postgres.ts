/**
 * The Postgres `ClaimStore`: claims shared by every engine process on one
 * database. The queue, the holders and the leases live in the database
 * (./postgres-tables.ts); waiting is local (a promise in the asking process,
 * settled when the event that grants or drops its request is read).
 *
 * How it keeps the guarantees listed in ../claims.ts across processes:
 * - Request order: a request is inserted under its row's lock with a
 *   `position` from a sequence; the first by position is granted. Calls in
 *   one process for one row are also chained, so they queue in call order.
 * - No write between two holders, and the row a grant carries: every claim
 *   transaction takes the storage's head row `FOR SHARE` first; a commit
 *   holds it `FOR UPDATE` from its claim check (`check`, read on a
 *   connection of this store's own) to its COMMIT. So a grant is either
 *   before the check (which then sees the holder) or after the COMMIT (and
 *   `readRow` after the grant sees the write).
 * - Leases are `lease_until` in the database; every process sweeps overdue
 *   ones (a timer at the earliest deadline it knows, `SKIP LOCKED`), granting
 *   the next in line. A process that dies leaves its holders to expire.
 * - A holder's owner going away (`releaseOwner`: its connection closed) does
 *   NOT release the row: it is held until its lease ends, unless resumed by
 *   claim id from a new owner (`resumeHeld`, possibly on another process).
 *   An explicit release still releases at once, after the owner's queued
 *   commits (`barrier`, in the process that owns the holder).
 * - Events: each claim transaction stores the row's new state as an event
 *   with a gap-free `seq` and NOTIFYs the seq; every process reads events in
 *   seq order (./postgres-events.ts), so every subscriber everywhere hears
 *   the same events in the same order.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { abloError, AbloClaimedError, AbloNotFoundError, AbloValidationError, errorFromEnvelope } from '../../errors.js';
import { claimOptionsSchema, CLAIM_LEASE_DEFAULT_SECONDS, type Claim, type ClaimGrant, type ClaimOptions, type ClaimReleased, type ClaimState } from '../../protocol/claims.js';
import { rowIdSchema } from '../../protocol/commit.js';
import { ulid } from '../../protocol/ids.js';
import { parseWire } from '../../protocol/parse.js';
import type { CompiledSchema } from '../../schema/compile.js';
import type { ChangeRecord, StoredRow } from '../storage/types.js';
import { ClaimEventReader, type ClaimEventRecord } from './postgres-events.js';
import { readManyRowClaims, readRowClaims, recordOf, withRow, type ClaimRecord, type NewClaim, type RowEventBody, type RowTx } from './postgres-row.js';
import { claimTableNames, ensureClaimTables, type ClaimTableNames } from './postgres-tables.js';
import { cancelled, claimedError, claimOf, eventOf, expired, noClaim, notOwner, stateOf } from './postgres-view.js';
import type { ClaimAcquireInput, ClaimEvent, ClaimResumeInput, ClaimStore } from './store.js';

export interface PostgresClaimStoreOptions {
  /** The database (the engine's storage database). */
  connectionString: string;
  /** Postgres schema of the tables (default `ablo`, the storage's). */
  dbSchema?: string;
  /** Connections for claim transactions (default 3); plus one for `check` and one for LISTEN. */
  poolSize?: number;
  /** Current compiled schema (claims on unknown models are refused). */
  schema: () => CompiledSchema | null;
  /** Read a row for a grant (after the grant committed: the row as it is now). */
  readRow: (model: string, id: string) => Promise<StoredRow | null>;
  /** Resolves once every commit this process submitted so far is applied (before an explicit release). */
  barrier?: () => Promise<void>;
  /** Called on every claim event (same as `subscribe`). */
  onChange?: (event: ClaimEvent) => void;
  /** Poll for missed notifications this often (default 1000 ms). */
  pollMs?: number;
  /** This process tells the others it is alive this often (default 1000 ms); 5 missed beats and its waiting requests leave their lines. */
  heartbeatMs?: number;
  /** Told of background failures (a lost LISTEN connection, a failed sweep). */
  onError?: (err: unknown) => void;
}

/** Longest a request keeps its place in line after its waiter goes away (as the memory store). */
const KEEP_PLACE_MAX_MS = 10 * 60_000;
/** Events older than this are pruned (a process lagging further reloads the state). */
const EVENT_RETENTION = "interval '10 minutes'";

interface Waiter {
  resolve: (grant: ClaimGrant) => void;
  reject: (err: unknown) => void;
}

/** A request of this process that someone waits for. */
interface Local {
  claimId: string;
  model: string;
  id: string;
  key: string;
  owner: string;
  ticket: string | null;
  keepPlaceMs: number;
  waiters: Waiter[];
  stopWaiting: (() => void) | null;
  /** Being written: events before its own are not about it yet. */
  pending: boolean;
  /** The seq of the event that queued it. */
  seq: number;
  delivering: boolean;
}

interface CachedRow {
  seq: number;
  body: RowEventBody;
}

function rowKey(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

export class PostgresClaimStore implements ClaimStore {
  private readonly opts: PostgresClaimStoreOptions;
  private readonly t: ClaimTableNames;
  private readonly pool: pg.Pool;
  /** `check` runs while a commit holds the head row: never behind claim transactions waiting for it. */
  private readonly checkPool: pg.Pool;
  private readonly reader: ClaimEventReader;
  private readonly rows = new Map<string, CachedRow>();
  private readonly locals = new Map<string, Local>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly releasing = new Map<string, Promise<void>>();
  private readonly listeners = new Set<(event: ClaimEvent) => void>();
  /** This process, in `_ablo_claim_procs` (its requests carry it). */
  private readonly procId = `proc_${ulid(Date.now())}${randomBytes(4).toString('hex')}`;
  private readonly heartbeatMs: number;
  private heartbeat: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweepAt = Infinity;
  private lastPrune = 0;
  private closed = false;

  private constructor(options: PostgresClaimStoreOptions) {
    this.opts = options;
    this.t = claimTableNames(options.dbSchema ?? 'ablo');
    this.heartbeatMs = options.heartbeatMs ?? 1000;
    this.pool = new pg.Pool({ connectionString: options.connectionString, max: options.poolSize ?? 3 });
    this.checkPool = new pg.Pool({ connectionString: options.connectionString, max: 1 });
    const onError = options.onError ?? (() => undefined);
    this.pool.on('error', onError);
    this.checkPool.on('error', onError);
    if (options.onChange) this.listeners.add(options.onChange);
    this.reader = new ClaimEventReader({
      connectionString: options.connectionString,
      pool: this.pool,
      tables: this.t,
      pollMs: Math.min(options.pollMs ?? 1000, 1000),
      onEvents: (events) => this.apply(events),
      onGap: () => this.resync(),
      onError,
    });
  }

  /** Create the tables if missing, read the current claims, start listening. */
  static async open(options: PostgresClaimStoreOptions): Promise<PostgresClaimStore> {
    const store = new PostgresClaimStore(options);
    try {
      await ensureClaimTables(store.pool, options.dbSchema ?? 'ablo');
      await store.beat();
      await store.reader.start(await store.resync());
      store.heartbeat = setInterval(() => {
        void store.beat().then(
          () => store.sweepSoon(),
          (err) => options.onError?.(err),
        );
      }, store.heartbeatMs);
      store.heartbeat.unref();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  subscribe(listener: (event: ClaimEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- asking for a row ---

  async acquire(input: ClaimAcquireInput): Promise<ClaimGrant> {
    this.assertOpen();
    const model = this.modelName(input.model);
    const id = parseWire(rowIdSchema, input.id, 'claim row id');
    const options = parseWire(claimOptionsSchema, pickOptions(input), 'claim options');
    checkWaitInput(input);
    const claimId = `clm_${ulid(Date.now())}`;
    const keepPlaceMs = input.keepPlaceMs ?? 0;
    const c: NewClaim = {
      claimId,
      owner: input.owner ?? claimId,
      credentialId: input.credentialId ?? null,
      participant: input.participant,
      action: options.action ?? null,
      leaseSeconds: options.leaseSeconds ?? CLAIM_LEASE_DEFAULT_SECONDS,
      keepPlaceMs,
      ticket: keepPlaceMs > 0 ? `ctk_${randomBytes(18).toString('base64url')}` : null,
      processId: this.procId,
    };
    const local = this.addLocal(c, model, id);
    const promise = this.waitFor(local);
    let outcome: { kind: 'held' | 'queued' | 'mine'; claimId: string; position: number; held: boolean };
    let seq: number | null;
    try {
      // One row's requests from this process go in call order.
      ({ value: outcome, seq } = await this.chain(local.key, async () => (await withRow(this.pool, this.t, model, id, (tx) => enqueue(tx, c, input.owner, options)))!));
    } catch (err) {
      this.dropLocal(local);
      throw err;
    }
    if (outcome.kind === 'mine') {
      // The same owner asked again: never queue behind yourself.
      this.dropLocal(local);
      return this.again(model, id, outcome.claimId, outcome.held);
    }
    this.settlePending(local, seq ?? 0);
    if (outcome.kind === 'held') void this.deliver(local);
    if (outcome.kind === 'queued') {
      this.watchWait(local, input.waitMs, input.signal);
      if (input.onQueued) {
        try {
          input.onQueued({ claimId, position: outcome.position, ...(c.ticket ? { ticket: c.ticket } : {}) });
        } catch {
          // The caller's callback never breaks the queue.
        }
      }
    }
    return promise;
  }

  /** The same owner asked again: a holder gets its renewed claim and the row now; a waiter waits for its request. */
  private async again(model: string, id: string, claimId: string, held: boolean): Promise<ClaimGrant> {
    const existing = this.locals.get(claimId);
    if (existing && (!held || existing.delivering)) return this.waitFor(existing);
    if (held) return this.regrant(model, id, claimId);
    const claims = await readRowClaims(this.pool, this.t, model, id);
    const c = claims.find((r) => r.claimId === claimId);
    if (!c) throw noClaim(claimId);
    const local = this.addLocal({ ...c, ticket: null }, model, id);
    const promise = this.waitFor(local);
    this.settlePending(local, 0);
    return promise;
  }

  async resume(input: ClaimResumeInput): Promise<ClaimGrant> {
    this.assertOpen();
    const model = this.modelName(input.model);
    checkWaitInput(input);
    const notFound = (): AbloNotFoundError =>
      new AbloNotFoundError(
        `No claim request with this ticket waits for ${model} ${input.id}: it was granted and released, or it waited detached longer than its keepPlace time. Claim the row again (at the back of the line).`,
        { code: 'claim_ticket_not_found', model, id: input.id },
      );
    const found = await this.pool.query(`SELECT model, row_id, credential_id, claim_id FROM ${this.t.claims} WHERE ticket = $1`, [input.ticket]);
    const r = found.rows[0];
    if (!r || r.model !== model || r.row_id !== input.id || (r.credential_id ?? null) !== (input.credentialId ?? null)) throw notFound();
    const claimId = r.claim_id as string;
    const done = await withRow(this.pool, this.t, model, input.id, async (tx) => {
      const c = tx.find(claimId);
      if (!c) return null;
      await tx.run(
        `UPDATE ${this.t.claims} SET keep_until = NULL, keep_place_ms = coalesce($2::integer, keep_place_ms), owner = coalesce($3::text, owner), process_id = $4,
           lease_until = CASE WHEN held THEN now() + lease_seconds * interval '1 second' ELSE lease_until END
         WHERE claim_id = $1`,
        [claimId, input.keepPlaceMs ?? null, input.owner ?? null, this.procId],
      );
      await tx.reload();
      return tx.find(claimId)!;
    });
    const c = done?.value;
    if (!c) throw notFound();
    if (c.held) return this.regrant(model, input.id, claimId);
    const local = this.addLocal({ ...c, ticket: input.ticket }, model, input.id);
    const promise = this.waitFor(local);
    this.settlePending(local, done.seq ?? 0);
    this.watchWait(local, input.waitMs, input.signal);
    void this.reader.drain();
    return promise;
  }

  /**
   * A new owner (a new connection, possibly on another process) takes over a
   * held claim by its id, within its lease: the lease starts again and the
   * grant carries the row as it is now. Same credential only.
   */
  async resumeHeld(claimId: string, owner: string, credentialId?: string): Promise<ClaimGrant> {
    this.assertOpen();
    const found = await this.pool.query(`SELECT model, row_id FROM ${this.t.claims} WHERE claim_id = $1 AND held`, [claimId]);
    const r = found.rows[0];
    if (!r) throw noClaim(claimId);
    const done = await withRow(this.pool, this.t, r.model, r.row_id, async (tx) => {
      const c = tx.find(claimId);
      if (!c?.held || c.credentialId !== (credentialId ?? null)) return false;
      await tx.run(
        `UPDATE ${this.t.claims} SET owner = $2, process_id = $3, keep_until = NULL, lease_until = now() + lease_seconds * interval '1 second' WHERE claim_id = $1`,
        [claimId, owner, this.procId],
      );
      await tx.reload();
      return true;
    });
    if (!done?.value) throw noClaim(claimId);
    void this.reader.drain();
    return this.regrant(r.model, r.row_id, claimId);
  }

  /** A held claim's grant again: the claim as stored now and the row as it is now. */
  private async regrant(model: string, id: string, claimId: string): Promise<ClaimGrant> {
    const data = await this.opts.readRow(model, id);
    if (!data) throw abloError('row_not_found', { model, id });
    const c = (await readRowClaims(this.pool, this.t, model, id)).find((r) => r.claimId === claimId && r.held);
    if (!c) throw noClaim(claimId);
    void this.noteGroups(model, id, data);
    return { ...claimOf(model, id, c), data };
  }

  // --- letting go ---

  async release(claimId: string, owner: string): Promise<ClaimReleased> {
    this.assertOpen();
    const found = await this.pool.query(`SELECT model, row_id FROM ${this.t.claims} WHERE claim_id = $1`, [claimId]);
    const r = found.rows[0];
    if (!r) throw noClaim(claimId);
    const claims = await readRowClaims(this.pool, this.t, r.model, r.row_id);
    const c = claims.find((x) => x.claimId === claimId);
    if (!c) throw noClaim(claimId);
    if (c.owner !== owner) throw notOwner(r.model, r.row_id, c);
    if (c.held) {
      let p = this.releasing.get(claimId);
      if (!p) {
        p = this.releaseAfterBarrier(r.model, r.row_id, claimId, owner).finally(() => this.releasing.delete(claimId));
        this.releasing.set(claimId, p);
      }
      await p;
    } else {
      await this.remove(r.model, r.row_id, claimId, cancelled(r.model, r.row_id), (x) => !x.held && x.owner === owner);
    }
    return { object: 'claim', id: claimId, released: true };
  }

  private async releaseAfterBarrier(model: string, id: string, claimId: string, owner: string): Promise<void> {
    try {
      if (this.opts.barrier) await this.opts.barrier();
    } catch {
      // The pipeline failed; the release goes ahead regardless.
    }
    const reason = new AbloClaimedError(`The claim on ${model} ${id} was released before it was granted.`, { code: 'claim_cancelled' });
    await this.remove(model, id, claimId, reason, (x) => x.held && x.owner === owner);
  }

  /** Remove one request or holder (when `still` holds in the transaction); its local waiters get `reason`. */
  private async remove(model: string, id: string, claimId: string, reason: unknown, still: (c: ClaimRecord) => boolean): Promise<boolean> {
    const done = await withRow(this.pool, this.t, model, id, async (tx) => {
      const c = tx.find(claimId);
      if (!c || !still(c)) return false;
      await tx.remove(claimId, reason);
      return true;
    });
    if (done?.value) {
      this.settleGone(claimId, reason);
      void this.reader.drain();
    }
    return done?.value ?? false;
  }

  async releaseRow(model: string, id: string, owner: string): Promise<ClaimReleased> {
    const claims = await readRowClaims(this.pool, this.t, model, id);
    const mine = claims.find((c) => c.owner === owner);
    if (!mine) throw new AbloNotFoundError(`You hold no claim on ${model} ${id} and are not waiting for one.`, { code: 'claim_not_found', model, id });
    return this.release(mine.claimId, owner);
  }

  async renew(claimId: string, owner: string, leaseSeconds?: number): Promise<Claim> {
    this.assertOpen();
    const lease = leaseSeconds === undefined ? null : parseWire(claimOptionsSchema, { leaseSeconds }, 'claim options').leaseSeconds!;
    const found = await this.pool.query(`SELECT model, row_id FROM ${this.t.claims} WHERE claim_id = $1`, [claimId]);
    const r = found.rows[0];
    if (!r) throw noClaim(claimId);
    const done = await withRow(this.pool, this.t, r.model, r.row_id, async (tx) => {
      const c = tx.find(claimId);
      if (!c) throw noClaim(claimId);
      if (!c.held) throw new AbloNotFoundError(`Claim ${claimId} is still waiting in line; there is no lease to renew yet.`, { code: 'claim_not_granted', claimId });
      if (c.owner !== owner) throw notOwner(r.model, r.row_id, c);
      await tx.run(
        `UPDATE ${this.t.claims} SET lease_seconds = coalesce($2::integer, lease_seconds), keep_until = NULL, lease_until = now() + coalesce($2::integer, lease_seconds) * interval '1 second' WHERE claim_id = $1`,
        [claimId, lease],
      );
      await tx.reload();
      return claimOf(r.model, r.row_id, tx.find(claimId)!);
    });
    void this.reader.drain();
    return done!.value;
  }

  async releaseOwner(owner: string): Promise<void> {
    // Its waiting requests leave their lines (or detach, keeping their place); what it holds stays until its lease ends.
    const gone = abloError('connection_closed');
    const mine = [...this.locals.values()].filter((l) => l.owner === owner);
    await Promise.all(mine.map((l) => this.leaveLine(l, gone)));
  }

  async releaseCredential(credentialId: string, reason: unknown): Promise<void> {
    if (this.closed) return;
    const res = await this.pool.query(`SELECT DISTINCT model, row_id FROM ${this.t.claims} WHERE credential_id = $1`, [credentialId]);
    for (const r of res.rows) {
      const done = await withRow(this.pool, this.t, r.model, r.row_id, async (tx) => {
        const ids = tx.claims.filter((c) => c.credentialId === credentialId).map((c) => c.claimId);
        for (const claimId of ids) await tx.remove(claimId, reason);
        return ids;
      });
      for (const claimId of done?.value ?? []) this.settleGone(claimId, reason);
    }
    void this.reader.drain();
  }

  // --- reading ---

  async state(model: string, id: string): Promise<ClaimState> {
    const claims = await readRowClaims(this.pool, this.t, model, id);
    const holder = claims[0]?.held ? claims[0] : null;
    return stateOf(model, id, holder, claims.filter((c) => !c.held));
  }

  async list(): Promise<ClaimEvent[]> {
    const { rows } = await this.readAll(this.pool);
    return rows.map((b) => eventOf({ ...b, groups: b.groups ?? [] })!);
  }

  /** Claims read ahead for the commit batch running now (see `ClaimStore.readAhead`), by `model \0 id`. */
  private ahead: Map<string, ClaimRecord[]> | null = null;
  private aheadRows: Set<string> | null = null;

  async readAhead(rows: ReadonlyArray<{ model: string; id: string }>): Promise<void> {
    const keys = new Set<string>();
    const models: string[] = [];
    const ids: string[] = [];
    for (const { model, id } of rows) {
      const key = `${model}\u0000${id}`;
      if (keys.has(key)) continue;
      keys.add(key);
      models.push(model);
      ids.push(id);
    }
    this.ahead = await readManyRowClaims(this.checkPool, this.t, models, ids);
    this.aheadRows = keys;
  }

  endReadAhead(): void {
    this.ahead = null;
    this.aheadRows = null;
  }

  async check(model: string, id: string, owners: string | readonly string[]): Promise<void> {
    const key = `${model}\u0000${id}`;
    const claims = this.aheadRows?.has(key) ? (this.ahead!.get(key) ?? []) : await readRowClaims(this.checkPool, this.t, model, id);
    const holder = claims[0]?.held ? claims[0] : null;
    if (!holder) return;
    if (typeof owners === 'string' ? owners === holder.owner : owners.includes(holder.owner)) return;
    throw claimedError({ model, id, holder, queue: claims.filter((c) => !c.held), code: 'row_claimed' });
  }

  noteChanges(changes: readonly ChangeRecord[]): void {
    for (const c of changes) {
      const row = this.rows.get(rowKey(c.model, c.id));
      if (!row || sameGroups(row.body.groups, c.groups)) continue;
      void this.setGroups(c.model, c.id, c.groups).catch((err) => this.opts.onError?.(err));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const err = abloError('shutting_down');
    for (const l of this.locals.values()) {
      l.stopWaiting?.();
      for (const w of l.waiters.splice(0)) w.reject(err);
    }
    this.locals.clear();
    this.listeners.clear();
    await this.reader.close();
    await this.sweeping?.catch(() => undefined);
    // Its waiting requests leave their lines at once (the others see it gone).
    await this.pool.query(`DELETE FROM ${this.t.procs} WHERE id = $1`, [this.procId]).catch(() => undefined);
    // Held claims stay in the database: they pass on when their leases end (or are resumed elsewhere).
    await Promise.all([this.pool.end().catch(() => undefined), this.checkPool.end().catch(() => undefined)]);
  }

  // --- local requests ---

  private addLocal(c: { claimId: string; owner: string; ticket: string | null; keepPlaceMs: number }, model: string, id: string): Local {
    const local: Local = {
      claimId: c.claimId,
      model,
      id,
      key: rowKey(model, id),
      owner: c.owner,
      ticket: c.ticket,
      keepPlaceMs: c.keepPlaceMs,
      waiters: [],
      stopWaiting: null,
      pending: true,
      seq: 0,
      delivering: false,
    };
    this.locals.set(c.claimId, local);
    return local;
  }

  private waitFor(local: Local): Promise<ClaimGrant> {
    return new Promise<ClaimGrant>((resolve, reject) => local.waiters.push({ resolve, reject }));
  }

  private dropLocal(local: Local): void {
    local.stopWaiting?.();
    local.stopWaiting = null;
    if (this.locals.get(local.claimId) === local) this.locals.delete(local.claimId);
  }

  /** Its request is written: from now on events about its row are about it too (and one already read may have granted it). */
  private settlePending(local: Local, seq: number): void {
    local.pending = false;
    local.seq = seq;
    const row = this.rows.get(local.key);
    if (row && row.seq >= seq) this.reconcile(local, row.body);
    // Its own event was read and a later one left the row empty (its request was dropped elsewhere).
    else if (!row && seq > 0 && this.reader.lastSeq >= seq) this.reconcile(local, emptyRow(local.model, local.id));
    void this.reader.drain();
  }

  private settleGone(claimId: string, reason: unknown): void {
    const local = this.locals.get(claimId);
    if (!local) return;
    this.dropLocal(local);
    for (const w of local.waiters.splice(0)) w.reject(reason);
  }

  /** Wait timer and abort listener of a queued request (as the memory store): a timeout leaves the line or detaches; an abort withdraws it. */
  private watchWait(local: Local, waitMs: number | undefined, signal: AbortSignal | undefined): void {
    local.stopWaiting?.();
    const timer = waitMs !== undefined ? setTimeout(() => void this.timedOut(local, waitMs), waitMs) : null;
    timer?.unref();
    const onAbort = (): void => {
      void this.remove(local.model, local.id, local.claimId, abloError('claim_aborted'), (c) => !c.held).catch((err) => this.opts.onError?.(err));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // Aborted while its request was being written.
    if (signal?.aborted) onAbort();
    local.stopWaiting = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  }

  private async timedOut(local: Local, waitMs: number): Promise<void> {
    if (this.locals.get(local.claimId) !== local || local.delivering) return;
    const claims = await readRowClaims(this.pool, this.t, local.model, local.id).catch(() => null);
    const holder = claims?.[0]?.held ? claims[0] : null;
    const queue = claims?.filter((c) => !c.held) ?? [];
    const reason = holder
      ? claimedError({
          model: local.model,
          id: local.id,
          holder,
          queue,
          code: 'claim_wait_timeout',
          waitMs,
          ...(local.ticket && local.keepPlaceMs > 0 ? { kept: { ticket: local.ticket, keepPlaceMs: local.keepPlaceMs, claimId: local.claimId } } : {}),
        })
      : abloError('claim_wait_timeout');
    await this.leaveLine(local, reason).catch((err) => this.opts.onError?.(err));
  }

  /** A waiter went away: its request leaves the line, or (keeping its place) stays detached until its keep-place time ends. */
  private async leaveLine(local: Local, reason: unknown): Promise<void> {
    if (local.delivering) {
      // Already its turn: it holds the row until its lease ends (or it is resumed).
      this.settleGone(local.claimId, reason);
      return;
    }
    if (local.keepPlaceMs <= 0) {
      const removed = await this.remove(local.model, local.id, local.claimId, reason, (c) => !c.held);
      if (!removed) this.settleGone(local.claimId, reason);
      return;
    }
    await withRow(this.pool, this.t, local.model, local.id, async (tx) => {
      if (!tx.find(local.claimId)) return;
      await tx.run(`UPDATE ${this.t.claims} SET keep_until = now() + keep_place_ms * interval '1 millisecond' WHERE claim_id = $1`, [local.claimId]);
      await tx.reload();
    });
    this.settleGone(local.claimId, reason);
    void this.reader.drain();
  }

  // --- events ---

  private apply(events: ClaimEventRecord[]): void {
    for (const { seq, body } of events) {
      const key = rowKey(body.model, body.id);
      if (body.holder || body.queue.length > 0) this.rows.set(key, { seq, body });
      else this.rows.delete(key);
      for (const local of [...this.locals.values()]) if (local.key === key && !local.pending && seq >= local.seq) this.reconcile(local, body);
      const event = eventOf(body);
      if (!event) continue;
      for (const l of this.listeners) {
        try {
          l(event);
        } catch {
          // A listener's failure never breaks the claim state.
        }
      }
    }
    this.scheduleSweep();
  }

  /** A local request against its row's state: granted (deliver), still waiting, or gone (its waiters get why). */
  private reconcile(local: Local, body: RowEventBody): void {
    if (body.holder?.claimId === local.claimId) {
      if (!local.delivering) void this.deliver(local);
      return;
    }
    if (body.queue.some((c) => c.claimId === local.claimId)) return;
    const why = body.gone[local.claimId];
    this.settleGone(local.claimId, why ? errorFromEnvelope({ error: why }) : expired(local.model, local.id, local.claimId));
  }

  /** Its turn came: read the row (as it is now, after the grant), publish its groups, hand out the grant. */
  private async deliver(local: Local): Promise<void> {
    if (local.delivering) return;
    local.delivering = true;
    local.stopWaiting?.();
    local.stopWaiting = null;
    let data: StoredRow | null = null;
    let failure: unknown = null;
    try {
      data = await this.opts.readRow(local.model, local.id);
    } catch (err) {
      failure = err;
    }
    if (this.closed || this.locals.get(local.claimId) !== local) return;
    if (!data) {
      const reason = failure ?? abloError('row_not_found', { model: local.model, id: local.id });
      await this.remove(local.model, local.id, local.claimId, reason, (c) => c.held).catch(() => undefined);
      this.settleGone(local.claimId, reason);
      return;
    }
    try {
      await this.noteGroups(local.model, local.id, data);
      const c = (await readRowClaims(this.pool, this.t, local.model, local.id)).find((r) => r.claimId === local.claimId && r.held);
      if (!c) throw expired(local.model, local.id, local.claimId);
      const grant: ClaimGrant = { ...claimOf(local.model, local.id, c), data };
      this.dropLocal(local);
      for (const w of local.waiters.splice(0)) w.resolve(grant);
    } catch (err) {
      this.settleGone(local.claimId, err);
    }
  }

  private async noteGroups(model: string, id: string, data: StoredRow): Promise<void> {
    const compiled = this.opts.schema()?.models[model];
    if (!compiled) return;
    await this.setGroups(model, id, compiled.syncGroups(data));
  }

  private async setGroups(model: string, id: string, groups: string[]): Promise<void> {
    const done = await withRow(this.pool, this.t, model, id, async (tx) => (tx.claims.length > 0 ? tx.setGroups(groups) : false));
    if (done?.value) void this.reader.drain();
  }

  /** Every row's claims as one consistent read, and the event seq it reflects. */
  private async readAll(db: pg.Pool | pg.ClientBase): Promise<{ seq: number; rows: RowEventBody[] }> {
    const seq = Number((await db.query(`SELECT seq FROM ${this.t.claimHead}`)).rows[0]?.seq ?? 0);
    const res = await db.query(
      `SELECT c.*, c.model AS m, c.row_id AS r, w.groups FROM ${this.t.claims} c LEFT JOIN ${this.t.rows} w ON w.model = c.model AND w.row_id = c.row_id
       ORDER BY c.model, c.row_id, c.held DESC, c.position`,
    );
    const byRow = new Map<string, RowEventBody>();
    for (const r of res.rows) {
      const key = rowKey(r.m, r.r);
      let body = byRow.get(key);
      if (!body) byRow.set(key, (body = { model: r.m, id: r.r, holder: null, queue: [], groups: r.groups ?? null, leaving: [], gone: {} }));
      const c = recordOf(r);
      if (c.held) body.holder = c;
      else body.queue.push(c);
    }
    return { seq, rows: [...byRow.values()] };
  }

  /** Read the whole state (at open, or after missing pruned events); returns the seq it reflects. */
  private async resync(): Promise<number> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const { seq, rows } = await this.readAll(client);
      await client.query('COMMIT');
      this.rows.clear();
      for (const body of rows) this.rows.set(rowKey(body.model, body.id), { seq, body });
      for (const local of [...this.locals.values()]) {
        if (local.pending) continue;
        this.reconcile(local, this.rows.get(local.key)?.body ?? emptyRow(local.model, local.id));
      }
      this.scheduleSweep();
      return seq;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  // --- leases ---

  /** A timer at the earliest lease or keep-place end this process knows of (any process may sweep; one wins each row). */
  private scheduleSweep(at?: number): void {
    if (this.closed) return;
    let next = at ?? Infinity;
    if (at === undefined) {
      for (const { body } of this.rows.values()) {
        if (body.holder?.leaseUntil) next = Math.min(next, Date.parse(body.holder.leaseUntil));
        for (const q of body.queue) if (q.keepUntil) next = Math.min(next, Date.parse(q.keepUntil));
      }
    }
    if (next === Infinity || (this.sweepTimer && next >= this.sweepAt)) return;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepAt = next;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      this.sweepAt = Infinity;
      // One sweep at a time; one running now may have started before this deadline.
      if (this.sweeping) this.scheduleSweep(Date.now() + 250);
      else this.sweepSoon();
    }, Math.max(0, next - Date.now()) + 5);
    this.sweepTimer.unref();
  }

  /** Tell the others this process is alive. */
  private async beat(): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.t.procs} (id, alive_until) VALUES ($1, now() + $2::integer * interval '1 millisecond')
       ON CONFLICT (id) DO UPDATE SET alive_until = excluded.alive_until`,
      [this.procId, this.heartbeatMs * 5],
    );
  }

  /** Run a sweep now unless one runs (the heartbeat's: finds the waiting requests of processes gone). */
  private sweepSoon(): void {
    if (this.closed || this.sweeping) return;
    this.sweeping = this.sweep()
      .catch((err) => {
        this.opts.onError?.(err);
        this.scheduleSweep(Date.now() + 250);
      })
      .finally(() => (this.sweeping = null));
  }

  /**
   * Expire overdue holders and detached requests whose keep-place time ended,
   * and take the waiting requests of processes gone out of line (detached
   * when they keep their place); the next in line is granted.
   */
  private async sweep(): Promise<void> {
    if (this.closed) return;
    const due = await this.pool.query(
      `SELECT DISTINCT model, row_id FROM ${this.t.claims} c WHERE (held AND lease_until <= now()) OR (NOT held AND keep_until <= now())
         OR (NOT held AND keep_until IS NULL AND NOT EXISTS (SELECT 1 FROM ${this.t.procs} p WHERE p.id = c.process_id AND p.alive_until > now()))`,
    );
    let skipped = false;
    for (const r of due.rows) {
      const done = await withRow(this.pool, this.t, r.model, r.row_id, (tx) => expireDue(tx), { skipLocked: true });
      if (!done) skipped = true;
      else for (const [claimId, reason] of done.value) this.settleGone(claimId, reason);
    }
    if (Date.now() - this.lastPrune > 60_000) {
      this.lastPrune = Date.now();
      await this.pool.query(`DELETE FROM ${this.t.events} WHERE at < now() - ${EVENT_RETENTION}`);
      await this.pool.query(`DELETE FROM ${this.t.procs} WHERE alive_until < now() - interval '1 hour'`);
      await this.pruneIdleRows();
    }
    await this.reader.drain();
    // A row another transaction held: try again shortly (it may have been that very expiry).
    this.scheduleSweep(skipped ? Date.now() + 250 : undefined);
  }

  /**
   * Forget rows nobody holds or waits for: lock them (skipping any a change is
   * being made to), then delete those still empty, read again under the locks
   * (a claim committed meanwhile shows in that second read).
   */
  private async pruneIdleRows(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const idle = await client.query(
        `SELECT model, row_id FROM ${this.t.rows} r WHERE NOT EXISTS (SELECT 1 FROM ${this.t.claims} c WHERE c.model = r.model AND c.row_id = r.row_id)
         LIMIT 1000 FOR UPDATE SKIP LOCKED`,
      );
      if (idle.rows.length > 0) {
        await client.query(
          `DELETE FROM ${this.t.rows} r USING unnest($1::text[], $2::text[]) AS x(model, row_id)
           WHERE r.model = x.model AND r.row_id = x.row_id AND NOT EXISTS (SELECT 1 FROM ${this.t.claims} c WHERE c.model = r.model AND c.row_id = r.row_id)`,
          [idle.rows.map((r) => r.model), idle.rows.map((r) => r.row_id)],
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  // --- helpers ---

  private chain<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }

  private assertOpen(): void {
    if (this.closed) throw abloError('shutting_down');
  }

  private modelName(name: string): string {
    const schema = this.opts.schema();
    if (!schema) throw abloError('no_schema');
    return schema.model(name).name;
  }
}

/** The acquire transaction: the same owner again, granted at once, refused, or queued at the back. */
async function enqueue(
  tx: RowTx,
  c: NewClaim,
  owner: string | undefined,
  options: ClaimOptions,
): Promise<{ kind: 'held' | 'queued' | 'mine'; claimId: string; position: number; held: boolean }> {
  const mine = owner !== undefined ? tx.claims.find((r) => r.owner === owner) : undefined;
  if (mine) {
    if (mine.held) {
      await tx.run(
        `UPDATE ${tx.t.claims} SET lease_seconds = coalesce($2::integer, lease_seconds), action = coalesce($3::text, action), keep_until = NULL,
           lease_until = now() + coalesce($2::integer, lease_seconds) * interval '1 second' WHERE claim_id = $1`,
        [mine.claimId, options.leaseSeconds ?? null, options.action ?? null],
      );
    }
    return { kind: 'mine', claimId: mine.claimId, position: 0, held: mine.held };
  }
  const holder = tx.holder;
  if (!holder) {
    await tx.insert(c, true);
    return { kind: 'held', claimId: c.claimId, position: 0, held: true };
  }
  if (options.wait === false) throw claimedError({ model: tx.model, id: tx.id, holder, queue: tx.queue, code: 'row_claimed' });
  if (options.maxQueueDepth !== undefined && tx.queue.length >= options.maxQueueDepth) {
    throw claimedError({ model: tx.model, id: tx.id, holder, queue: tx.queue, code: 'queue_full', maxQueueDepth: options.maxQueueDepth });
  }
  await tx.insert(c, false);
  return { kind: 'queued', claimId: c.claimId, position: tx.queue.length, held: false };
}

/** The sweep's transaction on one row: overdue holder and expired detached requests leave; a dead process's waiters detach or leave. */
async function expireDue(tx: RowTx): Promise<Array<[string, unknown]>> {
  const orphans = await tx.client.query(
    `UPDATE ${tx.t.claims} c SET keep_until = now() + keep_place_ms * interval '1 millisecond'
     WHERE model = $1 AND row_id = $2 AND NOT held AND keep_until IS NULL
       AND NOT EXISTS (SELECT 1 FROM ${tx.t.procs} p WHERE p.id = c.process_id AND p.alive_until > now())
     RETURNING claim_id`,
    [tx.model, tx.id],
  );
  if (orphans.rows.length > 0) {
    tx.touch();
    await tx.reload();
  }
  const res = await tx.client.query(
    `SELECT claim_id FROM ${tx.t.claims} WHERE model = $1 AND row_id = $2 AND ((held AND lease_until <= now()) OR (NOT held AND keep_until <= now()))`,
    [tx.model, tx.id],
  );
  const out: Array<[string, unknown]> = [];
  for (const r of res.rows) {
    const c = tx.find(r.claim_id)!;
    const reason = c.held
      ? new AbloClaimedError(`The claim on ${tx.model} ${tx.id} expired.`, { code: 'claim_expired', claimId: c.claimId })
      : expired(tx.model, tx.id, c.claimId);
    await tx.remove(c.claimId, reason);
    out.push([c.claimId, reason]);
  }
  return out;
}

function pickOptions(input: ClaimAcquireInput): ClaimOptions {
  return {
    ...(input.wait !== undefined ? { wait: input.wait } : {}),
    ...(input.leaseSeconds !== undefined ? { leaseSeconds: input.leaseSeconds } : {}),
    ...(input.action !== undefined ? { action: input.action } : {}),
    ...(input.maxQueueDepth !== undefined ? { maxQueueDepth: input.maxQueueDepth } : {}),
  };
}

function checkWaitInput(input: { waitMs?: number; signal?: AbortSignal; keepPlaceMs?: number }): void {
  if (input.waitMs !== undefined && !(input.waitMs > 0)) {
    throw new AbloValidationError('waitMs must be a positive number of milliseconds.', { code: 'invalid_request', field: 'waitMs' });
  }
  if (input.keepPlaceMs !== undefined && !(input.keepPlaceMs >= 0 && input.keepPlaceMs <= KEEP_PLACE_MAX_MS)) {
    throw new AbloValidationError(`keepPlaceMs must be from 0 to ${KEEP_PLACE_MAX_MS} milliseconds.`, { code: 'invalid_request', field: 'keepPlaceMs' });
  }
  if (input.signal?.aborted) throw abloError('claim_aborted');
}

function emptyRow(model: string, id: string): RowEventBody {
  return { model, id, holder: null, queue: [], groups: null, leaving: [], gone: {} };
}

function sameGroups(a: readonly string[] | null, b: readonly string[]): boolean {
  return a !== null && a.length === b.length && a.every((g, i) => g === b[i]);
}
