/**
 * Data Source mode, put together for one engine: a client per source (HTTP
 * to its `url`, or the reverse channel), row locks, the commit path for
 * source models (`SourceCommitter`), events (pulled and pushed), and the
 * start-up work per source: finish journaled commits, reconcile the cache
 * with the source's rows (`list`), then pull events.
 *
 * The engine's own storage is the cache of source rows: bootstrap, fanout,
 * the stale guard and claims read it as they read local rows.
 */
import { abloError, AbloValidationError } from '../../errors.js';
import type { SourceEvent } from '../../protocol/source.js';
import { sourceListResponseSchema } from '../../protocol/source.js';
import type { CompiledSchema } from '../../schema/compile.js';
import { secretList } from '../../source/signature.js';
import type { Guard } from '../auth/guard.js';
import type { CommitBatcher } from '../commit/batcher.js';
import type { CommitInput, CommitOutcome } from '../commit/types.js';
import type { ChangeFeed, PlannedChange, Storage } from '../storage/types.js';
import { HttpSourceTransport, SourceClient } from './client.js';
import { cacheRows, internalOutcome, SourceCommitter } from './committer.js';
import { SOURCE_NAME, type SourceConfig, type SourcesConfig } from './config.js';
import { ConnectorHub } from './connectors.js';
import { applyEvents, CURSOR_PREFIX, EventPuller, type AppliedEvents } from './events.js';
import { RowLocks, WHOLE_SOURCE } from './locks.js';
import { sourceParticipant } from './rows.js';

export interface SourceServiceOptions {
  sources: SourcesConfig;
  batcher: CommitBatcher;
  storage: Storage;
  feed: Pick<ChangeFeed, 'head'>;
  schema: { current(): CompiledSchema | null };
  guard: Guard;
  log: (line: string) => void;
  idempotencyWindowMs?: number;
  version: string;
}

/** What `/v1/health` says of a source. */
export interface SourceStatus {
  transport: 'http' | 'reverse_channel';
  models: string[];
  connected?: boolean;
  ready: boolean;
  lastError: string | null;
}

/** `sources` checked: a bad entry is an `invalid_option` error before anything opens. */
export function checkSources(sources: SourcesConfig): void {
  const owner = new Map<string, string>();
  const bad = (field: string, message: string): never => {
    throw new AbloValidationError(message, { code: 'invalid_option', field });
  };
  for (const [name, config] of Object.entries(sources)) {
    if (!SOURCE_NAME.test(name)) bad(`sources.${name}`, `Source name "${name}" must be lowercase letters, digits, - and _ (starting with a letter).`);
    if (config.url !== undefined) {
      let url: URL | null = null;
      try {
        url = new URL(config.url);
      } catch {
        url = null;
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) bad(`sources.${name}.url`, `Source "${name}": url must be an http(s) URL, not ${JSON.stringify(config.url)}.`);
    }
    if (!Array.isArray(config.models) || config.models.length === 0) bad(`sources.${name}.models`, `Source "${name}" names no models.`);
    for (const model of config.models) {
      const other = owner.get(model);
      if (other) bad(`sources.${name}.models`, `Model "${model}" is in two sources ("${other}" and "${name}"); a model has one system of record.`);
      owner.set(model, name);
    }
    try {
      secretList(config.signingSecret);
    } catch {
      bad(`sources.${name}.signingSecret`, `Source "${name}" has no signing secret (whsec_…).`);
    }
  }
}

export class SourceService {
  readonly hub: ConnectorHub | null;
  readonly committer: SourceCommitter;
  private readonly clients = new Map<string, SourceClient>();
  private readonly locks = new Map<string, RowLocks>();
  private readonly modelSource = new Map<string, string>();
  private readonly pullers = new Map<string, EventPuller>();
  private readonly status = new Map<string, SourceStatus>();
  private readonly starting = new Map<string, Promise<void>>();
  private closed = false;

  constructor(private readonly options: SourceServiceOptions) {
    checkSources(options.sources);
    const viaConnector = new Set(Object.entries(options.sources).filter(([, c]) => !c.url).map(([n]) => n));
    this.hub = viaConnector.size > 0 ? new ConnectorHub(viaConnector, options.guard, options.log) : null;
    for (const [name, config] of Object.entries(options.sources)) {
      const transport = config.url ? new HttpSourceTransport(config.url) : this.hub!.transport(name);
      this.clients.set(name, new SourceClient(name, config, transport, `ablo-engine/${options.version}`));
      this.locks.set(name, new RowLocks());
      for (const model of config.models) this.modelSource.set(model, name);
      this.status.set(name, { transport: config.url ? 'http' : 'reverse_channel', models: [...config.models], ready: false, lastError: null });
      this.pullers.set(
        name,
        new EventPuller({
          ...this.applier(name, config),
          client: this.client(name),
          intervalMs: config.pollIntervalMs ?? 2000,
          readCursor: async () => (await options.storage.listMeta(`${CURSOR_PREFIX}${name}`)).find((r) => r.key === `${CURSOR_PREFIX}${name}`)?.value ?? null,
        }),
      );
    }
    this.committer = new SourceCommitter({
      batcher: options.batcher,
      storage: options.storage,
      schema: options.schema,
      client: (name) => this.client(name),
      locks: (name) => this.locks.get(name)!,
      log: options.log,
      ...(options.idempotencyWindowMs !== undefined ? { idempotencyWindowMs: options.idempotencyWindowMs } : {}),
    });
  }

  names(): string[] {
    return [...this.clients.keys()];
  }

  has(name: string): boolean {
    return this.clients.has(name);
  }

  client(name: string): SourceClient {
    const client = this.clients.get(name);
    if (!client) throw abloError('source_not_found', { name });
    return client;
  }

  config(name: string): SourceConfig {
    const config = this.options.sources[name];
    if (!config) throw abloError('source_not_found', { name });
    return config;
  }

  health(): Record<string, SourceStatus> {
    const out: Record<string, SourceStatus> = {};
    for (const [name, s] of this.status) out[name] = { ...s, ...(s.transport === 'reverse_channel' ? { connected: this.hub!.connected(name) } : {}) };
    return out;
  }

  /**
   * Where a commit goes: null when it writes no source model (the local path);
   * a source's commit path when every row it writes is that source's; a mix is
   * refused (`mixed_storage_batch`), writing nothing.
   */
  route(input: CommitInput): Promise<CommitOutcome> | null {
    const ops = (input.request as { operations?: unknown }).operations;
    if (!Array.isArray(ops) || ops.length === 0) return null;
    const owners = new Set<string | null>();
    for (const op of ops as Array<{ model?: unknown }>) owners.add(typeof op?.model === 'string' ? (this.modelSource.get(op.model) ?? null) : null);
    if (owners.size === 1 && owners.has(null)) return null;
    if (owners.size > 1) {
      return Promise.reject(
        abloError('mixed_storage_batch', { sources: [...owners].map((o) => o ?? '(engine storage)') }),
      );
    }
    const source = [...owners][0]!;
    return this.committer.submit(input, source);
  }

  /** Events the app pushed (already verified), then a pull. */
  async pushed(name: string, events: readonly SourceEvent[]): Promise<AppliedEvents> {
    const applied = events.length > 0 ? await applyEvents(this.applier(name, this.config(name)), events) : { changes: [], skipped: 0 };
    void this.pullers.get(name)!.kick();
    return applied;
  }

  /** Pull `name`'s events now; resolves when done. */
  pull(name: string): Promise<void> {
    return this.pullers.get(name)!.kick();
  }

  /** Start every source in the background: journal, reconcile, events. */
  start(): void {
    for (const name of this.clients.keys()) this.starting.set(name, this.startSource(name));
  }

  /**
   * Resolves once every source finished its start-up work; a source still not ready after `timeoutMs`
   * (default 30 s: unreachable, refusing, schema without its models) rejects with `source_unavailable`
   * naming it and its last error. The engine keeps trying in the background either way.
   */
  async ready(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const waiting = [...this.status].filter(([, s]) => !s.ready);
        const [name, s] = waiting[0] ?? ['', { lastError: null }];
        reject(abloError('source_unavailable', { source: name, reason: s.lastError ?? 'still starting', waiting: waiting.map(([n]) => n) }));
      }, timeoutMs);
      timer.unref?.();
    });
    try {
      await Promise.race([Promise.all(this.starting.values()), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private applier(name: string, config: SourceConfig) {
    return {
      source: name,
      models: new Set(config.models),
      batcher: this.options.batcher,
      schema: this.options.schema,
      locks: this.locks.get(name)!,
      log: this.options.log,
    };
  }

  private async startSource(name: string): Promise<void> {
    const config = this.config(name);
    const status = this.status.get(name)!;
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        const schema = this.options.schema.current();
        const missing = config.models.filter((m) => !schema?.models[m]);
        if (missing.length > 0) {
          throw Object.assign(new Error(`the schema has no model ${missing.map((m) => `"${m}"`).join(', ')} (push the schema first)`), { schemaPending: true });
        }
        const recovered = await this.committer.recover(name);
        if (recovered > 0) this.options.log(`source ${name}: applied ${recovered} commit(s) the source confirmed before the engine stopped`);
        await this.reconcile(name);
        await this.pullers.get(name)!.kick();
        status.ready = true;
        status.lastError = null;
        this.pullers.get(name)!.start();
        return;
      } catch (err) {
        const message = (err as Error).message;
        // A schema pushed just after start (`ablo dev` does) is not worth a line: said only if it is still missing.
        const quiet = (err as { schemaPending?: boolean }).schemaPending === true && attempt < 4;
        if (status.lastError !== message && !quiet) this.options.log(`source ${name}: not ready: ${message}`);
        if (!quiet) status.lastError = message;
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** Math.min(attempt, 6))).unref?.());
      }
    }
  }

  /**
   * The cache made equal to the source: every row `list` gives is cached (a
   * change where it differs), and a cached row the source no longer has is
   * deleted, if nothing wrote it since the reconcile began. A source without
   * `list` is skipped (its rows come through commits, `load` and events).
   */
  private async reconcile(name: string): Promise<void> {
    const schema = this.options.schema.current()!;
    const head = this.options.feed.head();
    const locks = this.locks.get(name)!;
    for (const model of this.config(name).models) {
      const seen = new Set<string>();
      let cursor: string | null = null;
      try {
        for (;;) {
          const page: { rows: Array<Record<string, unknown>>; nextCursor: string | null } = await this.client(name).call(
            { type: 'list', source: name, model, cursor, limit: 500 },
            sourceListResponseSchema,
          );
          const release = await locks.acquire([WHOLE_SOURCE]);
          try {
            await cacheRows(this.options.batcher, name, schema, model, page.rows, new Date());
          } finally {
            release();
          }
          for (const r of page.rows) seen.add(r.id as string);
          if (!page.nextCursor || page.rows.length === 0) break;
          cursor = page.nextCursor;
        }
      } catch (err) {
        if ((err as { details?: { sourceCode?: string } }).details?.sourceCode === 'not_supported') continue;
        throw err;
      }
      await this.sweep(name, schema, model, seen, head);
    }
  }

  /** Delete cached rows of `model` the source did not list (written at or before `head`). */
  private async sweep(name: string, schema: CompiledSchema, model: string, seen: ReadonlySet<string>, head: number): Promise<void> {
    const compiled = schema.model(model);
    const gone: string[] = [];
    for (let after: string | null = null; ; ) {
      const rows = await this.options.storage.scanRows(model, after, 1000);
      for (const r of rows) if (!seen.has(r.id) && r.syncId <= head) gone.push(r.id);
      if (rows.length < 1000) break;
      after = rows[rows.length - 1]!.id;
    }
    if (gone.length === 0) return;
    const release = await this.locks.get(name)!.acquire([WHOLE_SOURCE]);
    try {
      const at = new Date().toISOString();
      await this.options.batcher.submit(async (tx) => {
        const changes: PlannedChange[] = [];
        for (const id of gone) {
          const row = await tx.getRow(model, id);
          if (!row || row.syncId > head) continue;
          changes.push({
            participant: sourceParticipant(name),
            clientTxId: null,
            commitId: `reconcile_${name}`,
            at,
            model,
            id,
            action: 'delete',
            fields: compiled.fieldNames.slice(),
            data: null,
            groups: compiled.syncGroups(row),
          });
        }
        return internalOutcome(changes.length > 0 ? await tx.write(changes) : []);
      });
    } finally {
      release();
    }
  }

  close(): void {
    this.closed = true;
    for (const p of this.pullers.values()) p.stop();
    this.hub?.close();
  }
}
