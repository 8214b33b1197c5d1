/**
 * Commit dedupe by `clientTxId`. The engine sends a commit again (same
 * `clientTxId`, same `webhook-id`) when it did not get the answer: a timeout,
 * a 5xx, a dropped reverse channel, its own restart. Applying it twice would
 * double a write, so the handler answers a known `clientTxId` with the
 * answer it stored, without calling the app's `commit` again.
 */
import type { SourceCommitResponse } from '../protocol/source.js';

/**
 * Where answered commits are kept. A real app stores the answer in its own
 * database, in the same transaction as the commit's writes (e.g. a table
 * keyed by `clientTxId`): then a crash cannot leave the writes without the
 * record, or the record without the writes.
 */
export interface CommitDedupe<Context = unknown> {
  get(clientTxId: string, context: Context): Promise<SourceCommitResponse | null>;
  put(clientTxId: string, response: SourceCommitResponse, context: Context): Promise<void>;
}

/** How many answers the in-memory default keeps. */
export const MEMORY_DEDUPE_ENTRIES = 10_000;

/**
 * The default when the app gives no `dedupe`: the last
 * `MEMORY_DEDUPE_ENTRIES` answers, in this process only. It does not survive
 * a restart and is not shared between instances, so a commit retried after
 * either is applied again; fine for development, not for production.
 */
export class MemoryCommitDedupe implements CommitDedupe {
  private readonly answers = new Map<string, SourceCommitResponse>();
  constructor(private readonly capacity = MEMORY_DEDUPE_ENTRIES) {}

  async get(clientTxId: string): Promise<SourceCommitResponse | null> {
    const answer = this.answers.get(clientTxId);
    if (!answer) return null;
    // Least recently used goes first: a Map iterates in insertion order, so re-insert on use.
    this.answers.delete(clientTxId);
    this.answers.set(clientTxId, answer);
    return answer;
  }

  async put(clientTxId: string, response: SourceCommitResponse): Promise<void> {
    this.answers.delete(clientTxId);
    this.answers.set(clientTxId, response);
    while (this.answers.size > this.capacity) this.answers.delete(this.answers.keys().next().value!);
  }
}
