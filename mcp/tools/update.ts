/** `<model>_update`: change fields of one row, guarded by readAt; held by `onStale: 'notify'`. */
import { updateArgs } from '../inputs.js';
import { modelOutputs } from '../outputs.js';
import { heldResult, isReceipt, rowResult } from './results.js';
import { modelErrorContext, type ModelToolKind } from './types.js';

export const updateTool: ModelToolKind = {
  write: true,
  needs: ['update'],
  define: (ctx) => ({
    title: `Update a ${ctx.name} row`,
    description:
      `Change fields of one ${ctx.name} row; fields left out stay as they are. Pass readAt (the row's syncId when you read it) so a change ` +
      `someone else made since then is not overwritten: you get an error with their current values and the readAt to retry with. ` +
      `Fails while another participant holds a claim on the row (see ${ctx.name}_claim).`,
    input: updateArgs(ctx.name, ctx.inputs),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).update,
    errorContext: modelErrorContext(ctx),
    run: async (args) => {
      const result = await ctx.api.update(
        ctx.name,
        args.id as string,
        {
          data: args.data as Record<string, unknown>,
          ...(args.readAt !== undefined ? { readAt: args.readAt as number } : {}),
          ...(args.onStale !== undefined ? { onStale: args.onStale as 'reject' } : {}),
        },
        ctx.claims.ids(),
      );
      if (isReceipt(result)) return heldResult(result, `${ctx.name}_update`);
      return rowResult(ctx, `Updated ${ctx.name} ${result.id} (syncId ${result.syncId}):`, result, ctx.fieldNames, { row: result });
    },
  }),
};
