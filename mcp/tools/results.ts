/**
 * Tool results that are not failures: text for the agent plus structured
 * content, cut to the session's output budget.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { CommitReceipt, Row, StaleNotification } from '../../src/protocol/commit.js';
import { fenced } from '../fence.js';
import { clipRow, renderPairs, renderParticipant, renderRowLines } from '../render.js';
import type { ToolSession } from './types.js';

export function ok(text: string, structured: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

export function isReceipt(v: unknown): v is CommitReceipt {
  return !!v && typeof v === 'object' && (v as { object?: unknown }).object === 'commit';
}

/** One line per held change; the current values (row data) follow it in a fenced block. */
export function notificationLines(ns: readonly StaleNotification[]): string[] {
  return ns.map(
    (n) =>
      `  held: ${n.model} ${n.id} changed after readAt=${n.readAt}${n.conflictingFields.length ? ` (${n.conflictingFields.join(', ')})` : ''} by ${renderParticipant(n.writtenBy)}${n.onBehalfOf ? ` on behalf of ${renderParticipant(n.onBehalfOf)}` : ''}; ` +
      `new readAt=${n.observedSyncId}; current values:\n` +
      fenced([`  ${renderPairs(n.currentValues)}`]),
  );
}

/** A single row: one `key=value` per line in the text (fenced as data), the whole row in structured content (cut only if it alone exceeds the budget). */
export function rowResult(session: ToolSession, head: string, row: Row, fieldNames: readonly string[], structured: Record<string, unknown>): CallToolResult {
  const lineMax = 2000;
  let shown: Record<string, unknown> = row;
  let note = '';
  const textOf = (r: Record<string, unknown>): string => fenced(renderRowLines(r, fieldNames, lineMax).split('\n'));
  let text = `${head}\n${textOf(shown)}`;
  let structuredOut = structured;
  if (text.length + JSON.stringify(structured).length > session.budgetChars) {
    const { row: clipped, clipped: fields } = clipRow(row, Math.floor(session.budgetChars / 3));
    shown = clipped;
    note = `\n(Cut to fit the output budget of ${session.tokenBudget} tokens: ${fields.join(', ')}.)`;
    structuredOut = { ...structured, ...('row' in structured ? { row: clipped } : {}), clippedFields: fields };
    text = `${head}\n${textOf(shown)}${note}`;
  }
  return ok(text, structuredOut);
}

/** A write `onStale: 'notify'` held: what changed, and how to retry. */
export function heldResult(receipt: CommitReceipt, tool: string): CallToolResult {
  const lines = [`Not written: the row changed after readAt and onStale is "notify" (${tool}).`, ...notificationLines(receipt.notifications ?? [])];
  lines.push(`Re-plan from the current values, then call ${tool} again with the new readAt.`);
  return ok(lines.join('\n'), { status: receipt.status, receipt });
}
