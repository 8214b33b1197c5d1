/**
 * The receipt as one writer gets it on its socket: the commit's receipt plus,
 * on each applied create or update whose change that socket will not receive
 * (the row is outside the groups it syncs), the row as written. The writer's
 * SDK then has the row without a read after the receipt. The stored receipt
 * (what an idempotent replay hands back) stays as it is.
 */
import type { CommitReceipt } from '../../protocol/commit.js';
import type { ChangeRecord } from '../storage/types.js';

export function receiptWithRows(receipt: CommitReceipt, changes: readonly ChangeRecord[], delivered: (change: ChangeRecord) => boolean): CommitReceipt {
  let next = 0;
  let results: CommitReceipt['results'] | null = null;
  for (let i = 0; i < receipt.results.length; i++) {
    const r = receipt.results[i]!;
    if (r.status !== 'applied') continue;
    // Applied results and the commit's changes come in the same order.
    const change = changes[next++];
    if (!change || change.data === null || change.id !== r.id || change.model !== r.model || delivered(change)) continue;
    results ??= receipt.results.slice();
    results[i] = { ...r, row: change.data };
  }
  return results ? { ...receipt, results } : receipt;
}
