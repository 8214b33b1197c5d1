/**
 * Stored claim records → the wire shapes (`Claim`, `ClaimState`,
 * `ClaimEvent`) and the claimed errors, as the memory store words them.
 */
import { AbloClaimedError, AbloNotFoundError, AbloPermissionError } from '../../errors.js';
import type { Claim, ClaimQueueEntry, ClaimState } from '../../protocol/claims.js';
import type { ParticipantRef } from '../../protocol/commit.js';
import type { ClaimRecord, RowEventBody } from './postgres-row.js';
import type { ClaimEvent } from './store.js';

export function claimOf(model: string, id: string, c: ClaimRecord): Claim {
  return {
    object: 'claim',
    id: c.claimId,
    model,
    rowId: id,
    holder: c.participant,
    action: c.action,
    acquiredAt: c.acquiredAt ?? c.requestedAt,
    expiresAt: c.leaseUntil ?? c.requestedAt,
    leaseSeconds: c.leaseSeconds,
  };
}

export function queueOf(queue: readonly ClaimRecord[]): ClaimQueueEntry[] {
  return queue.map((r, i) => ({ participant: r.participant, action: r.action, requestedAt: r.requestedAt, position: i + 1 }));
}

export function stateOf(model: string, id: string, holder: ClaimRecord | null, queue: readonly ClaimRecord[]): ClaimState {
  return { claim: holder ? claimOf(model, id, holder) : null, queue: queueOf(queue) };
}

/** The subscribers' event, or null while the row's groups are unknown (the first read publishes it). */
export function eventOf(body: RowEventBody): ClaimEvent | null {
  const groups = body.publish ?? body.groups;
  if (!groups) return null;
  const owners = new Set(body.leaving);
  if (body.holder) owners.add(body.holder.owner);
  for (const r of body.queue) owners.add(r.owner);
  return { model: body.model, id: body.id, ...stateOf(body.model, body.id, body.holder, body.queue), groups, owners: [...owners] };
}

function who(p: ParticipantRef, action: string | null): string {
  return `${p.kind} ${p.id}${action ? ` ("${action}")` : ''}`;
}

export interface ClaimedErrorInput {
  model: string;
  id: string;
  holder: ClaimRecord;
  queue: readonly ClaimRecord[];
  code: 'row_claimed' | 'queue_full' | 'claim_wait_timeout';
  maxQueueDepth?: number;
  waitMs?: number;
  /** The request that keeps its place (a wait timeout with a ticket). */
  kept?: { ticket: string; keepPlaceMs: number; claimId: string };
}

export function claimedError(i: ClaimedErrorInput): AbloClaimedError {
  const { holder } = i;
  const base = `${i.model} ${i.id} is claimed by ${who(holder.participant, holder.action)} until ${holder.leaseUntil}`;
  const waiting = i.queue.length;
  const waited = `gave up waiting after ${Math.round((i.waitMs ?? 0) / 100) / 10} s`;
  const position = i.kept ? i.queue.findIndex((r) => r.claimId === i.kept!.claimId) + 1 : 0;
  const message =
    i.code === 'queue_full'
      ? `${base}, and ${waiting} request${waiting === 1 ? ' is' : 's are'} already waiting (maxQueueDepth ${i.maxQueueDepth}). Retry later, or claim with a higher maxQueueDepth.`
      : i.code === 'claim_wait_timeout' && i.kept
        ? `${base}; ${waited}. Your place in line (${position} of ${waiting}) is kept for ${Math.round(i.kept.keepPlaceMs / 100) / 10} s: ask again with its ticket to resume it.`
        : i.code === 'claim_wait_timeout'
          ? `${base}; ${waited} and left the queue. Claim again to rejoin it (at the back), or retry after it is released.`
          : `${base}. Wait for it with claim() (you get the row as it is when it is your turn), or retry after it is released.`;
  return new AbloClaimedError(message, {
    code: i.code,
    holder: holder.participant,
    claimId: holder.claimId,
    expiresAt: holder.leaseUntil,
    action: holder.action,
    model: i.model,
    id: i.id,
    queueLength: waiting,
    ...(i.kept ? { ticket: i.kept.ticket, position, keepPlaceSeconds: i.kept.keepPlaceMs / 1000 } : {}),
  });
}

export function notOwner(model: string, id: string, c: ClaimRecord): AbloPermissionError {
  return new AbloPermissionError(
    `Claim ${c.claimId} on ${model} ${id} belongs to ${who(c.participant, c.action)} on another connection; only its owner can release or renew it.`,
    { code: 'not_claim_owner', claimId: c.claimId, holder: c.participant },
  );
}

export function noClaim(claimId: string): AbloNotFoundError {
  return new AbloNotFoundError(`No active claim ${claimId}: it was released or its lease expired.`, { code: 'claim_not_found', claimId });
}

export function cancelled(model: string, id: string): AbloClaimedError {
  return new AbloClaimedError(`The request for ${model} ${id} was withdrawn before it was granted.`, { code: 'claim_cancelled' });
}

export function expired(model: string, id: string, claimId: string): AbloClaimedError {
  return new AbloClaimedError(`Your claim on ${model} ${id} expired before it was granted or resumed.`, { code: 'claim_expired', claimId });
}
