/**
 * `<model>_claim` and `<model>_release`: a session's turn on one row (a
 * fair line; progress notifications while it waits), held until released or
 * the session ends (../claims.ts keeps it renewed). One claim call waits at
 * most the session's patience; then it answers `waiting` with the place in
 * line and a ticket, and the next call resumes that place.
 */
import { renderParticipant } from '../render.js';
import { modelOutputs } from '../outputs.js';
import { ok, rowResult } from './results.js';
import { claimArgs, releaseArgs } from '../inputs.js';
import { modelErrorContext, type ModelToolKind } from './types.js';

export const claimTool: ModelToolKind = {
  write: true,
  needs: ['claim'],
  define: (ctx) => ({
    title: `Claim a ${ctx.name} row`,
    description:
      `Take a turn on one ${ctx.name} row before working on it: while you hold the claim, writes to the row from anyone else fail. ` +
      `If someone else holds it, this call waits in a fair first-come line (wait: false fails at once instead) and returns the row as it is when your turn comes (status "granted"). ` +
      `A call waits at most ${ctx.claims.patienceSeconds} s: if your turn has not come by then it returns status "waiting" with your position and a ticket; ` +
      `call ${ctx.name}_claim again with the same id and that ticket within ${ctx.claims.ticketSeconds} s to keep your place (later requests never overtake you). ` +
      `The claim lasts until ${ctx.name}_release or the end of this MCP session.`,
    input: claimArgs(ctx.name),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).claim,
    errorContext: modelErrorContext(ctx),
    run: async (args, extra) => {
      const { name } = ctx;
      const id = args.id as string;
      const token = extra._meta?.progressToken;
      const result = await ctx.claims.acquire(name, id, {
        ...(args.action !== undefined ? { action: args.action as string } : {}),
        ...(args.wait !== undefined ? { wait: args.wait as boolean } : {}),
        ...(args.leaseSeconds !== undefined ? { leaseSeconds: args.leaseSeconds as number } : {}),
        ...(args.waitSeconds !== undefined ? { waitSeconds: args.waitSeconds as number } : {}),
        ...(args.ticket !== undefined ? { ticket: args.ticket as string } : {}),
        signal: extra.signal,
        ...(token !== undefined
          ? {
              onWaiting: (ms: number) =>
                void extra
                  .sendNotification({
                    method: 'notifications/progress',
                    params: { progressToken: token, progress: Math.round(ms / 1000), message: `waiting for ${name} ${id}` },
                  })
                  .catch(() => undefined),
            }
          : {}),
      });
      if (result.status === 'waiting') {
        const seconds = Math.max(1, Math.round((Date.parse(result.ticketExpiresAt) - Date.now()) / 1000));
        return ok(
          `Still waiting for ${name} ${id}: ${result.holder ? `claimed by ${renderParticipant(result.holder)}` : 'still claimed'}; you are number ${result.position} in line. ` +
            `Your place is kept until ${result.ticketExpiresAt} (about ${seconds} s): call ${name}_claim with id=${JSON.stringify(id)} and ticket=${JSON.stringify(result.ticket)} to resume it ` +
            `(each call waits up to ${ctx.claims.patienceSeconds} s). Not resumed by then, the place passes to the next in line. To leave the line now, call ${name}_release with id=${JSON.stringify(id)}.`,
          { ...result },
        );
      }
      const { data, ...claim } = result.grant;
      return rowResult(
        ctx,
        `Claimed ${name} ${id} for this session (lease ${claim.leaseSeconds} s, renewed automatically until ${name}_release or the session ends). ` +
          `Your writes to it pass; others wait or fail. The row now (readAt=${data.syncId}):`,
        data,
        ctx.fieldNames,
        { status: 'granted', claim, row: data },
      );
    },
  }),
};

export const releaseTool: ModelToolKind = {
  write: true,
  needs: ['claim'],
  define: (ctx) => ({
    title: `Release a ${ctx.name} claim`,
    description: `Release this session's claim on one ${ctx.name} row, so the next in line (or anyone) can write it; or leave the line for it (a place a ${ctx.name}_claim answered "waiting" for).`,
    input: releaseArgs(ctx.name),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).release,
    errorContext: modelErrorContext(ctx),
    run: async (args) => {
      const id = args.id as string;
      const released = await ctx.claims.release(ctx.name, id);
      if (!released && (await ctx.claims.withdraw(ctx.name, id))) {
        return ok(`Left the line for ${ctx.name} ${id}: your place and its ticket are given up.`, { released: true, model: ctx.name, id });
      }
      if (!released) return ok(`This session holds no claim on ${ctx.name} ${id}; nothing to release.`, { released: false, model: ctx.name, id });
      return ok(`Released ${ctx.name} ${id}.`, { released: true, model: ctx.name, id, claimId: released.claimId });
    },
  }),
};
