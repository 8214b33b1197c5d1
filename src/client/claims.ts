/**
 * Claims in the SDK: request frames with refs (sent once the socket is live),
 * handles that renew their lease while alive and release on dispose, and the
 * live claim state of every row in the client's groups (from `claims` frames).
 */
import { type AbloError, abloError, errorFromEnvelope } from '../errors.js';
import type { Claim, ClaimGrant, ClaimQueueEntry, ClaimState } from '../protocol/claims.js';
import { ulid } from '../protocol/ids.js';

export interface ClaimRequestOptions {
  id: string;
  /** Wait in line when someone holds the row (default true). */
  wait?: boolean;
  /** Refuse when this many requests or more already wait ahead. */
  maxQueueDepth?: number;
  /** Lease length in seconds (default 30). The SDK renews it while the handle is alive. */
  leaseSeconds?: number;
  /** What you are doing, shown to everyone who looks at the row. */
  action?: string;
}

/** A held claim. Release it with `release()` or `await using`. */
export interface ClaimHandle<Row> {
  /** Claim id (`clm_…`). */
  readonly id: string;
  readonly model: string;
  readonly rowId: string;
  /** The row as it was when the claim was granted (after the previous holder's writes). */
  readonly data: Row;
  readonly claim: Claim;
  /**
   * False once released or expired, or lost: after the connection drops, the
   * SDK takes the claim back (by its id) when it reconnects, to any engine
   * of `baseURL`; it is lost if the engine no longer has it (one engine
   * releases a disconnected holder's claims at once; several on Postgres keep
   * them for a lease) or the lease ran out before the SDK was back.
   */
  readonly active: boolean;
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Request {
  ref: string;
  frame: Record<string, unknown>;
  sent: boolean;
  resolve: (frame: Record<string, unknown>) => void;
  reject: (err: unknown) => void;
}

function rowKey(model: string, id: string): string {
  return `${model}\u0000${id}`;
}

export class ClaimTracker {
  private readonly requests = new Map<string, Request>();
  private readonly states = new Map<string, ClaimState>();
  private readonly handles = new Map<string, HandleImpl>();

  constructor(
    private readonly io: {
      send: (frame: unknown) => boolean;
      live: () => boolean;
      changed: () => void;
      lost: (event: { claimId: string; model: string; id: string; reason: string }) => void;
    },
  ) {}

  // ---- requests --------------------------------------------------------------

  private request(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ref = `c_${ulid()}`;
    return new Promise((resolve, reject) => {
      const req: Request = { ref, frame: { ...frame, ref }, sent: false, resolve, reject };
      this.requests.set(ref, req);
      if (this.io.live()) req.sent = this.io.send(req.frame);
    });
  }

  async acquire<Row>(model: string, options: ClaimRequestOptions): Promise<ClaimHandle<Row>> {
    const { id, ...rest } = options;
    const frame = await this.request({ type: 'claim', model, id, ...rest });
    const grant = frame.claim as ClaimGrant;
    const handle = new HandleImpl(this, grant, options.leaseSeconds ?? grant.leaseSeconds);
    this.handles.set(grant.id, handle);
    return handle as unknown as ClaimHandle<Row>;
  }

  async releaseById(claimId: string): Promise<void> {
    await this.request({ type: 'release', claimId });
  }

  /** Release this client's claim on the row, or leave the row's queue. */
  async releaseRow(model: string, id: string): Promise<void> {
    // Ended by us, as handle.release() does: the `claims` frame showing the row free
    // (it can arrive before the `released` answer) must not report these as lost.
    for (const h of [...this.handles.values()]) {
      if (h.model === model && h.rowId === id) {
        h.markInactive();
        this.handles.delete(h.id);
      }
    }
    await this.request({ type: 'release', model, id });
  }

  renew(claimId: string, leaseSeconds: number): void {
    if (this.io.live()) this.io.send({ type: 'renew', claimId, leaseSeconds });
  }

  forget(claimId: string): void {
    this.handles.delete(claimId);
  }

  // ---- live state --------------------------------------------------------------

  state(model: string, id: string): Claim | null {
    return this.states.get(rowKey(model, id))?.claim ?? null;
  }

  queue(model: string, id: string): ClaimQueueEntry[] {
    return this.states.get(rowKey(model, id))?.queue ?? [];
  }

  // ---- frames and connection events -------------------------------------------------

  /** Returns true when the frame was a claim frame. */
  onFrame(frame: Record<string, unknown>): boolean {
    switch (frame.type) {
      case 'claims': {
        const key = rowKey(frame.model as string, frame.id as string);
        const claim = (frame.claim as Claim | null) ?? null;
        const queue = (frame.queue as ClaimQueueEntry[]) ?? [];
        if (!claim && queue.length === 0) this.states.delete(key);
        else this.states.set(key, { claim, queue });
        // A handle whose claim is no longer the row's claim has ended (expired, or released elsewhere).
        for (const h of this.handles.values()) {
          if (h.model === frame.model && h.rowId === frame.id && claim?.id !== h.id) {
            h.markInactive();
            this.io.lost({ claimId: h.id, model: h.model, id: h.rowId, reason: 'the claim ended (lease expired or released)' });
          }
        }
        this.io.changed();
        return true;
      }
      case 'claim_granted':
      case 'released':
      case 'renewed':
      case 'claim_state': {
        const ref = frame.ref as string | undefined;
        const req = ref ? this.requests.get(ref) : undefined;
        if (req) {
          this.requests.delete(req.ref);
          req.resolve(frame);
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** An error frame for one of our requests; true when it was ours. */
  onError(ref: string | undefined, envelope: unknown): boolean {
    const req = ref ? this.requests.get(ref) : undefined;
    if (!req) return false;
    this.requests.delete(req.ref);
    req.reject(errorFromEnvelope({ error: envelope }));
    return true;
  }

  /** The socket is live again: take back the claims held before it dropped, send what waited. */
  onLive(): void {
    for (const h of this.handles.values()) if (h.suspended) this.resume(h);
    for (const req of this.requests.values()) if (!req.sent) req.sent = this.io.send(req.frame);
  }

  /** Ask the engine for a held claim back by its id (a `claim` frame with `resume`). */
  private resume(h: HandleImpl): void {
    h.resumed();
    h.resuming = true;
    this.request({ type: 'claim', model: h.model, id: h.rowId, resume: h.id }).then(
      () => (h.resuming = false),
      (err: AbloError) => {
        h.resuming = false;
        // Dropped again before the answer: try again on the next reconnect.
        if (err.code === 'claim_interrupted' && h.active) return h.suspend(() => this.lose(h, 'the connection dropped and the lease ran out'));
        this.lose(h, `the connection dropped and the claim could not be taken back (${err.code})`);
      },
    );
  }

  private lose(h: HandleImpl, reason: string): void {
    if (!h.active || this.handles.get(h.id) !== h) return;
    h.markInactive();
    this.handles.delete(h.id);
    this.io.lost({ claimId: h.id, model: h.model, id: h.rowId, reason });
  }

  /** A new sync session starts: the engine will resend the claim state of our groups. */
  onWelcome(): void {
    this.states.clear();
    this.io.changed();
  }

  /** Rows that left the local pool (`setSyncGroups`): their claim states go too (no more news of them comes). */
  forgetRows(rows: ReadonlyArray<{ model: string; id: string }>): void {
    let changed = false;
    for (const r of rows) changed = this.states.delete(rowKey(r.model, r.id)) || changed;
    if (changed) this.io.changed();
  }

  /** The socket dropped: the engine dropped our waiting requests; held claims are taken back on reconnect if they last. */
  onDisconnect(): void {
    for (const req of [...this.requests.values()]) {
      if (!req.sent) continue;
      this.requests.delete(req.ref);
      req.reject(abloError('claim_interrupted'));
    }
    for (const h of [...this.handles.values()]) {
      if (!h.suspended) h.suspend(() => this.lose(h, 'the connection dropped and the lease ran out'));
    }
  }

  dispose(error: AbloError): void {
    for (const req of this.requests.values()) req.reject(error);
    this.requests.clear();
    for (const h of this.handles.values()) h.markInactive();
    this.handles.clear();
  }
}

class HandleImpl {
  readonly id: string;
  readonly model: string;
  readonly rowId: string;
  readonly data: unknown;
  readonly claim: Claim;
  private timer: ReturnType<typeof setInterval> | null;
  private releasing: Promise<void> | null = null;
  private isActive = true;
  private readonly leaseSeconds: number;
  /** Set while the connection is down: the claim is taken back on reconnect, or lost when its lease would have run out. */
  private suspendTimer: ReturnType<typeof setTimeout> | null = null;
  suspended = false;
  /** A resume is in flight: no renewal until the engine answers (the claim is not this connection's before). */
  resuming = false;

  constructor(
    private readonly tracker: ClaimTracker,
    grant: ClaimGrant,
    leaseSeconds: number,
  ) {
    const { data, ...claim } = grant;
    this.id = grant.id;
    this.model = grant.model;
    this.rowId = grant.rowId;
    this.data = data;
    this.claim = claim;
    this.leaseSeconds = leaseSeconds;
    // Renew at a third of the lease, so two renewals can fail before it runs out.
    this.timer = setInterval(() => {
      if (!this.suspended && !this.resuming) tracker.renew(this.id, leaseSeconds);
    }, Math.max(250, (leaseSeconds * 1000) / 3));
    (this.timer as { unref?: () => void }).unref?.();
  }

  get active(): boolean {
    return this.isActive;
  }

  markInactive(): void {
    this.isActive = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.resumed();
  }

  /** The connection dropped: `expire` runs if it is not back within a lease (renewed at most a third of one ago). */
  suspend(expire: () => void): void {
    this.suspended = true;
    if (this.suspendTimer) clearTimeout(this.suspendTimer);
    this.suspendTimer = setTimeout(expire, this.leaseSeconds * 1000);
    (this.suspendTimer as { unref?: () => void }).unref?.();
  }

  resumed(): void {
    this.suspended = false;
    if (this.suspendTimer) clearTimeout(this.suspendTimer);
    this.suspendTimer = null;
  }

  release(): Promise<void> {
    if (!this.isActive) return this.releasing ?? Promise.resolve();
    this.markInactive();
    this.tracker.forget(this.id);
    this.releasing = this.tracker.releaseById(this.id).catch((err: AbloError) => {
      // Already gone (expired, or released with the connection): nothing left to release.
      if (err.type === 'not_found' || err.type === 'permission_error') return;
      throw err;
    });
    return this.releasing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
