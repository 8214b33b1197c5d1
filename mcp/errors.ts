/**
 * Failures as tool results (`isError: true`), never as protocol errors: the
 * text says what was wrong (naming the argument) and what to do next, and
 * `structuredContent.error` carries the same for programs in one shape
 * (../outputs.ts `toolErrorSchema`): `type`, `code`, `message`, `fix` (the
 * next step, on its own) and the details of its type.
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

/** A failure's text and its next step (`fix`), which the text also says. */
interface Said {
  text: string;
  fix: string;
}

function toolResult(said: Said, error: Record<string, unknown>): CallToolResult {
  error.fix = said.fix;
  return { isError: true, content: [{ type: 'text', text: said.text }], structuredContent: { error } };
}

/** type, code, message, then fix (filled last) and the details: the key order every error has. */
function base(err: AbloError): Record<string, unknown> {
  return { type: err.type, code: err.code, message: err.message, fix: '' };
}

function staleSaid(err: AbloError, ctx: ErrorContext, readAt: number): Said {
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
  const fix =
    `Re-plan from these values, then call ${ctx.tool} again with readAt=${readAt}` +
    (ctx.tool === 'ablo_commit' ? ' on that entry' : '') +
    ` (or onStale="overwrite" to replace their change on purpose).`;
  lines.push(fix);
  return { text: lines.join('\n'), fix };
}

function claimedSaid(err: AbloError, ctx: ErrorContext): Said {
  const d = err.details as Record<string, unknown>;
  const model = (d.model as string | undefined) ?? ctx.model;
  const id = (d.id as string | undefined) ?? ctx.id;
  const holder = d.holder ? renderParticipant(d.holder) : 'another participant';
  // The action is text another participant wrote: a bare word stays bare, anything else is quoted on one line.
  const action = typeof d.action === 'string' && d.action ? ` (${renderValue(d.action, 200)})` : '';
  const until = typeof d.expiresAt === 'string' ? ` until ${d.expiresAt} unless renewed` : '';
  const claimTool = model ? `${model}_claim` : '<model>_claim';
  switch (err.code) {
    case 'row_claimed': {
      if (ctx.tool.endsWith('_claim')) {
        const fix = `Call ${claimTool} again without wait: false to wait your turn in line (you get the row as it is then).`;
        return { text: `${model} ${id} is claimed by ${holder}${action}${until}. ${fix}`, fix };
      }
      const fix = `Call ${claimTool} with id="${id ?? '…'}" to wait your turn (it returns the row as it is then), make your change, then ${model ?? '<model>'}_release.`;
      return { text: `${model ?? 'The row'} ${id ?? ''} is claimed by ${holder}${action}${until}. Nothing was written.\n`.replace(/ {2,}/g, ' ') + fix, fix };
    }
    case 'queue_full': {
      const fix = `Try again later, or call ${claimTool} without a queue limit.`;
      return { text: `${err.message}\n${fix}`, fix };
    }
    case 'claim_wait_timeout': {
      const fix = `Call ${claimTool} again to wait longer (you rejoin at the back of the line).`;
      return { text: `${model ?? 'The row'} ${id ?? ''} is still claimed by ${holder}${action}; gave up waiting. ${fix}`, fix };
    }
    default:
      return { text: err.message, fix: `Wait until the holder releases the row (${claimTool} waits your turn), then call ${ctx.tool} again.` };
  }
}

/** A refused credential: what happened to it, and how to get going again. Nothing was written. */
function authenticationSaid(e: AbloError): Said {
  const restart = 'Restart the MCP server with a valid credential (--api-key / ABLO_API_KEY, or --session-token / ABLO_SESSION_TOKEN).';
  switch (e.code) {
    case 'token_expired': {
      const fix = `${restart} With a secret key and --participant, ablo mcp mints and refreshes its own session.`;
      return { text: `The session token expired: ${e.message} Nothing was written. ${fix}`, fix };
    }
    case 'revoked_token':
    case 'revoked_api_key':
      return { text: `The credential was revoked: ${e.message} Nothing was written. ${restart}`, fix: restart };
    default:
      return { text: `The engine refused the credential: ${e.message} Nothing was written. ${restart}`, fix: restart };
  }
}

export { invalidArguments } from './argumentErrors.js';

/**
 * The next step for validation errors whose message already says it (written
 * here or by the engine with the fix in it): the text is the message alone,
 * `fix` says the step on its own.
 */
function selfExplainedFix(e: AbloError, ctx: ErrorContext): string | undefined {
  const d = e.details as Record<string, unknown>;
  const model = (d.model as string | undefined) ?? ctx.model;
  switch (e.code) {
    case 'invalid_arguments': {
      // One bad argument: its line's own "Fix: …"; several: name them all.
      const lineFixes = e.message.split('\n').flatMap((l) => {
        const m = /Fix: (.*)$/.exec(l) ?? /(Fix `.*)$/.exec(l);
        return m?.[1] ? [m[1]] : [];
      });
      if (lineFixes.length === 1) return lineFixes[0]!.charAt(0).toUpperCase() + lineFixes[0]!.slice(1);
      const fields = [...new Set(((d.issues as Array<{ field: string }> | undefined) ?? []).map((i) => i.field))];
      const named = fields.length ? fields.map((f) => `\`${f}\``).join(', ') : 'the arguments';
      return `Fix ${named} as the message says and call ${ctx.tool} again; the tool's input schema lists every argument.`;
    }
    case 'unknown_model':
      return 'Call ablo_schema for the models this server exposes, and use one of them.';
    case 'no_schema':
      return 'Push a schema (`ablo push`), then restart the MCP server.';
    case 'id_exists':
      return `Change that row with ${model ? `${model}_update` : 'the update tool'}, or leave the id out to get a new one.`;
    case 'invalid_cursor':
      return `Pass nextCursor exactly as the previous ${model ? `${model}_list` : 'list call'} returned it, or leave cursor out to start from the first page.`;
    case 'cursor_mismatch':
      return 'Pass the cursor alone (it keeps where, orderBy and limit), or drop cursor to start a new list.';
    case 'cursor_row_deleted':
      return `Call ${ctx.tool} without cursor to start over.`;
    default:
      return undefined;
  }
}

/** What a permission error leaves the agent to do. */
function permissionFix(e: AbloError): string {
  const d = e.details as Record<string, unknown>;
  if (e.code === 'group_not_allowed') return 'Write only rows in sync groups this credential may reach (the tool descriptions name them), or use a credential scoped to that group.';
  if (typeof d.operation === 'string') return `Use a credential with the "${d.operation}" operation, or do without this call.`;
  return 'Use a credential that is allowed to do this, or do without this call.';
}

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
      return toolResult(staleSaid(e, ctx, readAt), info);
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
      return toolResult(claimedSaid(e, ctx), info);
    }
    case 'not_found': {
      if (d.field !== undefined) info.field = d.field;
      if (e.code === 'row_not_found') {
        const model = (d.model as string | undefined) ?? ctx.model ?? 'row';
        const id = (d.id as string | undefined) ?? ctx.id;
        Object.assign(info, { model, id });
        const fix = `Check the id (${model}_list finds rows; ids are case-sensitive).`;
        return toolResult({ text: `No ${model} row with id "${id}". ${fix}`, fix }, info);
      }
      if (e.code === 'claim_not_found') {
        const fix = 'Nothing to release; claim the row again if you still need it.';
        return toolResult({ text: `${e.message} ${fix}`, fix }, info);
      }
      if (e.code === 'unknown_tool') return toolResult({ text: e.message, fix: 'Call one of the tools tools/list names.' }, info);
      return toolResult({ text: e.message, fix: `Check the names and ids in the arguments and call ${ctx.tool} again.` }, info);
    }
    case 'validation_error':
    case 'schema_error': {
      for (const k of ['model', 'field', 'operationIndex', 'issues']) if (d[k] !== undefined) info[k] = d[k];
      // Messages written here already say what to do; the engine's get a pointer to the field.
      const explained = selfExplainedFix(e, ctx);
      if (explained) return toolResult({ text: e.message, fix: explained }, info);
      const fix =
        d.field !== undefined
          ? `Fix "${String(d.field)}"${typeof d.operationIndex === 'number' && ctx.tool === 'ablo_commit' ? ` in operations[${d.operationIndex}]` : ''} and call ${ctx.tool} again; ablo_schema describes every field.`
          : `Fix the arguments and call ${ctx.tool} again.`;
      return toolResult({ text: `${e.message} ${fix}`, fix }, info);
    }
    case 'authentication_error':
      return toolResult(authenticationSaid(e), info);
    case 'permission_error':
      for (const k of ['operation', 'allowed', 'groups']) if (d[k] !== undefined) info[k] = d[k];
      return toolResult({ text: `${e.message} Nothing was done: this credential is not allowed to.`, fix: permissionFix(e) }, info);
    case 'connection_error': {
      if (e.code === 'cancelled') return toolResult({ text: 'Cancelled.', fix: 'Call the tool again if you still need it.' }, info);
      const fix = 'Start the engine (npx ablo dev) or check --url / ABLO_URL, then retry.';
      return toolResult({ text: `${e.message} ${fix}`, fix }, info);
    }
    case 'too_large': {
      const fix = 'Send less at once (split the batch).';
      return toolResult({ text: `${e.message} ${fix}`, fix }, info);
    }
    case 'rate_limit': {
      const fix = 'Wait a moment and retry.';
      return toolResult({ text: `${e.message} ${fix}`, fix }, info);
    }
    case 'idempotency_error': {
      const fix = 'Use a new idempotencyKey for a different batch.';
      return toolResult({ text: `${e.message} ${fix}`, fix }, info);
    }
    default:
      return toolResult({ text: `${e.message} (the engine log has details)`, fix: 'Retry once; if it fails again, the engine log says why.' }, info);
  }
}
