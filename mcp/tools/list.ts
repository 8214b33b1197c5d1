/**
 * `<model>_list`: rows of a model with where / orderBy / limit, paginated by
 * an opaque cursor (it keeps the query), the output capped by the session's
 * token budget.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AbloNotFoundError, AbloValidationError } from '../../src/errors.js';
import type { OrderBy } from '../../src/protocol/listQuery.js';
import { canonical, decodeCursor, encodeCursor } from '../cursor.js';
import { DEFAULT_MCP_LIST_LIMIT, listArgs } from '../inputs.js';
import { fenced, FENCE_CHARS } from '../fence.js';
import { modelOutputs } from '../outputs.js';
import { clipRow, renderRow } from '../render.js';
import { ok } from './results.js';
import { modelErrorContext, type ModelToolKind, type ToolSession } from './types.js';

export const listTool: ModelToolKind = {
  write: false,
  needs: ['read'],
  define: (ctx) => ({
    title: `List ${ctx.name}`,
    description:
      `List ${ctx.name} rows${ctx.about}. where filters (field: value, or [values] for any of), orderBy sorts ({ field: "asc" | "desc" }). ` +
      `Output is capped at about ${ctx.tokenBudget} tokens: when hasMore is true, call again with cursor=nextCursor (the cursor keeps where and orderBy). ` +
      `Each row's syncId is the readAt for ${ctx.name}_update / ${ctx.name}_delete.`,
    input: listArgs(ctx.name, ctx.inputs),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    output: modelOutputs(ctx.serialized, ctx.name).list,
    errorContext: modelErrorContext(ctx),
    run: async (args) => list(ctx, ctx.name, ctx.fieldNames, args),
  }),
};

function orderList(o: Record<string, 'asc' | 'desc'> | undefined): OrderBy[] | undefined {
  if (!o) return undefined;
  const list = Object.entries(o).map(([field, direction]) => ({ field, direction }));
  return list.length ? list : undefined;
}

/**
 * One page of rows, as many as fit the output budget: a greedy fill, then
 * trimmed until the real size fits; a single row too large alone is clipped.
 * Longer than most functions here because the cursor checks, the page request
 * and the budget fill are one pass over the same state (where, orderBy, limit).
 */
async function list(session: ToolSession, name: string, fieldNames: readonly string[], args: Record<string, unknown>): Promise<CallToolResult> {
  const { api, budgetChars } = session;
  let where = args.where as Record<string, unknown> | undefined;
  let orderBy = args.orderBy as Record<string, 'asc' | 'desc'> | undefined;
  let after: string | undefined;
  let cursorLimit: number | undefined;
  if (typeof args.cursor === 'string') {
    const c = decodeCursor(args.cursor, name);
    if (where !== undefined && canonical(where) !== canonical(c.where ?? {})) {
      throw new AbloValidationError(`where differs from the query this cursor continues. Pass the cursor alone (it keeps where, orderBy and limit), or drop cursor to start a new list.`, {
        code: 'cursor_mismatch',
        field: 'where',
      });
    }
    if (orderBy !== undefined && JSON.stringify(Object.entries(orderBy)) !== JSON.stringify(Object.entries(c.orderBy ?? {}))) {
      throw new AbloValidationError(`orderBy differs from the query this cursor continues. Pass the cursor alone (it keeps where, orderBy and limit), or drop cursor to start a new list.`, {
        code: 'cursor_mismatch',
        field: 'orderBy',
      });
    }
    where = c.where;
    orderBy = c.orderBy;
    after = c.after;
    cursorLimit = c.limit;
  }
  const limit = (args.limit as number | undefined) ?? cursorLimit ?? DEFAULT_MCP_LIST_LIMIT;
  const orderList_ = orderList(orderBy);
  const page = await api
    .list(name, {
      ...(where && Object.keys(where).length ? { where } : {}),
      ...(orderList_ ? { orderBy: orderList_ } : {}),
      limit,
      ...(after !== undefined ? { startingAfter: after } : {}),
    })
    .catch((err: unknown) => {
      // The row the cursor continues after is gone: the keyset position is lost.
      if (after !== undefined && err instanceof AbloNotFoundError) {
        throw new AbloValidationError(
          `cursor: the row this cursor continues after (${name} ${after}) was deleted, so the list cannot continue from it. Call ${name}_list without cursor to start over.`,
          { code: 'cursor_row_deleted', field: 'cursor', model: name, id: after },
        );
      }
      throw err;
    });

  const build = (rows: Array<Record<string, unknown>>, lines: string[], hasMore: boolean, clipped?: string[]): CallToolResult => {
    const last = rows[rows.length - 1];
    const nextCursor =
      hasMore && last
        ? encodeCursor({ model: name, after: String(last.id), ...(where ? { where } : {}), ...(orderBy ? { orderBy } : {}), ...(limit !== DEFAULT_MCP_LIST_LIMIT ? { limit } : {}) })
        : undefined;
    const head =
      rows.length === 0
        ? `No ${name} rows${after !== undefined ? ' after the cursor' : ''} match.`
        : `${rows.length} ${name} row${rows.length === 1 ? '' : 's'}${hasMore ? ' (more available)' : ' (end of list)'}:`;
    const text = lines.length ? [head, fenced(lines)] : [head];
    if (clipped?.length) text.push(`(Cut to fit the output budget: ${clipped.join(', ')}; see ${name}_get for more.)`);
    if (nextCursor) text.push(`Next page: call ${name}_list with cursor="${nextCursor}".`);
    return ok(text.join('\n'), {
      data: rows,
      hasMore,
      ...(nextCursor ? { nextCursor } : {}),
      model: name,
      count: rows.length,
      ...(clipped?.length ? { clippedFields: clipped } : {}),
    });
  };
  const sizeOf = (r: CallToolResult): number =>
    ((r.content?.[0] as { text?: string } | undefined)?.text?.length ?? 0) + JSON.stringify(r.structuredContent ?? {}).length;

  // Greedy fill: each row costs its text line plus its JSON; the frame (head, cursor twice, wrapper) is reserved up front.
  const sampleCursor = encodeCursor({ model: name, after: 'x'.repeat(128), ...(where ? { where } : {}), ...(orderBy ? { orderBy } : {}), limit });
  const reserve = 400 + FENCE_CHARS + name.length * 4 + sampleCursor.length * 2;
  const rows: Array<Record<string, unknown>> = [];
  const lines: string[] = [];
  let used = reserve;
  let cut = false;
  for (const row of page.data) {
    const line = renderRow(row, fieldNames);
    const cost = line.length + 1 + JSON.stringify(row).length + 1;
    if (rows.length > 0 && used + cost > budgetChars) {
      cut = true;
      break;
    }
    rows.push(row);
    lines.push(line);
    used += cost;
  }
  let result = build(rows, lines, cut || page.hasMore);
  // The reserve is an estimate: trim until the real size fits.
  while (sizeOf(result) > budgetChars && rows.length > 1) {
    rows.pop();
    lines.pop();
    result = build(rows, lines, true);
  }
  if (sizeOf(result) > budgetChars && rows.length === 1) {
    const { row: clippedRow, clipped } = clipRow(rows[0]!, Math.floor((budgetChars - reserve) / 2.5));
    result = build([clippedRow], [renderRow(clippedRow, fieldNames)], cut || page.hasMore, clipped);
  }
  return result;
}
