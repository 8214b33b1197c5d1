/**
 * `ablo log [--model m] [--id x] [--participant kind:id] [--after n] [--limit n] [--json]`:
 * who changed what, when: the engine's change log (`GET /v1/changes`),
 * oldest first, filtered by the engine. Each change prints its sync id,
 * time, operation, row, fields, who wrote it (the credential's participant),
 * whom it acted for and the credential. `--json`: one change per line.
 */
import type { EngineApiClient } from '../../src/client/engineApi.js';
import type { Change } from '../../src/protocol/commit.js';
import { participantSchema, rowIdSchema } from '../../src/protocol/commit.js';
import type { EngineClient } from '../api.js';
import { connect, type ConnectFlags } from '../connect.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { colorsFor } from '../ui/color.js';

export interface LogQuery {
  model?: string;
  id?: string;
  participant?: string;
  /** Changes after this sync id (default 0: from the start of the log). */
  after: number;
  /** Most changes to read (default 100). */
  limit: number;
}

/** Changes one request asks for (the engine's cap is 10000). */
const PAGE = 1000;
const MODEL_NAME = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

function wholeNumber(flag: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const text = String(value).trim();
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number${min > 0 ? ` ≥ ${min}` : ''}, got ${JSON.stringify(value)}`);
  return n;
}

/** The flags as a query; bad values are usage errors (exit 2). */
export function logQuery(flags: Record<string, unknown>): LogQuery {
  const query: LogQuery = { after: wholeNumber('--after', flags.after, 0, 0), limit: wholeNumber('--limit', flags.limit, 100, 1) };
  if (flags.model !== undefined) {
    const model = String(flags.model);
    if (!MODEL_NAME.test(model)) throw new UsageError(`--model must be a model name, got ${JSON.stringify(model)}`);
    query.model = model;
  }
  if (flags.id !== undefined) {
    const id = String(flags.id);
    if (!rowIdSchema.safeParse(id).success) throw new UsageError(`--id must be a row id (letters, digits and _ - : .), got ${JSON.stringify(id)}`);
    query.id = id;
  }
  if (flags.participant !== undefined) {
    const p = String(flags.participant);
    const at = p.indexOf(':');
    if (at < 1 || !participantSchema.safeParse({ kind: p.slice(0, at), id: p.slice(at + 1) }).success) {
      throw new UsageError(`--participant must look like kind:id (kind one of user, agent, system), got ${JSON.stringify(p)}`, {
        fix: 'e.g. --participant user:ana',
      });
    }
    query.participant = p;
  }
  return query;
}

/**
 * Read the log through the engine client, page by page, calling `each` for
 * every change in order; answers the last sync id read and whether more
 * changes match after it.
 */
export async function readLog(client: EngineClient, query: LogQuery, each: (change: Change) => void): Promise<{ last: number; more: boolean }> {
  let after = query.after;
  let left = query.limit;
  for (;;) {
    const limit = Math.min(left, PAGE);
    const page = await client.call((api: EngineApiClient) =>
      api.changes({
        after,
        limit,
        ...(query.model !== undefined ? { model: query.model } : {}),
        ...(query.id !== undefined ? { id: query.id } : {}),
        ...(query.participant !== undefined ? { participant: query.participant } : {}),
      }),
    );
    for (const c of page.data) each(c);
    left -= page.data.length;
    after = page.data.at(-1)?.syncId ?? after;
    if (!page.hasMore) return { last: after, more: false };
    if (left === 0) return { last: after, more: true };
  }
}

const who = (p: { kind: string; id: string }): string => `${p.kind}:${p.id}`;

/** One change as a line: `12  2026-01-02 10:00:00Z  update  notes note_1 (title)  by system:key_1 for user:ana  credential key_1`. */
export function formatChange(c: Change): string {
  const at = c.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const fields = c.action === 'update' ? ` (${c.fields.join(', ')})` : '';
  const by = `by ${who(c.participant)}${c.onBehalfOf ? ` for ${who(c.onBehalfOf)}` : ''}`;
  const credential = c.credentialId ? `  credential ${c.credentialId}` : '';
  return `${String(c.syncId).padStart(6)}  ${at}  ${c.action.padEnd(6)}  ${c.model} ${c.id}${fields}  ${by}${credential}`;
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const query = logQuery(opts);
  const c = colorsFor(ctx);
  const { client } = connect(ctx, opts as ConnectFlags);
  let count = 0;
  const { last, more } = await readLog(client, query, (change) => {
    count++;
    // --json: one JSON object per line (JSON Lines), written as it is read.
    if (ctx.json) ctx.io.stdout(`${JSON.stringify(change)}\n`);
    else ctx.line(formatChange(change));
  });
  if (count === 0) ctx.line(c.dim('(no changes)'));
  if (more) ctx.note(`more changes follow: ablo log --after ${last}${query.model ? ` --model ${query.model}` : ''}${query.id ? ` --id ${query.id}` : ''}${query.participant ? ` --participant ${query.participant}` : ''}`);
  return 0;
}
