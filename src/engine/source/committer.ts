/**
 * A commit to Data Source models (docs/data-source.md, "The path of a
 * commit"). Coordination stays in the engine; the source is the system of
 * record:
 *
 * 1. take the locks of the rows it names (`locks.ts`), so nothing else
 *    touches them until its answer is applied;
 * 2. rows the cache lacks are loaded from the source (`load`);
 * 3. plan it in a storage transaction, exactly as a local commit
 *    (`planCommit`: validation, idempotency, read dependencies, stale guard
 *    against the change log, claims, scope), and, in the same transaction,
 *    journal what will be sent (`source_journal:<source>:<clientTxId>`);
 *    held operations (`notify`) are not sent; a commit with nothing left to
 *    send completes here;
 * 4. send it (`commit`, signed, `webhook-id` = `msg_<clientTxId>`, retried
 *    on a timeout or 5xx): the source applies it and answers canonical rows,
 *    or refuses (typed error, nothing applied, journal dropped);
 * 5. write the canonical rows as the commit's changes, store its receipt
 *    under its clientTxId and drop the journal entry, in one transaction;
 *    the change feed fans it out.
 *
 * A restarted engine finds journal entries whose answer it never applied
 * and sends them again (same `webhook-id`, same clientTxId: the source
 * answers from its dedupe), then applies them once (`recover`).
 */
import { abloError, AbloNotFoundError } from '../../errors.js';
import type { CommitReceipt, CommitRequest, Operation } from '../../protocol/commit.js';
import { ulid } from '../../protocol/ids.js';
import {
  sourceCommitResponseSchema,
  sourceLoadResponseSchema,
  type SourceCommitRequest,
  type SourceCommitResponse,
  type SourceOperation,
} from '../../protocol/source.js';
import type { CompiledSchema } from '../../schema/compile.js';
import { planInputOf } from '../commit/apply.js';
import type { CommitBatcher } from '../commit/batcher.js';
import { completeReceipt, noSchemaError, planCommit, type CommitPlan, type PlanInput } from '../commit/plan.js';
import type { CommitInput, CommitOutcome } from '../commit/types.js';
import type { ChangeRecord, PlannedChange, RowRef, Storage, StorageTx, StoredRow } from '../storage/types.js';
import type { SourceClient } from './client.js';
import { rowKey, RowLocks, txKey, WHOLE_SOURCE } from './locks.js';
import { changeTo, sourceParticipant, storedRowFrom, type ChangeBase } from './rows.js';

type WritePlan = Extract<CommitPlan, { kind: 'write' }>;

/** What the journal keeps of a commit sent to a source, until its answer is applied. */
export interface JournalEntry {
  v: 1;
  source: string;
  request: SourceCommitRequest;
  plan: WritePlan;
  /**
   * The `webhook-timestamp` of the first attempt: attempts after it (this process's retries, a restarted
   * engine's) are signed later, so no (id, timestamp) is ever sent twice (a receiver refuses that as a replay).
   */
  firstTimestamp: number;
}

export const JOURNAL_PREFIX = 'source_journal:';
/** A commit's `webhook-id`: the same for every attempt, in any process. */
function webhookId(clientTxId: string): string {
  return `msg_${clientTxId}`;
}

export function journalKey(source: string, clientTxId: string): string {
  return `${JOURNAL_PREFIX}${source}:${clientTxId}`;
}

/** A batcher job that is not a client's commit answers this outcome (nothing for a client to read). */
export function internalOutcome(changes: ChangeRecord[], clientTxId = ''): CommitOutcome {
  const receipt: CommitReceipt = { object: 'commit', id: '', clientTxId, status: 'committed', lastSyncId: changes.at(-1)?.syncId ?? 0, results: [] };
  return { receipt, changes, replayed: false, internal: true };
}

export interface SourceCommitterOptions {
  batcher: CommitBatcher;
  storage: Pick<Storage, 'getRow' | 'listMeta'>;
  schema: { current(): CompiledSchema | null };
  client(source: string): SourceClient;
  locks(source: string): RowLocks;
  now?: () => Date;
  idempotencyWindowMs?: number;
  log: (line: string) => void;
}

export class SourceCommitter {
  private readonly now: () => Date;

  constructor(private readonly options: SourceCommitterOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async submit(input: CommitInput, source: string): Promise<CommitOutcome> {
    const schema = this.options.schema.current();
    if (!schema) throw noSchemaError();
    // Every source commit is stored under its clientTxId (one is made when the client sent no key): a resend is
    // answered from it, and an event that carries it is known as this commit's echo.
    const request: CommitRequest = input.request.idempotencyKey ? input.request : { ...input.request, idempotencyKey: `tx_${ulid()}` };
    // Decided before waiting for the locks when it can be: a commit already stale, claimed or invalid is refused
    // at once (batched with others) instead of in line behind the commits in flight. Decided again under the locks.
    const early = await this.precheck({ ...input, request }, schema);
    if (early) return early;
    const release = await this.options.locks(source).acquire(lockKeys(request));
    try {
      await this.loadMissing(source, request, schema);
      const prepared = await this.prepare(source, { ...input, request }, schema);
      if ('outcome' in prepared) return prepared.outcome;
      let answer: SourceCommitResponse;
      try {
        answer = await this.send(prepared.entry);
      } catch (err) {
        // Refused or unreachable: nothing was applied here; the journal entry goes (an answer that did reach the
        // source comes back as an event, which is then an external write).
        await this.options.batcher.submit(async (tx) => {
          await tx.deleteMeta(journalKey(source, prepared.entry.plan.clientTxId));
          return internalOutcome([]);
        });
        throw err;
      }
      return await this.applyOrDrop(prepared.entry, answer);
    } finally {
      release();
    }
  }

  /**
   * Apply an answer; one the engine cannot use (a row that does not fit the schema) drops the journal entry
   * and throws: sending it again would get the same answer. Anything else (storage) keeps it for recovery.
   */
  private async applyOrDrop(entry: JournalEntry, answer: SourceCommitResponse): Promise<CommitOutcome> {
    try {
      return await this.apply(entry, answer);
    } catch (err) {
      if ((err as { code?: string }).code === 'source_bad_response') {
        await this.options.batcher.submit(async (tx) => {
          await tx.deleteMeta(journalKey(entry.source, entry.plan.clientTxId));
          return internalOutcome([]);
        });
      }
      throw err;
    }
  }

  /** Send the journaled commits of `source` that a previous run never applied; answers how many were applied. */
  async recover(source: string): Promise<number> {
    const entries = await this.options.storage.listMeta(`${JOURNAL_PREFIX}${source}:`);
    let applied = 0;
    for (const { value } of entries) {
      const stored = JSON.parse(value) as JournalEntry;
      // Signed after every attempt the previous process may have made: each was at or before its clock then
      // (which is before ours now) or at most `attempts - 1` seconds past the first. Recorded before it is sent,
      // so a recovery that dies as well is passed by the next one.
      const client = this.options.client(source);
      const now = Math.floor(Date.now() / 1000);
      const entry: JournalEntry = {
        ...stored,
        firstTimestamp: Math.max(now + 1, (stored.firstTimestamp ?? 0) + client.attempts, client.nextTimestamp(webhookId(stored.plan.clientTxId))),
      };
      await this.options.batcher.submit(async (tx) => {
        if (await tx.getMeta(journalKey(source, entry.plan.clientTxId))) await tx.putMeta(journalKey(source, entry.plan.clientTxId), JSON.stringify(entry));
        return internalOutcome([]);
      });
      const keys = [txKey(entry.plan.clientTxId), ...entry.plan.changes.map((c) => rowKey(c.model, c.id))];
      const release = await this.options.locks(source).acquire(keys);
      try {
        let answer: SourceCommitResponse;
        try {
          answer = await this.send(entry);
        } catch (err) {
          // Dropped only when the source answered that it will not apply it (its dedupe would have answered had
          // it applied it before); unreachable, refusing our signature or broken: kept, tried again later.
          const code = (err as { code?: string }).code ?? '';
          const final = code === 'source_refused' || code === 'stale_context' || code === 'row_not_found';
          this.options.log(`source ${source}: journaled commit ${entry.plan.clientTxId} ${final ? 'refused by the source; dropped' : 'not applied yet'}: ${(err as Error).message}`);
          if (!final) throw err;
          await this.options.batcher.submit(async (tx) => {
            await tx.deleteMeta(journalKey(source, entry.plan.clientTxId));
            return internalOutcome([]);
          });
          continue;
        }
        try {
          const outcome = await this.applyOrDrop(entry, answer);
          if (!outcome.replayed) applied++;
        } catch (err) {
          if ((err as { code?: string }).code !== 'source_bad_response') throw err;
          this.options.log(`source ${source}: journaled commit ${entry.plan.clientTxId} dropped: ${(err as Error).message}`);
        }
      } finally {
        release();
      }
    }
    return applied;
  }

  /** Plan without locks and throw what it throws (a missing row excepted: it may be loaded); a replay answers. */
  private async precheck(input: CommitInput, schema: CompiledSchema): Promise<CommitOutcome | null> {
    let replay: CommitOutcome | null = null;
    try {
      await this.options.batcher.submit(async (tx) => {
        replay = null;
        const plan = await planCommit(this.planInput(input, schema), tx);
        if (plan.kind === 'replay') replay = { receipt: plan.receipt, changes: [], replayed: true };
        return internalOutcome([]);
      });
    } catch (err) {
      if (err instanceof AbloNotFoundError) return null;
      throw err;
    }
    return replay;
  }

  private planInput(input: CommitInput, schema: CompiledSchema): PlanInput {
    return planInputOf(input, schema, this.now(), { idempotencyWindowMs: this.options.idempotencyWindowMs });
  }


  /** Rows an update, delete or read names that the cache lacks: asked of the source (`load`) and cached. */
  private async loadMissing(source: string, request: CommitRequest, schema: CompiledSchema): Promise<void> {
    const wanted = new Map<string, Set<string>>();
    const note = (model: string, id: string): void => {
      if (!schema.models[model]) return;
      let ids = wanted.get(model);
      if (!ids) wanted.set(model, (ids = new Set()));
      ids.add(id);
    };
    for (const op of request.operations) if (op.op !== 'create') note(op.model, op.id);
    for (const dep of request.reads ?? []) if ('model' in dep) note(dep.model, dep.id);
    for (const [model, ids] of wanted) {
      const missing: string[] = [];
      for (const id of ids) if (!(await this.options.storage.getRow(model, id))) missing.push(id);
      if (missing.length === 0) continue;
      let rows: Array<Record<string, unknown>>;
      try {
        rows = (await this.options.client(source).call({ type: 'load', source, model, ids: missing }, sourceLoadResponseSchema)).rows;
      } catch (err) {
        // A source without `load` for this model: the commit goes on with what the cache has (row_not_found).
        if ((err as { details?: { sourceCode?: string } }).details?.sourceCode === 'not_supported') continue;
        throw err;
      }
      const found = rows.filter((r) => missing.includes(r.id as string));
      if (found.length > 0) await cacheRows(this.options.batcher, source, schema, model, found, this.now());
    }
  }

  /** Step 3: plan, and journal what will be sent (or finish a commit with nothing to send). */
  private async prepare(source: string, input: CommitInput, schema: CompiledSchema): Promise<{ outcome: CommitOutcome } | { entry: JournalEntry }> {
    let entry: JournalEntry | null = null;
    const outcome = await this.options.batcher.submit(
      async (tx) => {
        entry = null;
        input.authorized?.();
        const plan = await planCommit(this.planInput(input, schema), tx);
        if (plan.kind === 'replay') return { receipt: plan.receipt, changes: [], replayed: true };
        if (plan.changes.length === 0) {
          // Every operation held (notify): nothing goes to the source.
          const receipt = completeReceipt(plan, [], await tx.headSyncId());
          if (plan.idempotency) await tx.putIdempotency(plan.idempotency.key, { requestHash: plan.idempotency.requestHash, receipt });
          return { receipt, changes: [], replayed: false };
        }
        const request = await sourceRequest(source, input, plan, schema, tx);
        entry = { v: 1, source, request, plan, firstTimestamp: this.options.client(source).nextTimestamp(webhookId(plan.clientTxId)) };
        await tx.putMeta(journalKey(source, plan.clientTxId), JSON.stringify(entry));
        return internalOutcome([], plan.clientTxId);
      },
      { rows: rowsOf(input.request.operations) },
    );
    const prepared = entry as JournalEntry | null;
    return prepared ? { entry: prepared } : { outcome };
  }

  private send(entry: JournalEntry): Promise<SourceCommitResponse> {
    return this.options.client(entry.source).call(entry.request, sourceCommitResponseSchema, {
      id: webhookId(entry.plan.clientTxId),
      firstTimestamp: entry.firstTimestamp,
    });
  }

  /** Step 5: the source's canonical rows become the commit's changes; receipt stored, journal entry dropped. */
  private async apply(entry: JournalEntry, answer: SourceCommitResponse): Promise<CommitOutcome> {
    const schema = this.options.schema.current();
    if (!schema) throw noSchemaError();
    const { plan, source } = entry;
    const key = plan.idempotency?.key ?? plan.clientTxId;
    return this.options.batcher.submit(async (tx) => {
      const prior = await tx.getIdempotency(key);
      if (prior) {
        // Applied already (a client's resend and a restart's recovery met): once is enough.
        await tx.deleteMeta(journalKey(source, plan.clientTxId));
        return { receipt: prior.receipt, changes: [], replayed: true };
      }
      const changes = await canonicalChanges(source, schema, plan, answer, tx);
      const written = await tx.write(changes);
      const receipt = completeReceipt(plan, written, 0);
      await tx.putIdempotency(key, { requestHash: plan.idempotency?.requestHash ?? '', receipt });
      await tx.deleteMeta(journalKey(source, plan.clientTxId));
      return { receipt, changes: written, replayed: false };
    });
  }
}

/** The locks a commit takes: its client transaction, the rows it names, the whole source for a group read. */
export function lockKeys(request: CommitRequest): string[] {
  const keys = [txKey(request.idempotencyKey!)];
  for (const op of request.operations) if (op.id) keys.push(rowKey(op.model, op.id));
  for (const dep of request.reads ?? []) keys.push('group' in dep ? WHOLE_SOURCE : rowKey(dep.model, dep.id));
  return keys;
}

function rowsOf(operations: readonly Operation[]): RowRef[] {
  return operations.filter((op) => op.id).map((op) => ({ model: op.model, id: op.id! }));
}

function fieldsOf(row: StoredRow, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { id: row.id };
  for (const f of names) out[f] = row[f] ?? null;
  return out;
}

/** The `commit` request for a plan: its applied operations, with the rows as the engine saw them. */
async function sourceRequest(source: string, input: CommitInput, plan: WritePlan, schema: CompiledSchema, tx: StorageTx): Promise<SourceCommitRequest> {
  const operations: SourceOperation[] = [];
  const required = new Set<string>();
  for (let i = 0; i < input.request.operations.length; i++) {
    const result = plan.results[i]!;
    if (result.status !== 'applied') continue;
    const op = input.request.operations[i]!;
    const change = plan.changes[result.change]!;
    const names = schema.model(change.model).fieldNames;
    for (const g of change.groups) required.add(g);
    for (const g of change.prevGroups ?? []) required.add(g);
    const current = change.action === 'create' ? null : await tx.getRow(change.model, change.id);
    const data = change.action === 'create' ? withoutId(fieldsOf(change.data, names)) : change.action === 'update' ? change.patch : undefined;
    operations.push({
      op: change.action,
      model: change.model,
      id: change.id,
      ...(data ? { data } : {}),
      current: current ? fieldsOf(current, names) : null,
      seenSyncId: current ? current.syncId : null,
      ...('readAt' in op && op.readAt !== undefined ? { readAt: op.readAt } : {}),
      ...('onStale' in op && op.onStale !== undefined ? { onStale: op.onStale } : {}),
    });
  }
  return {
    type: 'commit',
    source,
    clientTxId: plan.clientTxId,
    operations,
    ...(input.request.reads ? { reads: input.request.reads } : {}),
    scope: {
      participant: input.participant,
      ...(input.onBehalfOf ? { onBehalfOf: input.onBehalfOf } : {}),
      ...(input.credentialId !== undefined ? { credentialId: input.credentialId } : {}),
      groups: input.scope === 'all' ? '*' : [...input.scope],
      requiredGroups: [...required],
    },
    ...(input.request.label ? { label: input.request.label } : {}),
  };
}

function withoutId(fields: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, ...rest } = fields;
  return rest;
}

/**
 * The plan's changes with the source's rows in them, one for one (the
 * receipt's results point into this list). A create or update the answer
 * has no row for keeps the row the engine planned (the source took it as
 * sent).
 */
async function canonicalChanges(source: string, schema: CompiledSchema, plan: WritePlan, answer: SourceCommitResponse, tx: StorageTx): Promise<PlannedChange[]> {
  const byRow = new Map<string, Record<string, unknown>>();
  const models = new Set(plan.changes.map((c) => c.model));
  for (const row of answer.rows) {
    const model = typeof row.model === 'string' ? row.model : null;
    if (model && !models.has(model)) {
      throw abloError('source_bad_response', { source, reason: `the answer has a ${model} row, a model this commit did not write` });
    }
    const { model: _m, ...fields } = row;
    for (const m of model ? [model] : models) byRow.set(`${m}\u0000${row.id}`, fields);
  }
  // Rows as this commit leaves them, so a second operation on a row starts from the first one's result.
  const rows = new Map<string, StoredRow | null>();
  const out: PlannedChange[] = [];
  for (const planned of plan.changes) {
    const model = schema.model(planned.model);
    const k = `${planned.model}\u0000${planned.id}`;
    const existing = rows.has(k) ? rows.get(k)! : await tx.getRow(planned.model, planned.id);
    const base: ChangeBase = {
      participant: planned.participant,
      ...(planned.onBehalfOf ? { onBehalfOf: planned.onBehalfOf } : {}),
      ...(planned.credentialId !== undefined ? { credentialId: planned.credentialId } : {}),
      clientTxId: planned.clientTxId,
      commitId: planned.commitId,
      at: planned.at,
    };
    if (planned.action === 'delete') {
      out.push(planned);
      rows.set(k, null);
      continue;
    }
    const raw = byRow.get(k) ?? fieldsOf(planned.data, model.fieldNames);
    const next = storedRowFrom(source, model, { ...raw, id: planned.id }, existing, planned.at);
    const change =
      changeTo(model, existing, next, base, planned.fields) ??
      // Unchanged and nothing named (cannot happen for a planned write; kept total): the write as planned.
      planned;
    out.push(change);
    rows.set(k, next);
  }
  return out;
}

/** Rows a source gave (`load`, `list`) into the cache, as changes by the source where they differ from it. */
export async function cacheRows(
  batcher: CommitBatcher,
  source: string,
  schema: CompiledSchema,
  modelName: string,
  rows: ReadonlyArray<Record<string, unknown>>,
  now: Date,
): Promise<ChangeRecord[]> {
  const model = schema.model(modelName);
  const at = now.toISOString();
  const base: ChangeBase = { participant: sourceParticipant(source), clientTxId: null, commitId: `load_${ulid()}`, at };
  const outcome = await batcher.submit(async (tx) => {
    const changes: PlannedChange[] = [];
    for (const raw of rows) {
      const existing = await tx.getRow(modelName, raw.id as string);
      const change = changeTo(model, existing, storedRowFrom(source, model, raw, existing, at), base);
      if (change) changes.push(change);
    }
    return internalOutcome(changes.length > 0 ? await tx.write(changes) : []);
  });
  return outcome.changes;
}
