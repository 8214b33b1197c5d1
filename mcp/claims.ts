/**
 * Claims held by one MCP session. Over HTTP a claim is owned by its id, so
 * the session keeps the ids it was granted, presents them (`Ablo-Claim`) on
 * every write it makes, renews each every leaseSeconds/3, and releases them
 * all when the session ends.
 *
 * One `<model>_claim` call waits at most `patienceSeconds` (default 50: under
 * the MCP SDK's 60 s request timeout), as one long-poll that keeps its place
 * in line (`keepPlaceSeconds` = `ticketSeconds`). When the turn has not come
 * by then the call answers `waiting` with the queue position and the ticket
 * the engine gave; the next call for the row resumes that same place (with
 * the ticket, or on its own: the session remembers it). A ticket not resumed
 * within `ticketSeconds` expires in the engine and the place passes on.
 * Cancelling a call (abort) withdraws the place at once; so do
 * `<model>_release` and the end of the session.
 */
import { AbloConnectionError, AbloError, AbloNotFoundError, AbloValidationError } from '../src/errors.js';
import type { Claim, ClaimGrant } from '../src/protocol/claims.js';
import { CLAIM_LEASE_DEFAULT_SECONDS, CLAIM_WAIT_MAX_SECONDS } from '../src/protocol/claims.js';
import type { ParticipantRef } from '../src/protocol/commit.js';
import type { ClaimBody, EngineApi } from './engineApi.js';

export interface HeldClaim {
  claimId: string;
  model: string;
  id: string;
  action: string | null;
  leaseSeconds: number;
  expiresAt: string;
}

/** A place in line this session keeps between two `<model>_claim` calls. */
export interface KeptPlace {
  model: string;
  id: string;
  ticket: string;
  /** Position when the last call ended (1 is next). */
  position: number;
  /** When the engine gives the place away unless it is resumed (ISO). */
  expiresAt: string;
}

export interface AcquireOptions {
  action?: string;
  /** false: fail at once (`row_claimed`) when the row is held; with a ticket: check the place without waiting. */
  wait?: boolean;
  leaseSeconds?: number;
  /** Wait at most this long in this call (default and most: the session's patience). */
  waitSeconds?: number;
  /** Resume the place in line an earlier call kept (its `waiting` answer's ticket). */
  ticket?: string;
  signal?: AbortSignal;
  /** Called every `progressMs` while waiting in line. */
  onWaiting?: (waitedMs: number) => void;
  progressMs?: number;
}

/** What one claim call comes to: the row, or a kept place in line. */
export type AcquireResult =
  | { status: 'granted'; grant: ClaimGrant }
  | {
      status: 'waiting';
      model: string;
      id: string;
      position: number;
      ticket: string;
      ticketExpiresAt: string;
      /** Who holds the row now (null when the engine did not say). */
      holder: ParticipantRef | null;
    };

export interface SessionClaimsOptions {
  /** Longest one claim call waits, in seconds (default 50; more than 0, at most 240). */
  patienceSeconds?: number;
  /** How long a place in line is kept for the next call (default 120; more than 0, at most 300). */
  ticketSeconds?: number;
}

export const CLAIM_PATIENCE_DEFAULT_SECONDS = 50;
/** fetch gives up on a response that takes 300 s: one long-poll stays under it. */
export const CLAIM_PATIENCE_MAX_SECONDS = 240;
export const CLAIM_TICKET_DEFAULT_SECONDS = 120;
export const CLAIM_TICKET_MAX_SECONDS = CLAIM_WAIT_MAX_SECONDS;

/** A seconds option checked: a number above 0 and at most `max`; a typed error naming it otherwise. */
export function secondsOption(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
    throw new AbloValidationError(`${name} must be a number of seconds above 0 and at most ${max}, got ${JSON.stringify(value) ?? String(value)}.`, {
      code: 'invalid_option',
      field: name,
    });
  }
  return value;
}

/** The claim timing options of a server, checked (before anything else starts). */
export function checkClaimTiming(options: SessionClaimsOptions): Required<SessionClaimsOptions> {
  return {
    patienceSeconds: secondsOption('claimPatienceSeconds', options.patienceSeconds, CLAIM_PATIENCE_DEFAULT_SECONDS, CLAIM_PATIENCE_MAX_SECONDS),
    ticketSeconds: secondsOption('claimTicketSeconds', options.ticketSeconds, CLAIM_TICKET_DEFAULT_SECONDS, CLAIM_TICKET_MAX_SECONDS),
  };
}

function ticketOf(err: AbloError): string | undefined {
  const t = (err.details as { ticket?: unknown }).ticket;
  return typeof t === 'string' ? t : undefined;
}

function participantOf(v: unknown): ParticipantRef | null {
  if (!v || typeof v !== 'object') return null;
  const { kind, id } = v as { kind?: unknown; id?: unknown };
  return (kind === 'user' || kind === 'agent' || kind === 'system') && typeof id === 'string' ? { kind, id } : null;
}

const key = (model: string, id: string): string => `${model}\u0000${id}`;

/** Bounded: a session ending (a client waiting to kill the process) must not hang on a slow engine. */
const within = <T,>(p: Promise<T>, ms = 3000): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms).unref())]);

export class SessionClaims {
  private readonly held = new Map<string, HeldClaim & { timer: NodeJS.Timeout }>();
  /** Places in line kept between calls, by row. */
  private readonly places = new Map<string, KeptPlace & { until: number }>();
  private closed = false;

  readonly patienceSeconds: number;
  readonly ticketSeconds: number;

  constructor(
    private readonly api: EngineApi,
    private readonly log: (line: string) => void,
    options: SessionClaimsOptions = {},
  ) {
    ({ patienceSeconds: this.patienceSeconds, ticketSeconds: this.ticketSeconds } = checkClaimTiming(options));
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

  /** Places in line this session keeps (tickets not yet expired). */
  waiting(): KeptPlace[] {
    this.forgetExpired();
    return [...this.places.values()].map(({ until: _u, ...p }) => p);
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const [k, p] of this.places) if (p.until <= now) this.places.delete(k);
  }

  /** The ticket to resume for a row: the one given (checked against the row when this session knows it), else the one kept. */
  private ticketFor(model: string, id: string, given: string | undefined): { ticket: string; kept: boolean } | undefined {
    this.forgetExpired();
    if (given !== undefined) {
      const owner = [...this.places.values()].find((p) => p.ticket === given);
      if (owner && (owner.model !== model || owner.id !== id)) {
        throw new AbloValidationError(
          `This ticket keeps a place in line for ${owner.model} ${owner.id}, not ${model} ${id}. Call ${owner.model}_claim with id "${owner.id}" and this ticket, or ${model}_claim without a ticket.`,
          { code: 'claim_ticket_mismatch', field: 'ticket', model: owner.model, id: owner.id },
        );
      }
      return { ticket: given, kept: false };
    }
    const place = this.places.get(key(model, id));
    return place ? { ticket: place.ticket, kept: true } : undefined;
  }

  /**
   * One claim call: granted, or (when the row is still held after the
   * patience window, or `waitSeconds`) a kept place in line to resume.
   */
  async acquire(model: string, id: string, options: AcquireOptions = {}): Promise<AcquireResult> {
    if (this.closed) throw new AbloConnectionError('This MCP session is closing.', { code: 'session_closed' });
    let resume = this.ticketFor(model, id, options.ticket);
    const started = Date.now();
    let progress: NodeJS.Timeout | undefined;
    if (options.onWaiting && options.wait !== false) {
      progress = setInterval(() => options.onWaiting!(Date.now() - started), options.progressMs ?? 10_000);
      progress.unref();
    }
    try {
      if (options.wait === false && !resume) {
        const body: ClaimBody = {
          wait: false,
          ...(options.action !== undefined ? { action: options.action } : {}),
          ...(options.leaseSeconds !== undefined ? { leaseSeconds: options.leaseSeconds } : {}),
        };
        return await this.granted(await this.api.claim(model, id, body, this.ids(), options.signal));
      }
      // With a ticket and wait: false: look at the place without waiting.
      const waitSeconds = options.wait === false ? 0.01 : Math.min(options.waitSeconds ?? this.patienceSeconds, this.patienceSeconds);
      for (;;) {
        const body: ClaimBody = resume
          ? { ticket: resume.ticket, waitSeconds, keepPlaceSeconds: this.ticketSeconds }
          : {
              wait: true,
              waitSeconds,
              keepPlaceSeconds: this.ticketSeconds,
              ...(options.action !== undefined ? { action: options.action } : {}),
              ...(options.leaseSeconds !== undefined ? { leaseSeconds: options.leaseSeconds } : {}),
            };
        const sent = Date.now();
        try {
          const grant = await this.api.claim(model, id, body, this.ids(), options.signal);
          if (resume) this.forgetPlace(model, id, resume.ticket);
          return await this.granted(grant);
        } catch (err) {
          if (!(err instanceof AbloError)) throw err;
          if (options.signal?.aborted) {
            // The engine withdrew the place with the aborted request.
            if (resume) this.forgetPlace(model, id, resume.ticket);
            throw err;
          }
          const ticket = err.code === 'claim_wait_timeout' ? ticketOf(err) : undefined;
          if (ticket !== undefined) return await this.keepPlace(model, id, ticket, err, sent + waitSeconds * 1000);
          if (err.code === 'claim_ticket_not_found' && resume) {
            this.forgetPlace(model, id, resume.ticket);
            // The place this session kept on its own is gone (expired, engine restarted): ask again, at the back.
            if (resume.kept) {
              resume = undefined;
              continue;
            }
          }
          throw err;
        }
      }
    } finally {
      if (progress) clearInterval(progress);
    }
  }

  /** Forget the place kept for a row when it is the one with this ticket (another ticket's answer says nothing of it). */
  private forgetPlace(model: string, id: string, ticket: string): void {
    const k = key(model, id);
    if (this.places.get(k)?.ticket === ticket) this.places.delete(k);
  }

  private async granted(grant: ClaimGrant): Promise<AcquireResult> {
    if (this.closed) {
      // The session ended while we waited: nobody will use or release this claim.
      await this.api.release(grant.id).catch(() => undefined);
      throw new AbloConnectionError('This MCP session closed while the claim was waiting.', { code: 'session_closed' });
    }
    this.remember(grant);
    return { status: 'granted', grant };
  }

  /** The wait ended with the place kept: remember it (or, the session gone meanwhile, give it up). */
  private async keepPlace(model: string, id: string, ticket: string, err: AbloError, timedOutAt: number): Promise<AcquireResult> {
    const d = err.details as { position?: unknown; holder?: unknown };
    // The engine starts the keep-place time when the wait times out, no earlier than this.
    const until = timedOutAt + this.ticketSeconds * 1000;
    const place = { model, id, ticket, position: typeof d.position === 'number' ? d.position : 0, expiresAt: new Date(until).toISOString(), until };
    if (this.closed) {
      await this.withdrawPlace(place);
      throw new AbloConnectionError('This MCP session closed while the claim was waiting.', { code: 'session_closed' });
    }
    this.places.set(key(model, id), place);
    return { status: 'waiting', model, id, position: place.position, ticket, ticketExpiresAt: place.expiresAt, holder: participantOf(d.holder) };
  }

  /** Give up a kept place: one last look that keeps none (a turn that came meanwhile is released at once). */
  private async withdrawPlace(place: KeptPlace): Promise<void> {
    try {
      const grant = await this.api.claim(place.model, place.id, { ticket: place.ticket, waitSeconds: 0.01, keepPlaceSeconds: 0 }, this.ids());
      await this.api.release(grant.id).catch(() => undefined);
    } catch (err) {
      // Not its turn (it left the line now) or the place was gone already: either way it is out.
      if (err instanceof AbloError && (err.code === 'claim_wait_timeout' || err.code === 'claim_ticket_not_found')) return;
      throw err;
    }
  }

  /** Leave the line for a row this session keeps a place for; false when it keeps none. */
  async withdraw(model: string, id: string): Promise<boolean> {
    this.forgetExpired();
    const k = key(model, id);
    const place = this.places.get(k);
    if (!place) return false;
    this.places.delete(k);
    await this.withdrawPlace(place);
    return true;
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

  /** Release every claim and leave every line (session end). With `notify: false`, only forget them (the engine is going away anyway). */
  async releaseAll(options: { notify?: boolean } = {}): Promise<void> {
    this.closed = true;
    const all = [...this.held.values()];
    this.held.clear();
    for (const c of all) clearInterval(c.timer);
    this.forgetExpired();
    const places = [...this.places.values()];
    this.places.clear();
    if (options.notify === false) return;
    await Promise.all([
      ...all.map((c) =>
        within(this.api.release(c.claimId)).then(
          () => this.log(`released the claim on ${c.model} ${c.id}`),
          (err: Error) => {
            if (!(err instanceof AbloNotFoundError)) this.log(`releasing the claim on ${c.model} ${c.id} failed: ${err.message}`);
          },
        ),
      ),
      // A kept place would hold up the line until its ticket expires: withdraw it now.
      ...places.map((p) =>
        within(this.withdrawPlace(p)).then(
          () => this.log(`left the line for ${p.model} ${p.id}`),
          (err: Error) => this.log(`leaving the line for ${p.model} ${p.id} failed: ${err.message}; the place expires at ${p.expiresAt}`),
        ),
      ),
    ]);
  }
}
