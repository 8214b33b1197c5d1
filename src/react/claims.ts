/** `useClaim(model, id)`: who holds a row and who waits for it, live. */
import type { Claim, ClaimQueueEntry } from '../protocol/claims.js';
import { AbloValidationError } from '../errors.js';
import { useAblo } from './useAblo.js';

export interface ClaimView {
  /** Who holds the row now, or null. */
  claim: Claim | null;
  /** Who waits, in order. */
  queue: ClaimQueueEntry[];
  /** True when the holder is this client's participant. */
  heldByMe: boolean;
}

type ClaimReader = { state(x: { id: string }): Claim | null; queue(x: { id: string }): ClaimQueueEntry[] };

/** The live claim state of one row. The typed `useClaim` of `createAbloReact` checks `model`. */
export function useClaim(model: string, id: string): ClaimView {
  return useAblo((a) => {
    const m = (a as unknown as Record<string, { claim?: ClaimReader } | undefined>)[model];
    if (!m?.claim) throw new AbloValidationError(`useClaim: unknown model "${model}".`, { code: 'unknown_model', model });
    const claim = m.claim.state({ id });
    const me = a.participant;
    const heldByMe = claim !== null && me !== null && claim.holder.kind === me.kind && claim.holder.id === me.id;
    return { claim, queue: m.claim.queue({ id }), heldByMe };
  });
}
