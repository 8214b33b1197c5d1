/**
 * `<model>_claim` and `<model>_release`: a session's turn on one row (a
 * fair line; progress notifications while it waits), held until released or
 * the session ends (../claims.ts keeps it renewed).
 */
import type { ClaimGrant } from '../../src/protocol/claims.js';
import { claimArgs, releaseArgs } from '../inputs.js';
import { modelOutputs } from '../outputs.js';
import { ok, rowResult } from './results.js';
import { modelErrorContext, type ModelToolKind } from './types.js';

export const claimTool: ModelToolKind = {
  write: true,
  needs: ['claim'],
  define: (ctx) => ({
    title: `Claim a ${ctx.name} row`,
    description:
      `Take a turn on one ${ctx.name} row before working on it: while you hold the claim, writes to the row from anyone else fail. ` +
      `If someone else holds it, this call waits in a fair line (wait: false fails at once instead) and returns the row as it is when your turn comes. ` +
      `The claim lasts until ${ctx.name}_release or the end of this MCP session.`,
    input: claimArgs(ctx.name),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).claim,
    errorContext: modelErrorContext(ctx),
    run: async (args, extra) => {
      const { name } = ctx;
      const id = args.id as string;
      const token = extra._meta?.progressToken;
      const grant: ClaimGrant = await ctx.claims.acquire(name, id, {
        ...(args.action !== undefined ? { action: args.action as string } : {}),
        ...(args.wait !== undefined ? { wait: args.wait as boolean } : {}),
        ...(args.leaseSeconds !== undefined ? { leaseSeconds: args.leaseSeconds as number } : {}),
        ...(args.waitSeconds !== undefined ? { waitSeconds: args.waitSeconds as number } : {}),
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
      const { data, ...claim } = grant;
      return rowResult(
        ctx,
        `Claimed ${name} ${id} for this session (lease ${grant.leaseSeconds} s, renewed automatically until ${name}_release or the session ends). ` +
          `Your writes to it pass; others wait or fail. The row now (readAt=${data.syncId}):`,
        data,
        ctx.fieldNames,
        { claim, row: data },
      );
    },
  }),
};

export const releaseTool: ModelToolKind = {
  write: true,
  needs: ['claim'],
  define: (ctx) => ({
    title: `Release a ${ctx.name} claim`,
    description: `Release this session's claim on one ${ctx.name} row, so the next in line (or anyone) can write it.`,
    input: releaseArgs(ctx.name),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).release,
    errorContext: modelErrorContext(ctx),
    run: async (args) => {
      const id = args.id as string;
      const released = await ctx.claims.release(ctx.name, id);
      if (!released) return ok(`This session holds no claim on ${ctx.name} ${id}; nothing to release.`, { released: false, model: ctx.name, id });
      return ok(`Released ${ctx.name} ${id}.`, { released: true, model: ctx.name, id, claimId: released.claimId });
    },
  }),
};
