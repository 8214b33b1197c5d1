/** `<model>_get`: one row by id, with every field. */
import { getArgs } from '../inputs.js';
import { modelOutputs } from '../outputs.js';
import { rowResult } from './results.js';
import { modelErrorContext, type ModelToolKind } from './types.js';

export const getTool: ModelToolKind = {
  write: false,
  needs: ['read'],
  define: (ctx) => ({
    title: `Get one ${ctx.name} row`,
    description: `One ${ctx.name} row by id, with every field. Its syncId is the readAt for a guarded ${ctx.name}_update / ${ctx.name}_delete.`,
    input: getArgs(ctx.name),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).get,
    errorContext: modelErrorContext(ctx),
    run: async (args) => {
      const row = await ctx.api.get(ctx.name, args.id as string);
      return rowResult(ctx, `${ctx.name} ${row.id} (readAt=${row.syncId}):`, row, ctx.fieldNames, { row });
    },
  }),
};
