/** `<model>_delete`: one row, guarded by readAt; held by `onStale: 'notify'`. */
import { deleteArgs } from '../inputs.js';
import { modelOutputs } from '../outputs.js';
import { heldResult, isReceipt, ok } from './results.js';
import { modelErrorContext, type ModelToolKind } from './types.js';

export const deleteTool: ModelToolKind = {
  write: true,
  needs: ['delete'],
  define: (ctx) => ({
    title: `Delete a ${ctx.name} row`,
    description: `Delete one ${ctx.name} row. With readAt, refused if the row changed after you read it. Fails while another participant holds a claim on it.`,
    input: deleteArgs(ctx.name),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).delete,
    errorContext: modelErrorContext(ctx),
    run: async (args) => {
      const result = await ctx.api.delete(
        ctx.name,
        args.id as string,
        {
          ...(args.readAt !== undefined ? { readAt: args.readAt as number } : {}),
          ...(args.onStale !== undefined ? { onStale: args.onStale as 'reject' } : {}),
        },
        ctx.claims.ids(),
      );
      if (isReceipt(result)) return heldResult(result, `${ctx.name}_delete`);
      return ok(`Deleted ${ctx.name} ${result.id} (sync id ${result.syncId}).`, { deleted: true, model: ctx.name, id: result.id, syncId: result.syncId });
    },
  }),
};
