/**
 * Failures as tool results (`isError: true`), never as protocol errors: the
 * text says what was wrong (naming the argument) and what to do next, and
 * `structuredContent.error` carries the details for programs.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AbloError, AbloServerError, type AbloErrorCode } from '../src/errors.js';
import type { Row } from '../src/protocol/commit.js';
import { fenced } from './fence.js';
import { renderPairs, renderParticipant, renderRow, renderValue } from './render.js';

export interface ErrorContext {
  /** The tool that failed, e.g. `tasks_update`. */
  tool: string;
  model?: string;
  id?: string;
  /** Field names of `model`, for rendering rows in schema order. */
  fieldNames?: readonly string[];
  /** The row as it is now, fetched after a stale error (when it still exists). */
  currentRow?: Row | null;
}

function toolResult(text: string, error: Record<string, unknown>): CallToolResult {
  return { isError: true, content: [{ type: 'text', text }], structuredContent: { error } };
}

function base(err: AbloError): Record<string, unknown> {
  return { type: err.type, code: err.code, message: err.message };
}

function staleText(err: AbloError, ctx: ErrorContext, readAt: number): string {
  const d = err.details as Record<string, unknown>;
  const model = (d.model as string | undefined) ?? ctx.model ?? 'row';
  const id = (d.id as string | undefined) ?? ctx.id ?? '?';
  const fields = (d.conflictingFields as string[] | undefined) ?? [];
  const current = (d.currentValues as Record<string, unknown> | undefined) ?? {};
  const who = d.writtenBy ? renderParticipant(d.writtenBy) + (d.onBehalfOf ? ` on behalf of ${renderParticipant(d.onBehalfOf)}` : '') : 'someone';
  const lines = [
    d.historyPruned
      ? // Retention pruned the history after readAt: the engine's message says so (who wrote what is gone with it).
        `Stale: ${err.message} Nothing was written.`
      : `Stale: ${model} ${id} changed after readAt=${String(d.readAt ?? '?')}` +
        (d.group ? ` (sync group ${String(d.group)})` : '') +
        `${fields.length ? `: ${fields.join(', ')}` : ''} written by ${who} at sync id ${String(d.observedSyncId ?? '?')}. Nothing was written.`,
  ];
  // Row values are data another participant wrote: fenced, like every row in a result.
  const data: string[] = [];
  if (Object.keys(current).length > 0) data.push(`current values: ${renderPairs(current)}`);
  if (ctx.currentRow) data.push(`the row now: ${renderRow(ctx.currentRow, ctx.fieldNames ?? [], 200)}`);
  if (data.length > 0) lines.push(fenced(data));
  if (ctx.currentRow === null) lines.push('The row no longer exists.');
  lines.push(
    `Re-plan from these values, then call ${ctx.tool} again with readAt=${readAt}` +
      (ctx.tool === 'ablo_commit' ? ' on that entry' : '') +
      ` (or onStale="overwrite" to replace their change on purpose).`,
  );
  return lines.join('\n');
}

function claimedText(err: AbloError, ctx: ErrorContext): string {
  const d = err.details as Record<string, unknown>;
  const model = (d.model as string | undefined) ?? ctx.model;
  const id = (d.id as string | undefined) ?? ctx.id;
  const holder = d.holder ? renderParticipant(d.holder) : 'another participant';
  // The action is text another participant wrote: a bare word stays bare, anything else is quoted on one line.
  const action = typeof d.action === 'string' && d.action ? ` (${renderValue(d.action, 200)})` : '';
  const until = typeof d.expiresAt === 'string' ? ` until ${d.expiresAt} unless renewed` : '';
  const claimTool = model ? `${model}_claim` : '<model>_claim';
  switch (err.code) {
    case 'row_claimed':
      if (ctx.tool.endsWith('_claim')) {
        return `${model} ${id} is claimed by ${holder}${action}${until}. Call ${claimTool} again without wait: false to wait your turn in line (you get the row as it is then).`;
      }
      return (
        `${model ?? 'The row'} ${id ?? ''} is claimed by ${holder}${action}${until}. Nothing was written.\n` +
        `Call ${claimTool} with id="${id ?? '…'}" to wait your turn (it returns the row as it is then), make your change, then ${model ?? '<model>'}_release.`
      ).replace(/ {2,}/g, ' ');
    case 'queue_full':
      return `${err.message}\nTry again later, or call ${claimTool} without a queue limit.`;
    case 'claim_wait_timeout':
      return `${model ?? 'The row'} ${id ?? ''} is still claimed by ${holder}${action}; gave up waiting. Call ${claimTool} again to wait longer (you rejoin at the back of the line).`;
    default:
      return err.message;
  }
}

/** A refused credential: what happened to it, and how to get going again. Nothing was written. */
function authenticationText(e: AbloError): string {
  const restart = 'Restart the MCP server with a valid credential (--api-key / ABLO_API_KEY, or --session-token / ABLO_SESSION_TOKEN).';
  switch (e.code) {
    case 'token_expired':
      return `The session token expired: ${e.message} Nothing was written. ${restart} With a secret key and --participant, ablo mcp mints and refreshes its own session.`;
    case 'revoked_token':
    case 'revoked_api_key':
      return `The credential was revoked: ${e.message} Nothing was written. ${restart}`;
    default:
      return `The engine refused the credential: ${e.message} Nothing was written. ${restart}`;
  }
}

export { invalidArguments } from './argumentErrors.js';

const SELF_EXPLAINED = new Set<AbloErrorCode>(['invalid_arguments', 'unknown_model', 'no_schema', 'id_exists', 'invalid_cursor', 'cursor_mismatch', 'cursor_row_deleted']);

/** Turn anything thrown by a tool into an `isError` result. */
export function errorResult(err: unknown, ctx: ErrorContext): CallToolResult {
  const e = err instanceof AbloError ? err : new AbloServerError(`Unexpected failure in the ablo MCP server: ${(err as Error)?.message ?? String(err)}`);
  const d = e.details as Record<string, unknown>;
  const info: Record<string, unknown> = { ...base(e) };
  switch (e.type) {
    case 'stale_context': {
      const observed = typeof d.observedSyncId === 'number' ? d.observedSyncId : 0;
      const readAt = ctx.currentRow ? Math.max(observed, ctx.currentRow.syncId) : observed;
      Object.assign(info, {
        model: d.model ?? ctx.model,
        id: d.id ?? ctx.id,
        readAt,
        staleReadAt: d.readAt,
        observedSyncId: d.observedSyncId,
        conflictingFields: d.conflictingFields ?? [],
        currentValues: d.currentValues ?? {},
        writtenBy: d.writtenBy ?? null,
        ...(d.onBehalfOf ? { onBehalfOf: d.onBehalfOf } : {}),
        ...(d.group ? { group: d.group } : {}),
        ...(d.historyPruned ? { historyPruned: true, changeLogFloor: d.changeLogFloor } : {}),
        ...(ctx.currentRow !== undefined ? { currentRow: ctx.currentRow } : {}),
      });
      return toolResult(staleText(e, ctx, readAt), info);
    }
    case 'claimed': {
      Object.assign(info, {
        model: d.model ?? ctx.model,
        id: d.id ?? ctx.id,
        holder: d.holder ?? null,
        action: d.action ?? null,
        ...(d.expiresAt ? { expiresAt: d.expiresAt } : {}),
        ...(typeof d.queueLength === 'number' ? { queueLength: d.queueLength } : {}),
      });
      return toolResult(claimedText(e, ctx), info);
    }
    case 'not_found': {
      if (d.field !== undefined) info.field = d.field;
      if (e.code === 'row_not_found') {
        const model = (d.model as string | undefined) ?? ctx.model ?? 'row';
        const id = (d.id as string | undefined) ?? ctx.id;
        Object.assign(info, { model, id });
        return toolResult(`No ${model} row with id "${id}". Check the id (${model}_list finds rows; ids are case-sensitive).`, info);
      }
      if (e.code === 'claim_not_found') return toolResult(`${e.message} Nothing to release; claim the row again if you still need it.`, info);
      return toolResult(e.message, info);
    }
    case 'validation_error':
    case 'schema_error': {
      for (const k of ['model', 'field', 'operationIndex', 'issues']) if (d[k] !== undefined) info[k] = d[k];
      // Messages written here already say what to do; the engine's get a pointer to the field.
      const hint = SELF_EXPLAINED.has(e.code)
        ? ''
        : d.field !== undefined
          ? ` Fix "${String(d.field)}"${typeof d.operationIndex === 'number' && ctx.tool === 'ablo_commit' ? ` in operations[${d.operationIndex}]` : ''} and call ${ctx.tool} again; ablo_schema describes every field.`
          : ` Fix the arguments and call ${ctx.tool} again.`;
      return toolResult(`${e.message}${hint}`, info);
    }
    case 'authentication_error':
      return toolResult(authenticationText(e), info);
    case 'permission_error':
      for (const k of ['operation', 'allowed', 'groups']) if (d[k] !== undefined) info[k] = d[k];
      return toolResult(`${e.message} Nothing was done: this credential is not allowed to.`, info);
    case 'connection_error':
      if (e.code === 'cancelled') return toolResult('Cancelled.', info);
      return toolResult(`${e.message} Start the engine (npx ablo dev) or check --url / ABLO_URL, then retry.`, info);
    case 'too_large':
      return toolResult(`${e.message} Send less at once (split the batch).`, info);
    case 'rate_limit':
      return toolResult(`${e.message} Wait a moment and retry.`, info);
    case 'idempotency_error':
      return toolResult(`${e.message} Use a new idempotencyKey for a different batch.`, info);
    default:
      return toolResult(`${e.message} (the engine log has details)`, info);
  }
}
