/** `<model>_create`: one row, with defaults filled and its id. */
import { isRequiredOnCreate } from '../../src/schema/descriptor.js';
import { createArgs } from '../inputs.js';
import { modelOutputs } from '../outputs.js';
import { rowResult } from './results.js';
import { modelErrorContext, type ModelToolKind } from './types.js';

export const createTool: ModelToolKind = {
  write: true,
  needs: ['create'],
  define: (ctx) => {
    const required = Object.entries(ctx.model.fields)
      .filter(([, d]) => isRequiredOnCreate(d))
      .map(([f]) => f);
    return {
      title: `Create a ${ctx.name} row`,
      description:
        `Create a ${ctx.name} row${ctx.about}. ${required.length ? `Required fields: ${required.join(', ')}.` : 'No field is required.'} ` +
        `Returns the stored row (with defaults filled and its id).`,
      input: createArgs(ctx.name, ctx.inputs, ctx.idPrefix),
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      output: modelOutputs(ctx.serialized, ctx.name).create,
      errorContext: modelErrorContext(ctx),
      run: async (args) => {
        const row = await ctx.api.create(
          ctx.name,
          { data: args.data as Record<string, unknown>, ...(args.id !== undefined ? { id: args.id as string } : {}) },
          ctx.claims.ids(),
        );
        return rowResult(ctx, `Created ${ctx.name} ${row.id} (syncId ${row.syncId}):`, row, ctx.fieldNames, { row });
      },
    };
  },
};
