/**
 * External writes: changes made in the app's database outside Ablo, which a
 * source reports as events (its outbox). The engine pulls them (`events`,
 * from a cursor it stores durably, in the same transaction as the changes
 * they make) on an interval and when the app pushes
 * (`POST /v1/source/:name/events`), and applies each one once:
 *
 * - an event id already applied is skipped (pulled and pushed, or pulled by
 *   two engine processes): ids are kept with the idempotency records
 *   (`source_event:<source>:<id>`, pruned with them);
 * - an event that carries the clientTxId of a commit the engine applied is
 *   that commit's echo and is dropped, unless the cache's last change to the
 *   row since that commit is an external one: the event then restores the
 *   commit's row (the external write happened before the commit at the
 *   source, but reached the engine after it);
 * - an event of a commit still in the journal is left to its recovery;
 * - anything else moves the cache to the event's row (a change by
 *   `system source:<name>`, fanned out, seen by the stale guard); an event
 *   that changes nothing writes nothing.
 *
 * An event whose row does not fit the schema is skipped and logged (the
 * app's bug); the cursor moves past it.
 */
import type { SourceEvent, SourceEventsResponse } from '../../protocol/source.js';
import { sourceEventsResponseSchema } from '../../protocol/source.js';
import type { CompiledSchema } from '../../schema/compile.js';
import type { CommitBatcher } from '../commit/batcher.js';
import type { ChangeRecord, PlannedChange, StoredRow } from '../storage/types.js';
import type { SourceClient } from './client.js';
import { internalOutcome, journalKey } from './committer.js';
import { rowKey, type RowLocks } from './locks.js';
import { changeTo, sourceParticipant, storedRowFrom, type ChangeBase } from './rows.js';

export const CURSOR_PREFIX = 'source_cursor:';
const EVENT_PREFIX = 'source_event:';
const PAGE = 500;

export interface EventApplierOptions {
  source: string;
  models: ReadonlySet<string>;
  batcher: CommitBatcher;
  schema: { current(): CompiledSchema | null };
  locks: RowLocks;
  log: (line: string) => void;
  now?: () => Date;
}

export interface AppliedEvents {
  changes: ChangeRecord[];
  /** Events skipped: seen before, echoes, invalid. */
  skipped: number;
}

/** Apply `events` in order; `cursor`: store it with them (a pulled page). */
export async function applyEvents(options: EventApplierOptions, events: readonly SourceEvent[], cursor?: string | null): Promise<AppliedEvents> {
  const schema = options.schema.current();
  if (!schema) return { changes: [], skipped: events.length };
  const usable = events.filter((e) => {
    if (options.models.has(e.model) && schema.models[e.model]) return true;
    options.log(`source ${options.source}: event ${e.id} is for model "${e.model}", which this source does not hold; skipped`);
    return false;
  });
  const release = await options.locks.acquire(usable.map((e) => rowKey(e.model, e.entityId)));
  let skipped = events.length - usable.length;
  try {
    const at = (options.now?.() ?? new Date()).toISOString();
    const outcome = await options.batcher.submit(async (tx) => {
      skipped = events.length - usable.length;
      const changes: PlannedChange[] = [];
      const rows = new Map<string, StoredRow | null>();
      for (const event of usable) {
        const seenKey = `${EVENT_PREFIX}${options.source}:${event.id}`;
        if (await tx.getIdempotency(seenKey)) {
          skipped++;
          continue;
        }
        await tx.putIdempotency(seenKey, { requestHash: 'source-event', receipt: internalOutcome([], event.id).receipt });
        const model = schema.model(event.model);
        const k = rowKey(event.model, event.entityId);
        const existing = rows.has(k) ? rows.get(k)! : await tx.getRow(event.model, event.entityId);
        if (event.clientTxId) {
          if (await tx.getMeta(journalKey(options.source, event.clientTxId))) {
            skipped++;
            continue;
          }
          const prior = await tx.getIdempotency(event.clientTxId);
          const ownChange = prior?.receipt.results.find((r) => r.model === event.model && r.id === event.entityId && r.syncId !== undefined);
          if (ownChange) {
            const later = await tx.rowChangesAfter(event.model, event.entityId, ownChange.syncId!);
            const last = later.at(-1);
            const externalSince = last && last.participant.kind === 'system' && last.participant.id === `source:${options.source}`;
            if (!externalSince && !rows.has(k)) {
              skipped++;
              continue;
            }
          }
        }
        let next: StoredRow | null;
        try {
          next = event.type === 'delete' || !event.data ? null : storedRowFrom(options.source, model, { ...event.data, id: event.entityId }, existing, at);
        } catch (err) {
          options.log(`source ${options.source}: event ${event.id} skipped: ${(err as Error).message}`);
          skipped++;
          continue;
        }
        const base: ChangeBase = { participant: sourceParticipant(options.source), clientTxId: event.clientTxId ?? null, commitId: `evt_${event.id}`.slice(0, 255), at };
        const change = changeTo(model, existing, next, base);
        rows.set(k, next);
        if (change) changes.push(change);
      }
      const written = changes.length > 0 ? await tx.write(changes) : [];
      if (cursor !== undefined && cursor !== null) await tx.putMeta(`${CURSOR_PREFIX}${options.source}`, cursor);
      return internalOutcome(written);
    });
    return { changes: outcome.changes, skipped };
  } finally {
    release();
  }
}

/**
 * Pulls a source's events: every `intervalMs`, and at once on `kick()` (a
 * push). One pull at a time; a kick during a pull runs another after it.
 */
export class EventPuller {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private unsupported = false;
  private cursor: string | null | undefined;
  private failing = false;

  constructor(
    private readonly options: EventApplierOptions & {
      client: SourceClient;
      intervalMs: number;
      readCursor(): Promise<string | null>;
    },
  ) {}

  start(): void {
    if (this.options.intervalMs > 0) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Pull now (after the pull under way, if any); resolves when that pull ended. */
  kick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pullAll();
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** Settles once no pull is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.kick().finally(() => this.schedule());
    }, this.options.intervalMs);
    this.timer.unref?.();
  }

  private async pullAll(): Promise<void> {
    if (this.unsupported || this.stopped) return;
    const { client, source } = this.options;
    try {
      let cursor: string | null = this.cursor === undefined ? await this.options.readCursor() : this.cursor;
      this.cursor = cursor;
      for (let pages = 0; pages < 100 && !this.stopped; pages++) {
        const page: SourceEventsResponse = await client.call({ type: 'events', source, cursor, limit: PAGE }, sourceEventsResponseSchema, { attempts: 1 });
        const next: string | null = page.nextCursor ?? cursor;
        if (page.events.length === 0 && next === cursor) break;
        await applyEvents(this.options, page.events, next);
        this.cursor = cursor = next;
        if (page.events.length < PAGE) break;
      }
      if (this.failing) this.options.log(`source ${source}: events are flowing again`);
      this.failing = false;
    } catch (err) {
      const code = (err as { details?: { sourceCode?: string } }).details?.sourceCode;
      if (code === 'not_supported') {
        this.unsupported = true;
        this.options.log(`source ${source}: it has no events handler; external writes reach the engine only when pushed with their rows`);
        return;
      }
      if (!this.failing) this.options.log(`source ${source}: pulling events failed: ${(err as Error).message}`);
      this.failing = true;
    }
  }
}
