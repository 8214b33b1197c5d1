/** `ablo_commit`: several operations atomically, with read dependencies. */
import { commitArgs } from '../inputs.js';
import { COMMIT_OUTPUT } from '../outputs.js';
import { notificationLines, ok } from './results.js';
import type { GlobalToolKind } from './types.js';

export const commitTool: GlobalToolKind = {
  name: 'ablo_commit',
  write: true,
  needs: ['create', 'update', 'delete'],
  define: (session) => ({
    title: 'Commit a batch',
    description:
      'Write several operations atomically (all or nothing): { op: "create" | "update" | "delete", model, id, data, readAt?, onStale? }. ' +
      'reads lists what the batch depends on; if any of it changed after its readAt, nothing is written and you get the current values.',
    input: commitArgs(session.models),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    output: COMMIT_OUTPUT,
    errorContext: (args) => {
      const first = (args.operations as Array<{ model?: string; id?: string }> | undefined)?.[0];
      return first?.model ? { model: first.model, ...(first.id ? { id: first.id } : {}) } : {};
    },
    run: async (args) => {
      const receipt = await session.api.commit(
        {
          operations: args.operations as never,
          ...(args.reads !== undefined ? { reads: args.reads as never } : {}),
          ...(args.idempotencyKey !== undefined ? { idempotencyKey: args.idempotencyKey as string } : {}),
        },
        session.claims.ids(),
      );
      const lines = [
        `${receipt.status === 'committed' ? 'Committed' : receipt.status === 'partial' ? 'Partly committed' : 'Nothing written (held)'}: ${receipt.results.length} operation(s), lastSyncId ${receipt.lastSyncId}.`,
        ...receipt.results.map((r) => `  ${r.op} ${r.model} ${r.id}: ${r.status}${r.syncId !== undefined ? ` (syncId ${r.syncId})` : ''}`),
        ...notificationLines(receipt.notifications ?? []),
      ];
      return ok(lines.join('\n'), { receipt });
    },
  }),
};
