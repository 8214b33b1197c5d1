/**
 * The claims port: advisory row leases with a fair FIFO queue, behind one
 * interface so the store can live in this process (../claims.ts, the memory
 * store) or in Postgres, shared by several engine processes (./postgres.ts).
 * Both pass the same contract (test/engine/claims-contract.ts).
 *
 * What the interface assumes, so other stores fit:
 * - Owners are opaque strings (a connection id, an HTTP claim's own id, an
 *   MCP session's ticket holder…). The store never assumes an owner is a
 *   connection of this process; the process that owns one tells the store
 *   when it goes (`releaseOwner`).
 * - Waiting is local (a promise in the asking process); the queue is the
 *   store's. A request made with `keepPlaceMs` gets a ticket (`onQueued`,
 *   and on the `claim_wait_timeout` error): when its wait times out or its
 *   owner leaves (a dropped connection) the request keeps its place that
 *   long, and `resume` re-attaches to it — granted at once if its turn came.
 *   An abort (`signal`) always withdraws it: its asker gave up.
 * - Leases are the store's: a holder that stops renewing loses the row.
 * - Claim events (a row's new holder and queue) are published by the store
 *   and read through `subscribe`. The memory store emits in process; the
 *   Postgres store stores each as an event with a gap-free sequence number
 *   (announced with NOTIFY), so every engine process hears every claim event
 *   in the same order.
 * - Methods that a remote store answers asynchronously return `Awaitable`;
 *   callers always await them (the memory store answers at once).
 * - `check` is the commit path's claim guard, awaited inside the commit's
 *   storage transaction: the memory store answers at once from its state;
 *   the Postgres store (./postgres.ts) reads the claim rows on a connection
 *   of its own while the commit holds the storage's head row `FOR UPDATE`,
 *   and its grants take that row `FOR SHARE`, so no grant lands between the
 *   check and the commit's COMMIT.
 * - A holder whose owner goes away (`releaseOwner`): the memory store
 *   releases it at once (one process: nowhere else to come back to); the
 *   Postgres store keeps it until its lease ends, so the holder can come back
 *   through another engine process and take it over with `resumeHeld`.
 *
 * The ordering guarantees every store keeps are listed in ../claims.ts.
 */
import type { Claim, ClaimGrant, ClaimOptions, ClaimReleased, ClaimState } from '../../protocol/claims.js';
import type { ParticipantRef } from '../../protocol/commit.js';
import type { ChangeRecord } from '../storage/types.js';

export type Awaitable<T> = T | Promise<T>;

export interface ClaimAcquireInput extends ClaimOptions {
  model: string;
  id: string;
  participant: ParticipantRef;
  /** Owner of the claim (opaque): a connection id for WebSocket claims. Default: the new claim's own id (HTTP claims). */
  owner?: string;
  /** Stop waiting after this long with `claim_wait_timeout` (default: wait until granted). */
  waitMs?: number;
  /** Abort while waiting (the HTTP long-poll's client went away). */
  signal?: AbortSignal;
  /** The credential that asked (`Principal.credentialId`); `releaseCredential` drops every request and claim made with it. */
  credentialId?: string;
  /**
   * Keep this request's place in line for this long after its wait times out
   * or its owner leaves, resumable with its ticket. Default 0: it leaves the
   * line at once. An abort withdraws it regardless.
   */
  keepPlaceMs?: number;
  /** Told synchronously when the request is queued behind a holder (the ticket is set when `keepPlaceMs` is). */
  onQueued?: (queued: ClaimQueued) => void;
}

export interface ClaimQueued {
  /** The claim id it will have when granted. */
  claimId: string;
  /** 1 is next in line. */
  position: number;
  /** Present when the request keeps its place (`keepPlaceMs`): pass it to `resume`. */
  ticket?: string;
}

/** Re-attach to a request that kept its place in line. */
export interface ClaimResumeInput {
  ticket: string;
  /** The row the ticket must be for (a ticket for another row is not found). */
  model: string;
  id: string;
  /** Must be the credential that made the request. */
  credentialId?: string;
  /** The new owner (a new connection); default: the request's owner (an HTTP claim keeps its id). */
  owner?: string;
  waitMs?: number;
  signal?: AbortSignal;
  /** New keep-place time from now on (0: leave the line when this wait times out). */
  keepPlaceMs?: number;
}

/** One change of a row's claim state: what subscribers hear. */
export interface ClaimEvent extends ClaimState {
  model: string;
  id: string;
  /** Sync groups of the row (as of the last read or committed change; empty before the first read). */
  groups: string[];
  /** Owners concerned: the holder, the waiters, and any owner that just left the row. */
  owners: string[];
}

export interface ClaimStore {
  /**
   * Ask for a row. Resolves with the grant (and the row as it is at grant
   * time) when it is this request's turn. The request is queued before this
   * returns, so calls are granted in call order.
   */
  acquire(input: ClaimAcquireInput): Promise<ClaimGrant>;
  /** Re-attach to a request that kept its place (`keepPlaceMs`); 404 `claim_ticket_not_found` once it is gone. */
  resume(input: ClaimResumeInput): Promise<ClaimGrant>;
  /** Release a claim (or withdraw a waiting request) by id. Only its owner may. Waits for the owner's queued commits first. */
  release(claimId: string, owner: string): Promise<ClaimReleased>;
  /** Release `owner`'s claim on a row, or withdraw its waiting request for it. */
  releaseRow(model: string, id: string, owner: string): Promise<ClaimReleased>;
  /** Extend a held claim's lease (`leaseSeconds`: new length, default the current one). */
  renew(claimId: string, owner: string, leaseSeconds?: number): Awaitable<Claim>;
  /** Current holder and queue of a row. */
  state(model: string, id: string): Awaitable<ClaimState>;
  /** Every row with a claim or a queue (to tell a new connection). */
  list(): Awaitable<ClaimEvent[]>;
  /** Its owner went (a connection closed): release what it holds, withdraw what it waits for (requests keeping their place stay, detached). */
  releaseOwner(owner: string): Awaitable<void>;
  /** A credential was revoked: drop every request made with it (waiters get `reason`) and release every claim it holds. */
  releaseCredential(credentialId: string, reason: unknown): Awaitable<void>;
  /**
   * A new owner (a new connection, possibly on another engine process) takes
   * over a claim still held, by its id; same credential only. The lease
   * starts again; resolves with the claim and the row as it is now, or 404
   * `claim_not_found` once the claim is gone (released, expired).
   */
  resumeHeld(claimId: string, owner: string, credentialId?: string): Promise<ClaimGrant>;
  /** The commit path's claim guard: throws (rejects with) `AbloClaimedError` when the row is held by an owner not in `owners`. */
  check(model: string, id: string, owners: string | readonly string[]): Awaitable<void>;
  /**
   * Optional: read the claims of these rows at once, for the `check`s of the
   * commit batch about to run; called inside its storage transaction once that
   * holds the head row (no grant or release lands until its COMMIT), and ended
   * by `endReadAhead` before the COMMIT. `check` of a row read ahead answers
   * from what was read: exactly what a read would show in that window.
   */
  readAhead?(rows: ReadonlyArray<{ model: string; id: string }>): Promise<void>;
  endReadAhead?(): void;
  /** Committed changes (from the change feed): keeps each claimed row's sync groups current. */
  noteChanges(changes: readonly ChangeRecord[]): void;
  /** Hear every claim event, in order; returns the unsubscribe function. */
  subscribe(listener: (event: ClaimEvent) => void): () => void;
  /** Drop everything: fail every waiter, clear every timer. */
  close(): Awaitable<void>;
}
