/**
 * One function per request type: call the app's handler, check what it
 * returned, answer the wire shape. A handler's result is checked here, not
 * trusted: a wrong row is refused with `SourceRowInvalidError` (500).
 */
import {
  sourceEventsResponseSchema,
  type SourceCommitRequest,
  type SourceCommitResponse,
  type SourceEventsRequest,
  type SourceEventsResponse,
  type SourceListRequest,
  type SourceListResponse,
  type SourceLoadRequest,
  type SourceLoadResponse,
} from '../protocol/source.js';
import type { CompiledSchema } from '../schema/compile.js';
import type { CommitDedupe } from './dedupe.js';
import { SourceRowInvalidError } from './errors.js';
import type { SourceCommitInput, SourceContext, SourceEventsInput, SourceModelHandlers } from './options.js';
import { checkEvent, checkRow, commitRowModel } from './rows.js';

/** Thrown when the request needs a handler the app did not give (404 `not_supported`). */
export class NotSupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotSupportedError';
  }
}

function rowsArray(what: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new SourceRowInvalidError(undefined, undefined, undefined, `${what} must return { rows: [...] }, got rows ${JSON.stringify(value)?.slice(0, 100)}.`);
  return value;
}

export interface CommitDeps {
  schema: CompiledSchema;
  commit: ((input: SourceCommitInput) => unknown) | undefined;
  dedupe: CommitDedupe<SourceContext>;
  /** Commits running now, by clientTxId: a retry that arrives meanwhile waits for the first one. */
  inflight: Map<string, Promise<SourceCommitResponse>>;
}

/**
 * `commit`: the stored answer for a known `clientTxId`, else the app's
 * `commit`, its rows checked, the answer stored. A refusal (thrown) is not
 * stored: the app's transaction did not apply, so a retry may run again.
 */
export async function answerCommit(deps: CommitDeps, body: SourceCommitRequest, context: SourceContext): Promise<SourceCommitResponse> {
  const commit = deps.commit;
  if (!commit) throw new NotSupportedError('This source takes no commits (dataSource() has no commit handler).');
  const unknown = body.operations.find((op) => !deps.schema.models[op.model]);
  if (unknown) throw new NotSupportedError(`Model "${unknown.model}" is not in this source's schema.`);
  const running = deps.inflight.get(body.clientTxId);
  if (running) return running;
  const run = (async () => {
    // A stored answer is checked like a fresh one: an app may write it itself, inside commit's own transaction.
    const known = await deps.dedupe.get(body.clientTxId, context);
    const result = (known ??
      (await commit({
        clientTxId: body.clientTxId,
        operations: body.operations,
        reads: body.reads ?? [],
        scope: body.scope,
        ...(body.label !== undefined ? { label: body.label } : {}),
        context,
      }))) as { rows?: unknown } | undefined;
    const rows = rowsArray('commit', result?.rows).map((row) => {
      const model = commitRowModel(row, body.operations);
      const { model: _declared, ...fields } = row as Record<string, unknown>;
      return { ...checkRow(deps.schema, model, fields), model };
    });
    const answer: SourceCommitResponse = { rows };
    if (!known) await deps.dedupe.put(body.clientTxId, answer, context);
    return answer;
  })();
  deps.inflight.set(body.clientTxId, run);
  try {
    return await run;
  } finally {
    deps.inflight.delete(body.clientTxId);
  }
}

function modelHandlers(handlers: Map<string, SourceModelHandlers>, model: string): SourceModelHandlers {
  const found = handlers.get(model);
  if (!found) throw new NotSupportedError(`This source has no handlers for model "${model}".`);
  return found;
}

/** `load`: `loadMany` when given, else `load` per id; a row that is not one of the ids asked for is refused. */
export async function answerLoad(
  schema: CompiledSchema,
  handlers: Map<string, SourceModelHandlers>,
  body: SourceLoadRequest,
  context: SourceContext,
): Promise<SourceLoadResponse> {
  const { load, loadMany } = modelHandlers(handlers, body.model);
  let found: unknown[];
  if (loadMany) found = rowsArray(`${body.model}.loadMany`, await loadMany({ ids: body.ids, context }));
  else if (load) found = await Promise.all(body.ids.map((id) => load({ id, context })));
  else throw new NotSupportedError(`Model "${body.model}" has no load or loadMany handler.`);
  const asked = new Set(body.ids);
  const rows = found
    .filter((row) => row !== null && row !== undefined)
    .map((row) => {
      const checked = checkRow(schema, body.model, row);
      if (!asked.has(checked.id)) throw new SourceRowInvalidError(body.model, checked.id, 'id', `load returned ${body.model} "${checked.id}", which was not asked for.`);
      return checked;
    });
  return { rows };
}

/** `list`: one page; more rows than `limit` is the app's bug (the engine pages by it). */
export async function answerList(
  schema: CompiledSchema,
  handlers: Map<string, SourceModelHandlers>,
  body: SourceListRequest,
  context: SourceContext,
): Promise<SourceListResponse> {
  const { list } = modelHandlers(handlers, body.model);
  if (!list) throw new NotSupportedError(`Model "${body.model}" has no list handler.`);
  const page = (await list({ cursor: body.cursor, limit: body.limit, context })) as { rows?: unknown; nextCursor?: unknown } | undefined;
  const rows = rowsArray(`${body.model}.list`, page?.rows);
  if (rows.length > body.limit) {
    throw new SourceRowInvalidError(body.model, undefined, undefined, `${body.model}.list returned ${rows.length} rows for limit ${body.limit}.`);
  }
  const nextCursor = page?.nextCursor ?? null;
  if (typeof nextCursor !== 'string' && nextCursor !== null) {
    throw new SourceRowInvalidError(body.model, undefined, undefined, `${body.model}.list returned nextCursor ${JSON.stringify(nextCursor)}; it must be a string or null.`);
  }
  return { rows: rows.map((row) => checkRow(schema, body.model, row)), nextCursor };
}

/** `events`: the app's outbox page, checked against the wire shape and each event's row against the schema. */
export async function answerEvents(
  schema: CompiledSchema,
  events: ((input: SourceEventsInput) => unknown) | undefined,
  body: SourceEventsRequest,
  context: SourceContext,
): Promise<SourceEventsResponse> {
  if (!events) throw new NotSupportedError('This source has no events handler.');
  const result = (await events({ cursor: body.cursor, limit: body.limit, context })) as Record<string, unknown> | undefined;
  const parsed = sourceEventsResponseSchema.safeParse({ ...result, nextCursor: result?.nextCursor ?? null });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SourceRowInvalidError(undefined, undefined, issue.path.join('.'), `events returned a wrong shape at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  if (parsed.data.events.length > body.limit) {
    throw new SourceRowInvalidError(undefined, undefined, undefined, `events returned ${parsed.data.events.length} events for limit ${body.limit}.`);
  }
  return { events: parsed.data.events.map((event) => checkEvent(schema, event)), nextCursor: parsed.data.nextCursor };
}
