/**
 * Claims held by one MCP session. Over HTTP a claim is owned by its id, so
 * the session keeps the ids it was granted, presents them (`Ablo-Claim`) on
 * every write it makes, renews each every leaseSeconds/3, and releases them
 * all when the session ends.
 *
 * A long wait is a series of long-polls (each under fetch's 300 s limit).
 * The request keeps its place in line between them: the first poll asks for
 * `keepPlaceSeconds`, each `claim_wait_timeout` carries a ticket, and the next
 * poll resumes with it. The last poll (the caller's own limit) keeps no place,
 * so giving up leaves the line; cancelling (abort) withdraws it at once.
 */
import { AbloConnectionError, AbloError, AbloNotFoundError } from '../src/errors.js';
import type { Claim, ClaimGrant } from '../src/protocol/claims.js';
import { CLAIM_LEASE_DEFAULT_SECONDS, CLAIM_WAIT_MAX_SECONDS } from '../src/protocol/claims.js';
import type { ClaimBody, EngineApi } from './engineApi.js';

export interface HeldClaim {
  claimId: string;
  model: string;
  id: string;
  action: string | null;
  leaseSeconds: number;
  expiresAt: string;
}

export interface AcquireOptions {
  action?: string;
  wait?: boolean;
  leaseSeconds?: number;
  /** Give up after this many seconds of waiting (default: until granted or aborted). */
  waitSeconds?: number;
  signal?: AbortSignal;
  /** Called every `progressMs` while waiting in line. */
  onWaiting?: (waitedMs: number) => void;
  progressMs?: number;
}

/** Longest single long-poll; fetch gives up on a response that takes 300 s, so stay under it. */
const POLL_SECONDS = Math.min(240, CLAIM_WAIT_MAX_SECONDS);
/** How long the engine keeps our place between two polls (the next poll is sent at once; this covers a slow hop). */
const KEEP_PLACE_SECONDS = 30;

/** A claim body with the place-keeping fields (src/protocol/claims.ts `claimRequestBodySchema`). */
type PollBody = ClaimBody & { keepPlaceSeconds?: number; ticket?: string };

function ticketOf(err: AbloError): string | undefined {
  const t = (err.details as { ticket?: unknown }).ticket;
  return typeof t === 'string' ? t : undefined;
}

const key = (model: string, id: string): string => `${model}\u0000${id}`;

export class SessionClaims {
  private readonly held = new Map<string, HeldClaim & { timer: NodeJS.Timeout }>();
  private closed = false;

  private readonly pollSeconds: number;

  constructor(
    private readonly api: EngineApi,
    private readonly log: (line: string) => void,
    /** `pollSeconds`: longest single long-poll (default 240). */
    options: { pollSeconds?: number } = {},
  ) {
    this.pollSeconds = options.pollSeconds ?? POLL_SECONDS;
  }

  /** Claim ids to present on this session's writes. */
  ids(): string[] {
    return [...this.held.values()].map((c) => c.claimId);
  }

  list(): HeldClaim[] {
    return [...this.held.values()].map(({ timer: _t, ...c }) => c);
  }

  get(model: string, id: string): HeldClaim | undefined {
    const c = this.held.get(key(model, id));
    if (!c) return undefined;
    const { timer: _t, ...rest } = c;
    return rest;
  }

  async acquire(model: string, id: string, options: AcquireOptions = {}): Promise<ClaimGrant> {
    if (this.closed) throw new AbloConnectionError('This MCP session is closing.', { code: 'session_closed' });
    const body: ClaimBody = {
      ...(options.action !== undefined ? { action: options.action } : {}),
      ...(options.leaseSeconds !== undefined ? { leaseSeconds: options.leaseSeconds } : {}),
    };
    const started = Date.now();
    let progress: NodeJS.Timeout | undefined;
    if (options.onWaiting && options.wait !== false) {
      progress = setInterval(() => options.onWaiting!(Date.now() - started), options.progressMs ?? 10_000);
      progress.unref();
    }
    try {
      let grant: ClaimGrant;
      if (options.wait === false) {
        grant = await this.api.claim(model, id, { ...body, wait: false }, this.ids(), options.signal);
      } else {
        const deadline = options.waitSeconds !== undefined ? started + options.waitSeconds * 1000 : Infinity;
        let ticket: string | undefined;
        for (;;) {
          const left = (deadline - Date.now()) / 1000;
          const waitSeconds = Math.max(0.1, Math.min(this.pollSeconds, left));
          // The poll that ends at the caller's own limit keeps no place: giving up leaves the line.
          const keepPlaceSeconds = left <= this.pollSeconds ? 0 : KEEP_PLACE_SECONDS;
          const poll: PollBody = ticket !== undefined ? { ticket, waitSeconds, keepPlaceSeconds } : { ...body, wait: true, waitSeconds, keepPlaceSeconds };
          try {
            grant = await this.api.claim(model, id, poll, this.ids(), options.signal);
            break;
          } catch (err) {
            if (!(err instanceof AbloError) || options.signal?.aborted) throw err;
            // Waited a full poll without our turn: ask again at the same place (until the caller's own limit).
            if (err.code === 'claim_wait_timeout' && Date.now() < deadline) {
              ticket = ticketOf(err);
              continue;
            }
            // The caller's limit passed while a poll kept our place (it ran past the deadline): one last, short
            // poll that keeps none, so giving up leaves the line (or takes the claim, if our turn came just now).
            const kept = err.code === 'claim_wait_timeout' ? ticketOf(err) : undefined;
            if (kept !== undefined) {
              grant = await this.api.claim(model, id, { ticket: kept, waitSeconds: 0.01, keepPlaceSeconds: 0 }, this.ids(), options.signal).catch((last: unknown) => {
                // Not granted, or the place was gone already (that poll kept none): either way we are out of the line.
                const left = last instanceof AbloError && (last.code === 'claim_wait_timeout' || last.code === 'claim_ticket_not_found');
                throw left ? err : last;
              });
              break;
            }
            // Our place is gone (kept too long, engine restarted): ask again, at the back.
            if (err.code === 'claim_ticket_not_found' && ticket !== undefined && Date.now() < deadline) {
              ticket = undefined;
              continue;
            }
            throw err;
          }
        }
      }
      if (this.closed) {
        // The session ended while we waited: nobody will use or release this claim.
        await this.api.release(grant.id).catch(() => undefined);
        throw new AbloConnectionError('This MCP session closed while the claim was waiting.', { code: 'session_closed' });
      }
      this.remember(grant);
      return grant;
    } finally {
      if (progress) clearInterval(progress);
    }
  }

  private remember(claim: Claim): void {
    const k = key(claim.model, claim.rowId);
    const previous = this.held.get(k);
    if (previous) clearInterval(previous.timer);
    const lease = claim.leaseSeconds || CLAIM_LEASE_DEFAULT_SECONDS;
    const timer = setInterval(() => void this.renew(k), Math.max(250, (lease * 1000) / 3));
    timer.unref();
    this.held.set(k, {
      claimId: claim.id,
      model: claim.model,
      id: claim.rowId,
      action: claim.action,
      leaseSeconds: lease,
      expiresAt: claim.expiresAt,
      timer,
    });
  }

  private async renew(k: string): Promise<void> {
    const c = this.held.get(k);
    if (!c || this.closed) return;
    try {
      const renewed = await this.api.renew(c.claimId, c.leaseSeconds);
      const still = this.held.get(k);
      if (still && still.claimId === c.claimId) still.expiresAt = renewed.expiresAt;
    } catch (err) {
      if (err instanceof AbloError && (err instanceof AbloNotFoundError || err.type === 'permission_error')) {
        // Expired or released elsewhere (an engine restart drops every claim): stop presenting it.
        const still = this.held.get(k);
        if (still && still.claimId === c.claimId) {
          clearInterval(still.timer);
          this.held.delete(k);
        }
        this.log(`claim on ${c.model} ${c.id} was lost (${err.code}); it is no longer held by this session`);
      } else {
        this.log(`renewing the claim on ${c.model} ${c.id} failed: ${(err as Error).message}; retrying`);
      }
    }
  }

  /** Release this session's claim on a row; undefined when it holds none. */
  async release(model: string, id: string): Promise<HeldClaim | undefined> {
    const k = key(model, id);
    const c = this.held.get(k);
    if (!c) return undefined;
    clearInterval(c.timer);
    this.held.delete(k);
    try {
      await this.api.release(c.claimId);
    } catch (err) {
      // Already gone (expired, engine restarted): released all the same.
      if (!(err instanceof AbloNotFoundError)) throw err;
    }
    const { timer: _t, ...rest } = c;
    return rest;
  }

  /** Release every claim (session end). With `notify: false`, only forget them (the engine is going away anyway). */
  async releaseAll(options: { notify?: boolean } = {}): Promise<void> {
    this.closed = true;
    const all = [...this.held.values()];
    this.held.clear();
    for (const c of all) clearInterval(c.timer);
    if (options.notify === false) return;
    // Bounded: a session ending (a client waiting to kill the process) must not hang on a slow engine.
    const within = <T,>(p: Promise<T>): Promise<T> =>
      Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000).unref())]);
    await Promise.all(
      all.map((c) =>
        within(this.api.release(c.claimId)).then(
          () => this.log(`released the claim on ${c.model} ${c.id}`),
          (err: Error) => {
            if (!(err instanceof AbloNotFoundError)) this.log(`releasing the claim on ${c.model} ${c.id} failed: ${err.message}`);
          },
        ),
      ),
    );
  }
}
