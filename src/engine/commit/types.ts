/**
 * What goes into the commit path and what comes out of it.
 */
import type { CommitReceipt, CommitRequest, ParticipantRef } from '../../protocol/commit.js';
import type { ChangeRecord } from '../storage/types.js';

/** Checks a write against claims; throws `AbloClaimedError` when someone else holds the row. */
export type ClaimCheck = (model: string, id: string) => void | Promise<void>;

export interface CommitInput {
  request: CommitRequest;
  /** Who writes: the credential's own participant (the change log's `participant`). */
  participant: ParticipantRef;
  /** The participant the credential named and acts for, when another than its own (the change log's `onBehalfOf`). */
  onBehalfOf?: ParticipantRef;
  /** The credential that commits (`key_…`, `ses_…`), recorded with each change. */
  credentialId?: string;
  /**
   * The writer's sync groups (its principal's `groups`): `'all'` (API keys)
   * or patterns. A scoped commit only creates, changes and depends on rows
   * inside them (see `PlanInput.scope`).
   */
  scope: 'all' | readonly string[];
  /** The claim guard of this writer, evaluated inside the commit's transaction. */
  claimCheck?: ClaimCheck;
  /**
   * Checked inside the storage transaction before the commit reads or writes
   * anything; throws to refuse it (e.g. its API key was revoked while it
   * waited in the queue).
   */
  authorized?: () => void;
}

export interface CommitOutcome {
  receipt: CommitReceipt;
  /** Changes this commit wrote (empty for a replay or a fully held commit). */
  changes: ChangeRecord[];
  /** True when the receipt is the stored one for a repeated idempotency key. */
  replayed: boolean;
  /**
   * A step of the engine's own (a Data Source commit's check or journal entry, events, a reconcile), not a
   * client's commit: not counted in `stats.commits` (its changes are counted).
   */
  internal?: boolean;
}
