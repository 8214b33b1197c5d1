/**
 * `<model>_get`: one row by id, with every field, and who holds it and who
 * waits for it (the claim state, read at the same time as the row). A
 * credential that may not read claim state gets the row with `claim: null,
 * queue: []`.
 */
import type { ClaimState } from '../../src/protocol/claims.js';
import { AbloError } from '../../src/errors.js';
import { fenced } from '../fence.js';
import { getArgs } from '../inputs.js';
import { renderParticipant, renderValue } from '../render.js';
import { modelOutputs } from '../outputs.js';
import { rowResult } from './results.js';
import { modelErrorContext, type ModelToolKind } from './types.js';

/** The claim part of a `_get` result (the contract's shape: no claim id, no lease length). */
export interface RowClaimView {
  claim: { holder: ClaimState['queue'][number]['participant']; action: string | null; expiresAt: string } | null;
  queue: Array<{ participant: ClaimState['queue'][number]['participant']; action: string | null; position: number }>;
}

const NO_CLAIMS: RowClaimView = { claim: null, queue: [] };

export function claimView(state: ClaimState): RowClaimView {
  return {
    claim: state.claim ? { holder: state.claim.holder, action: state.claim.action, expiresAt: state.claim.expiresAt } : null,
    queue: state.queue.map((q) => ({ participant: q.participant, action: q.action, position: q.position })),
  };
}

/** One line on the claim (actions are written by others: fenced as data, like row values). */
export function claimLines(view: RowClaimView): string {
  if (!view.claim) return view.queue.length > 0 ? `Not claimed; ${view.queue.length} waiting.` : 'Not claimed.';
  const waiting = view.queue.length === 0 ? 'nobody waiting' : `${view.queue.length} waiting (${view.queue.map((q) => renderParticipant(q.participant)).join(', ')})`;
  const line = `Claimed by ${renderParticipant(view.claim.holder)} until ${view.claim.expiresAt}; ${waiting}.`;
  const actions = [
    ...(view.claim.action !== null ? [`  holder action=${renderValue(view.claim.action, 200)}`] : []),
    ...view.queue.filter((q) => q.action !== null).map((q) => `  ${q.position}. ${renderParticipant(q.participant)} action=${renderValue(q.action, 200)}`),
  ];
  return actions.length > 0 ? `${line}\n${fenced(actions)}` : line;
}

export const getTool: ModelToolKind = {
  write: false,
  needs: ['read'],
  define: (ctx) => ({
    title: `Get one ${ctx.name} row`,
    description:
      `One ${ctx.name} row by id, with every field, and its claim: who holds it (and what they said they are doing) and who waits in line. ` +
      `Its syncId is the readAt for a guarded ${ctx.name}_update / ${ctx.name}_delete.`,
    input: getArgs(ctx.name),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).get,
    errorContext: modelErrorContext(ctx),
    run: async (args) => {
      const id = args.id as string;
      // Both at once: the claim state costs no extra round trip. A refusal (or any failure) of the claim state leaves it out.
      const [row, claims] = await Promise.all([
        ctx.api.get(ctx.name, id),
        ctx.api.claimState(ctx.name, id).then(claimView, (err: unknown) => {
          if (err instanceof AbloError) return NO_CLAIMS;
          throw err;
        }),
      ]);
      return rowResult(ctx, `${ctx.name} ${row.id} (readAt=${row.syncId}). ${claimLines(claims)}\nThe row:`, row, ctx.fieldNames, { row, ...claims });
    },
  }),
};
