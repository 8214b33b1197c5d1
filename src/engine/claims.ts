/**
 * Claims: an advisory lease on one row (model + id) with a fair FIFO queue.
 * This is the memory `ClaimStore` (the port is ./claims/store.ts): claims
 * live in this process, and a restart drops them (leases are short, and
 * every holder notices on its next renew).
 *
 * A claim belongs to an OWNER (an opaque string): a WebSocket connection id
 * for claims made over the socket, or the claim's own id for claims made over
 * HTTP (the client presents it on writes with `Ablo-Claim`). While a row is
 * held, the commit path's claim check refuses writes to it from anyone but
 * the owner.
 *
 * Ordering guarantees (every ClaimStore keeps them):
 * - Requests are queued synchronously, in the order `acquire` is called, and
 *   granted strictly in that order.
 * - Ownership passes to the next waiter synchronously when the holder leaves,
 *   so no write from anyone else fits between two holders.
 * - The row handed to a new holder (`data`) is read through `readRow`, which
 *   the engine runs behind every commit already queued, so it includes every
 *   write the previous holder got (or will get) a receipt for.
 * - An explicit release first waits for `barrier` (the commits its owner
 *   submitted before releasing), so "write, then release" without waiting for
 *   the receipt still lands the write under the claim.
 * - A request that keeps its place (`keepPlaceMs`) stays at its position
 *   while detached; resuming it by ticket never moves it back. If its turn
 *   comes while detached it is granted (and held) until the grace period or
 *   its lease ends, whichever is first, then the next in line takes over.
 * - Claim events reach subscribers in the order the state changed.
 */
import { randomBytes } from 'node:crypto';
import { AbloClaimedError, abloError, AbloNotFoundError, AbloPermissionError, AbloValidationError } from '../errors.js';
import {
  CLAIM_LEASE_DEFAULT_SECONDS,
  claimOptionsSchema,
  type Claim,
  type ClaimGrant,
  type ClaimOptions,
  type ClaimQueueEntry,
  type ClaimReleased,
  type ClaimState,
} from '../protocol/claims.js';
import { rowIdSchema, type ParticipantRef } from '../protocol/commit.js';
import { ulid } from '../protocol/ids.js';
import { parseWire } from '../protocol/parse.js';
import type { CompiledSchema } from '../schema/compile.js';
import type { ClaimAcquireInput, ClaimEvent, ClaimResumeInput, ClaimStore } from './claims/store.js';
import type { ChangeRecord, StoredRow } from './storage/types.js';

export type { ClaimAcquireInput, ClaimEvent, ClaimQueued, ClaimResumeInput, ClaimStore } from './claims/store.js';
/** Former name of `ClaimEvent`. */
export type ClaimChange = ClaimEvent;

export interface MemoryClaimStoreOptions {
  /** Current compiled schema (claims on unknown models are refused). */
  schema: () => CompiledSchema | null;
  /** Read a row for a grant. The engine sequences this behind queued commits. */
  readRow: (model: string, id: string) => Promise<StoredRow | null>;
  /** Resolves once every commit submitted so far is applied (used before an explicit release). */
  barrier?: () => Promise<void>;
  now?: () => number;
  /** Called on every claim event (same as `subscribe`). */
  onChange?: (event: ClaimEvent) => void;
}
/** Former name of `MemoryClaimStoreOptions`. */
export type ClaimManagerOptions = MemoryClaimStoreOptions;

/** Longest a request keeps its place in line after its waiter goes away. */
export const KEEP_PLACE_MAX_MS = 10 * 60_000;

interface Waiter {
  resolve: (grant: ClaimGrant) => void;
  reject: (err: unknown) => void;
}

interface Request {
  claimId: string;
  owner: string;
  credentialId: string | null;
  participant: ParticipantRef;
  action: string | null;
  leaseSeconds: number;
  requestedAt: number;
  waiters: Waiter[];
  /** Undo the wait timer / abort listener. */
  stopWaiting: (() => void) | null;
  /** Set when the request keeps its place (`keepPlaceMs` > 0). */
  ticket: string | null;
  keepPlaceMs: number;
  /** Its waiter went away; it keeps its place until `graceTimer` fires or it is resumed. */
  detached: boolean;
  graceTimer: NodeJS.Timeout | null;
  // Set once this request holds the row:
  acquiredAt: number;
  expiresAt: number;
  leaseTimer: NodeJS.Timeout | null;
  /** True once `data` was read and the grant handed out. */
  granted: boolean;
}

interface RowState {
  key: string;
  model: string;
  id: string;
  holder: Request | null;
  queue: Request[];
  groups: string[] | null;
  /** An explicit release waiting for its barrier. */
  releasing: Promise<void> | null;
}

function rowKey(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function who(p: ParticipantRef, action: string | null): string {
  return `${p.kind} ${p.id}${action ? ` ("${action}")` : ''}`;
}

export class MemoryClaimStore implements ClaimStore {
  private readonly opts: MemoryClaimStoreOptions;
  private readonly now: () => number;
  private readonly rows = new Map<string, RowState>();
  private readonly byClaim = new Map<string, RowState>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly byTicket = new Map<string, { row: RowState; req: Request }>();
  private readonly listeners = new Set<(event: ClaimEvent) => void>();
  private closed = false;

  constructor(options: MemoryClaimStoreOptions) {
    this.opts = options;
    this.now = options.now ?? Date.now;
    if (options.onChange) this.listeners.add(options.onChange);
  }

  /** Hear every claim event (in process); returns an unsubscribe function. */
  subscribe(listener: (event: ClaimEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Same as `subscribe`. */
  onChange(listener: (event: ClaimEvent) => void): () => void {
    return this.subscribe(listener);
  }

  acquire(input: ClaimAcquireInput): Promise<ClaimGrant> {
    try {
      return this.enqueue(input);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  resume(input: ClaimResumeInput): Promise<ClaimGrant> {
    try {
      return this.reattach(input);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async release(claimId: string, owner: string): Promise<ClaimReleased> {
    const row = this.byClaim.get(claimId);
    if (!row) throw this.noClaim(claimId);
    const holder = row.holder;
    if (holder && holder.claimId === claimId) {
      if (holder.owner !== owner) throw this.notOwner(row, holder);
      row.releasing ??= this.releaseAfterBarrier(row, holder);
      await row.releasing;
      return { object: 'claim', id: claimId, released: true };
    }
    const req = row.queue.find((r) => r.claimId === claimId)!;
    if (req.owner !== owner) throw this.notOwner(row, req);
    this.dropRequest(row, req, this.cancelled(row));
    return { object: 'claim', id: claimId, released: true };
  }

  /** A new owner takes over a claim still held (same credential): the lease starts again. */
  async resumeHeld(claimId: string, owner: string, credentialId?: string): Promise<ClaimGrant> {
    if (this.closed) throw abloError('shutting_down');
    const row = this.byClaim.get(claimId);
    const holder = row?.holder;
    if (!row || !holder || holder.claimId !== claimId || holder.credentialId !== (credentialId ?? null)) throw this.noClaim(claimId);
    if (holder.owner !== owner) {
      this.unindexOwner(row, holder);
      holder.owner = owner;
      this.index(row, holder);
    }
    holder.detached = false;
    this.startLease(row, holder);
    this.emit(row);
    return holder.granted ? this.regrant(row, holder) : this.waitFor(holder);
  }

  async releaseRow(model: string, id: string, owner: string): Promise<ClaimReleased> {
    const row = this.rows.get(rowKey(model, id));
    const mine = row?.holder?.owner === owner ? row.holder : row?.queue.find((r) => r.owner === owner);
    if (!row || !mine) {
      throw new AbloNotFoundError(`You hold no claim on ${model} ${id} and are not waiting for one.`, { code: 'claim_not_found', model, id });
    }
    return this.release(mine.claimId, owner);
  }

  renew(claimId: string, owner: string, leaseSeconds?: number): Claim {
    const row = this.byClaim.get(claimId);
    const holder = row?.holder;
    if (!row || !holder || holder.claimId !== claimId) {
      throw new AbloNotFoundError(
        row
          ? `Claim ${claimId} is still waiting in line; there is no lease to renew yet.`
          : `No active claim ${claimId}: it was released or its lease expired. Claim the row again.`,
        { code: row ? 'claim_not_granted' : 'claim_not_found', claimId },
      );
    }
    if (holder.owner !== owner) throw this.notOwner(row, holder);
    if (leaseSeconds !== undefined) holder.leaseSeconds = this.parseOptions({ leaseSeconds }).leaseSeconds!;
    this.startLease(row, holder);
    this.emit(row);
    return this.claimOf(row, holder);
  }

  state(model: string, id: string): ClaimState {
    const row = this.rows.get(rowKey(model, id));
    return row ? { claim: row.holder ? this.claimOf(row, row.holder) : null, queue: this.queueOf(row) } : { claim: null, queue: [] };
  }

  list(): ClaimEvent[] {
    return [...this.rows.values()].map((row) => this.changeOf(row, []));
  }

  releaseOwner(owner: string): void {
    const keys = this.byOwner.get(owner);
    if (!keys) return;
    for (const key of [...keys]) {
      const row = this.rows.get(key);
      if (!row) continue;
      const gone = abloError('connection_closed');
      for (const req of row.queue.filter((r) => r.owner === owner)) this.leaveLine(row, req, gone);
      if (row.holder?.owner === owner) this.releaseHolder(row, gone);
    }
    this.byOwner.delete(owner);
  }

  releaseCredential(credentialId: string, reason: unknown): void {
    if (this.closed) return;
    for (const row of [...this.rows.values()]) {
      for (const req of row.queue.filter((r) => r.credentialId === credentialId)) this.dropRequest(row, req, reason);
      if (row.holder?.credentialId === credentialId) this.releaseHolder(row, reason);
    }
  }

  check(model: string, id: string, owners: string | readonly string[]): void {
    const row = this.rows.get(rowKey(model, id));
    const holder = row?.holder;
    if (!row || !holder) return;
    if (typeof owners === 'string' ? owners === holder.owner : owners.includes(holder.owner)) return;
    throw this.claimedError(row, 'row_claimed');
  }

  noteChanges(changes: readonly ChangeRecord[]): void {
    if (this.rows.size === 0) return;
    for (const c of changes) {
      const row = this.rows.get(rowKey(c.model, c.id));
      if (!row || sameGroups(row.groups, c.groups)) continue;
      const before = row.groups ?? [];
      row.groups = c.groups;
      // Tell both the old and the new groups.
      this.emit(row, [], [...new Set([...before, ...c.groups])]);
    }
  }

  /** Number of rows with a claim or a queue. */
  get size(): number {
    return this.rows.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const err = abloError('shutting_down');
    for (const row of this.rows.values()) {
      for (const req of row.queue) {
        req.stopWaiting?.();
        if (req.graceTimer) clearTimeout(req.graceTimer);
        for (const w of req.waiters) w.reject(err);
      }
      if (row.holder) {
        if (row.holder.leaseTimer) clearTimeout(row.holder.leaseTimer);
        if (row.holder.graceTimer) clearTimeout(row.holder.graceTimer);
        if (!row.holder.granted) for (const w of row.holder.waiters) w.reject(err);
      }
      row.holder = null;
      row.queue = [];
    }
    this.rows.clear();
    this.byClaim.clear();
    this.byOwner.clear();
    this.byTicket.clear();
    this.listeners.clear();
  }

  // --- internals ---

  private parseOptions(options: ClaimOptions): ClaimOptions {
    return parseWire(claimOptionsSchema, options, 'claim options');
  }

  private modelName(name: string): string {
    const schema = this.opts.schema();
    if (!schema) {
      throw abloError('no_schema');
    }
    return schema.model(name).name;
  }

  private checkWaitInput(input: { waitMs?: number; signal?: AbortSignal; keepPlaceMs?: number }): void {
    if (input.waitMs !== undefined && !(input.waitMs > 0)) {
      throw new AbloValidationError('waitMs must be a positive number of milliseconds.', { code: 'invalid_request', field: 'waitMs' });
    }
    if (input.keepPlaceMs !== undefined && !(input.keepPlaceMs >= 0 && input.keepPlaceMs <= KEEP_PLACE_MAX_MS)) {
      throw new AbloValidationError(`keepPlaceMs must be from 0 to ${KEEP_PLACE_MAX_MS} milliseconds.`, { code: 'invalid_request', field: 'keepPlaceMs' });
    }
    if (input.signal?.aborted) throw abloError('claim_aborted');
  }

  private enqueue(input: ClaimAcquireInput): Promise<ClaimGrant> {
    if (this.closed) throw abloError('shutting_down');
    const model = this.modelName(input.model);
    const id = parseWire(rowIdSchema, input.id, 'claim row id');
    const options = this.parseOptions({
      ...(input.wait !== undefined ? { wait: input.wait } : {}),
      ...(input.leaseSeconds !== undefined ? { leaseSeconds: input.leaseSeconds } : {}),
      ...(input.action !== undefined ? { action: input.action } : {}),
      ...(input.maxQueueDepth !== undefined ? { maxQueueDepth: input.maxQueueDepth } : {}),
    });
    this.checkWaitInput(input);

    const key = rowKey(model, id);
    let row = this.rows.get(key);

    // Same owner again: never queue behind yourself.
    if (row && input.owner !== undefined) {
      const held = row.holder;
      if (held && held.owner === input.owner) {
        if (options.leaseSeconds !== undefined) held.leaseSeconds = options.leaseSeconds;
        if (options.action !== undefined) held.action = options.action;
        this.startLease(row, held);
        this.emit(row);
        if (!held.granted) return this.waitFor(held);
        return this.regrant(row, held);
      }
      const waiting = row.queue.find((r) => r.owner === input.owner);
      if (waiting) return this.waitFor(waiting);
    }

    const now = this.now();
    const claimId = `clm_${ulid(now)}`;
    const keepPlaceMs = input.keepPlaceMs ?? 0;
    const req: Request = {
      claimId,
      owner: input.owner ?? claimId,
      credentialId: input.credentialId ?? null,
      participant: input.participant,
      action: options.action ?? null,
      leaseSeconds: options.leaseSeconds ?? CLAIM_LEASE_DEFAULT_SECONDS,
      requestedAt: now,
      waiters: [],
      stopWaiting: null,
      ticket: keepPlaceMs > 0 ? `ctk_${randomBytes(18).toString('base64url')}` : null,
      keepPlaceMs,
      detached: false,
      graceTimer: null,
      acquiredAt: 0,
      expiresAt: 0,
      leaseTimer: null,
      granted: false,
    };

    if (!row) {
      row = { key, model, id, holder: null, queue: [], groups: null, releasing: null };
      this.rows.set(key, row);
    }
    if (!row.holder) {
      const promise = this.waitFor(req);
      this.index(row, req);
      this.hold(row, req);
      this.emit(row);
      return promise;
    }

    if (options.wait === false) throw this.claimedError(row, 'row_claimed');
    if (options.maxQueueDepth !== undefined && row.queue.length >= options.maxQueueDepth) throw this.claimedError(row, 'queue_full', options.maxQueueDepth);

    const promise = this.waitFor(req);
    row.queue.push(req);
    this.index(row, req);
    this.watchWait(row, req, input.waitMs, input.signal);
    this.emit(row);
    if (input.onQueued) {
      try {
        input.onQueued({ claimId, position: row.queue.length, ...(req.ticket ? { ticket: req.ticket } : {}) });
      } catch {
        // The caller's callback never breaks the queue.
      }
    }
    return promise;
  }

  /** Wait timer and abort listener of a queued request: a timeout makes it leave the line (or detach, keeping its place); an abort withdraws it. */
  private watchWait(row: RowState, req: Request, waitMs: number | undefined, signal: AbortSignal | undefined): void {
    req.stopWaiting?.();
    const timer =
      waitMs !== undefined
        ? setTimeout(() => {
            if (row.queue.includes(req)) this.leaveLine(row, req, this.waitTimeout(row, req, waitMs));
          }, waitMs)
        : null;
    timer?.unref();
    // An abort withdraws the request, place kept or not: its asker gave up.
    const onAbort = (): void => {
      if (row.queue.includes(req)) this.dropRequest(row, req, abloError('claim_aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.stopWaiting = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
  }

  private reattach(input: ClaimResumeInput): Promise<ClaimGrant> {
    if (this.closed) throw abloError('shutting_down');
    const model = this.modelName(input.model);
    this.checkWaitInput(input);
    const found = this.byTicket.get(input.ticket);
    const mine = found && found.row.model === model && found.row.id === input.id && found.req.credentialId === (input.credentialId ?? null);
    if (!found || !mine) {
      throw new AbloNotFoundError(
        `No claim request with this ticket waits for ${model} ${input.id}: it was granted and released, or it waited detached longer than its keepPlace time. Claim the row again (at the back of the line).`,
        { code: 'claim_ticket_not_found', model, id: input.id },
      );
    }
    const { row, req } = found;
    if (input.keepPlaceMs !== undefined) req.keepPlaceMs = input.keepPlaceMs;
    req.detached = false;
    if (req.graceTimer) clearTimeout(req.graceTimer);
    req.graceTimer = null;
    if (input.owner !== undefined && input.owner !== req.owner) {
      this.unindexOwner(row, req);
      req.owner = input.owner;
      this.index(row, req);
    }
    if (row.holder === req) {
      // Its turn came while it was away: the lease starts again now that it is back.
      this.startLease(row, req);
      this.emit(row);
      return req.granted ? this.regrant(row, req) : this.waitFor(req);
    }
    const promise = this.waitFor(req);
    this.watchWait(row, req, input.waitMs, input.signal);
    return promise;
  }

  /**
   * A queued request's waiter went away (wait timeout, its owner leaving):
   * it leaves the line, or, keeping its place, detaches until its grace
   * period ends or it is resumed.
   */
  private leaveLine(row: RowState, req: Request, reason: unknown): void {
    if (req.keepPlaceMs <= 0) {
      this.dropRequest(row, req, reason);
      return;
    }
    req.stopWaiting?.();
    req.stopWaiting = null;
    for (const w of req.waiters.splice(0)) w.reject(reason);
    if (req.detached) return;
    req.detached = true;
    req.graceTimer = setTimeout(() => {
      req.graceTimer = null;
      if (!req.detached) return;
      if (row.holder === req) {
        this.releaseHolder(row, new AbloClaimedError(`The claim on ${row.model} ${row.id} was not resumed in time.`, { code: 'claim_expired', claimId: req.claimId }));
      } else if (row.queue.includes(req)) {
        this.dropRequest(row, req, reason);
      }
    }, req.keepPlaceMs);
    req.graceTimer.unref();
  }

  private waitFor(req: Request): Promise<ClaimGrant> {
    return new Promise<ClaimGrant>((resolve, reject) => req.waiters.push({ resolve, reject }));
  }

  private index(row: RowState, req: Request): void {
    this.byClaim.set(req.claimId, row);
    if (req.ticket) this.byTicket.set(req.ticket, { row, req });
    let keys = this.byOwner.get(req.owner);
    if (!keys) this.byOwner.set(req.owner, (keys = new Set()));
    keys.add(row.key);
  }

  private unindex(row: RowState, req: Request): void {
    this.byClaim.delete(req.claimId);
    if (req.ticket) this.byTicket.delete(req.ticket);
    if (req.graceTimer) clearTimeout(req.graceTimer);
    req.graceTimer = null;
    this.unindexOwner(row, req);
  }

  private unindexOwner(row: RowState, req: Request): void {
    const keys = this.byOwner.get(req.owner);
    if (!keys) return;
    const stillHere = (row.holder !== req && row.holder?.owner === req.owner) || row.queue.some((r) => r !== req && r.owner === req.owner);
    if (!stillHere) keys.delete(row.key);
    if (keys.size === 0) this.byOwner.delete(req.owner);
  }

  /** Make `req` the holder (synchronously) and hand it the row once read. */
  private hold(row: RowState, req: Request): void {
    req.stopWaiting?.();
    req.stopWaiting = null;
    row.holder = req;
    req.acquiredAt = this.now();
    this.startLease(row, req);
    void this.grant(row, req);
  }

  private startLease(row: RowState, req: Request): void {
    if (req.leaseTimer) clearTimeout(req.leaseTimer);
    req.expiresAt = this.now() + req.leaseSeconds * 1000;
    req.leaseTimer = setTimeout(() => {
      if (row.holder !== req) return;
      this.releaseHolder(
        row,
        new AbloClaimedError(`Your claim on ${row.model} ${row.id} expired before it was granted.`, { code: 'claim_expired', claimId: req.claimId }),
      );
    }, req.leaseSeconds * 1000);
    req.leaseTimer.unref();
  }

  private async grant(row: RowState, req: Request): Promise<void> {
    let data: StoredRow | null = null;
    let failure: unknown = null;
    try {
      data = await this.opts.readRow(row.model, row.id);
    } catch (err) {
      failure = err;
    }
    // Released, expired or shut down while reading: that path settled the waiters.
    if (this.closed || row.holder !== req) return;
    if (!data) {
      this.releaseHolder(
        row,
        failure ?? abloError('row_not_found', { model: row.model, id: row.id }),
      );
      return;
    }
    req.granted = true;
    this.noteGroups(row, data);
    const grant: ClaimGrant = { ...this.claimOf(row, req), data };
    for (const w of req.waiters.splice(0)) w.resolve(grant);
  }

  /** The same owner asked again for a row it holds: renewed claim plus the row as it is now. */
  private async regrant(row: RowState, req: Request): Promise<ClaimGrant> {
    const data = await this.opts.readRow(row.model, row.id);
    if (!data) throw abloError('row_not_found', { model: row.model, id: row.id });
    this.noteGroups(row, data);
    return { ...this.claimOf(row, req), data };
  }

  private noteGroups(row: RowState, data: StoredRow): void {
    const model = this.opts.schema()?.models[row.model];
    if (!model) return;
    const groups = model.syncGroups(data);
    if (sameGroups(row.groups, groups)) return;
    const before = row.groups;
    row.groups = groups;
    // First read (nobody outside the owners heard before) or the row moved.
    this.emit(row, [], [...new Set([...(before ?? []), ...groups])]);
  }

  /** The holder leaves (release, expiry, disconnect, missing row); the next in line takes over. */
  private releaseHolder(row: RowState, reason: unknown): void {
    const holder = row.holder;
    if (!holder) return;
    if (holder.leaseTimer) clearTimeout(holder.leaseTimer);
    holder.leaseTimer = null;
    row.holder = null;
    this.unindex(row, holder);
    if (!holder.granted) for (const w of holder.waiters.splice(0)) w.reject(reason);
    this.promote(row, [holder.owner]);
  }

  private async releaseAfterBarrier(row: RowState, holder: Request): Promise<void> {
    try {
      // Always a turn of the event loop: `row.releasing` is assigned before this goes on (and clears it).
      await this.opts.barrier?.();
    } catch {
      // The pipeline failed; the release goes ahead regardless.
    }
    row.releasing = null;
    // It may have expired (or its owner disconnected) in the meantime; then it is already gone.
    if (this.closed || row.holder !== holder) return;
    this.releaseHolder(row, new AbloClaimedError(`The claim on ${row.model} ${row.id} was released before it was granted.`, { code: 'claim_cancelled' }));
  }

  private dropRequest(row: RowState, req: Request, reason: unknown): void {
    const i = row.queue.indexOf(req);
    if (i < 0) return;
    row.queue.splice(i, 1);
    req.stopWaiting?.();
    req.stopWaiting = null;
    this.unindex(row, req);
    for (const w of req.waiters.splice(0)) w.reject(reason);
    this.promote(row, [req.owner]);
  }

  /** Grant the next waiter if the row is free; publish the new state; forget an idle row. */
  private promote(row: RowState, leaving: string[]): void {
    if (this.closed) return;
    if (!row.holder) {
      const next = row.queue.shift();
      if (next) this.hold(row, next);
    }
    this.emit(row, leaving);
    if (!row.holder && row.queue.length === 0 && this.rows.get(row.key) === row) this.rows.delete(row.key);
  }

  private emit(row: RowState, leaving: string[] = [], groups?: string[]): void {
    if (this.closed || this.listeners.size === 0) return;
    // Until the row was read once its groups are unknown; the first read publishes the state.
    if (!groups && row.groups === null) return;
    const change = this.changeOf(row, leaving, groups);
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A listener's failure never breaks the claim state.
      }
    }
  }

  private changeOf(row: RowState, leaving: string[], groups?: string[]): ClaimEvent {
    const owners = new Set(leaving);
    if (row.holder) owners.add(row.holder.owner);
    for (const r of row.queue) owners.add(r.owner);
    return {
      model: row.model,
      id: row.id,
      claim: row.holder ? this.claimOf(row, row.holder) : null,
      queue: this.queueOf(row),
      groups: groups ?? row.groups ?? [],
      owners: [...owners],
    };
  }

  private claimOf(row: RowState, req: Request): Claim {
    return {
      object: 'claim',
      id: req.claimId,
      model: row.model,
      rowId: row.id,
      holder: req.participant,
      action: req.action,
      acquiredAt: iso(req.acquiredAt),
      expiresAt: iso(req.expiresAt),
      leaseSeconds: req.leaseSeconds,
    };
  }

  private queueOf(row: RowState): ClaimQueueEntry[] {
    return row.queue.map((r, i) => ({ participant: r.participant, action: r.action, requestedAt: iso(r.requestedAt), position: i + 1 }));
  }

  private claimedError(row: RowState, code: 'row_claimed' | 'queue_full' | 'claim_wait_timeout', maxQueueDepth?: number, waitMs?: number, kept?: Request): AbloClaimedError {
    const holder = row.holder!;
    const base = `${row.model} ${row.id} is claimed by ${who(holder.participant, holder.action)} until ${iso(holder.expiresAt)}`;
    const waiting = row.queue.length;
    const waited = `gave up waiting after ${Math.round((waitMs ?? 0) / 100) / 10} s`;
    const message =
      code === 'queue_full'
        ? `${base}, and ${waiting} request${waiting === 1 ? ' is' : 's are'} already waiting (maxQueueDepth ${maxQueueDepth}). Retry later, or claim with a higher maxQueueDepth.`
        : code === 'claim_wait_timeout' && kept
          ? `${base}; ${waited}. Your place in line (${row.queue.indexOf(kept) + 1} of ${waiting}) is kept for ${Math.round(kept.keepPlaceMs / 100) / 10} s: ask again with its ticket to resume it.`
          : code === 'claim_wait_timeout'
            ? `${base}; ${waited} and left the queue. Claim again to rejoin it (at the back), or retry after it is released.`
            : `${base}. Wait for it with claim() (you get the row as it is when it is your turn), or retry after it is released.`;
    return new AbloClaimedError(message, {
      code,
      holder: holder.participant,
      claimId: holder.claimId,
      expiresAt: iso(holder.expiresAt),
      action: holder.action,
      model: row.model,
      id: row.id,
      queueLength: waiting,
      ...(kept?.ticket ? { ticket: kept.ticket, position: row.queue.indexOf(kept) + 1, keepPlaceSeconds: kept.keepPlaceMs / 1000 } : {}),
    });
  }

  /** A queued request waited `waitMs` without its turn (it keeps its place when it has a ticket). */
  private waitTimeout(row: RowState, req: Request, waitMs: number): AbloClaimedError {
    return this.claimedError(row, 'claim_wait_timeout', undefined, waitMs, req.ticket ? req : undefined);
  }

  private notOwner(row: RowState, req: Request): AbloPermissionError {
    return new AbloPermissionError(
      `Claim ${req.claimId} on ${row.model} ${row.id} belongs to ${who(req.participant, req.action)} on another connection; only its owner can release or renew it.`,
      { code: 'not_claim_owner', claimId: req.claimId, holder: req.participant },
    );
  }

  private noClaim(claimId: string): AbloNotFoundError {
    return new AbloNotFoundError(`No active claim ${claimId}: it was released or its lease expired.`, { code: 'claim_not_found', claimId });
  }

  private cancelled(row: RowState): AbloClaimedError {
    return new AbloClaimedError(`The request for ${row.model} ${row.id} was withdrawn before it was granted.`, { code: 'claim_cancelled' });
  }
}

function sameGroups(a: readonly string[] | null, b: readonly string[]): boolean {
  return a !== null && a.length === b.length && a.every((g, i) => g === b[i]);
}

/** Former name of `MemoryClaimStore` (the engine's `claims`). */
export { MemoryClaimStore as ClaimManager };
