/**
 * The engine's current schema: load at start, plan and apply pushes. Pushes
 * run between commit transactions so no commit sees half a schema change.
 */
import { AbloSchemaError } from '../errors.js';
import { compileSchema, type CompiledSchema } from '../schema/compile.js';
import type { SerializedSchema } from '../schema/descriptor.js';
import { planSchemaChange, type SchemaPlan } from '../schema/plan.js';
import { parseSerializedSchema } from '../schema/serialize.js';
import type { PushResult } from '../protocol/api.js';
import type { Storage } from './storage/types.js';

export interface PushOptions {
  dryRun?: boolean;
  /** Apply destructive and needs-data changes too. */
  allowDestructive?: boolean;
  /** `{ 'tasks.title': 'tasks.name' }` or `{ 'todos': 'tasks' }`. */
  renames?: Record<string, string>;
}

/** What a push did (the protocol's answer shape, src/protocol/api.ts). */
export type { PushResult };

/** Runs a job alone, between commit transactions (the commit batcher). */
export interface WriteQueue {
  exclusive<T>(run: () => Promise<T>): Promise<T>;
}

export class SchemaService {
  private compiled: CompiledSchema | null = null;
  private version = 0;
  private listeners = new Set<(schema: CompiledSchema) => void>();

  constructor(
    private readonly storage: Storage,
    private readonly writes: WriteQueue,
  ) {}

  async load(): Promise<void> {
    const stored = await this.storage.getSchema();
    if (stored) {
      this.compiled = compileSchema(stored.serialized);
      this.version = stored.version;
    }
    // Another engine process on the same database pushed: take its schema before the next commit is planned.
    this.storage.onSchemaLoaded?.((record) => {
      if (record.version === this.version) return;
      this.compiled = compileSchema(record.serialized);
      this.version = record.version;
      for (const l of this.listeners) l(this.compiled);
    });
  }

  current(): CompiledSchema | null {
    return this.compiled;
  }

  currentVersion(): number {
    return this.version;
  }

  onChange(listener: (schema: CompiledSchema) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Plan (with live data stats) and, when allowed, apply. */
  push(input: unknown, options: PushOptions = {}): Promise<PushResult> {
    const next = parseSerializedSchema(input);
    return this.writes.exclusive(async () => {
      const current = this.compiled?.serialized ?? null;
      // Taken with `current`: another process's push may be loaded while this one plans.
      const baseVersion = this.version;
      if (current && current.hash === next.hash) {
        // Unchanged: nothing to plan, and no table scans for stats (engine starts stay fast on big data).
        return { plan: { changes: [], safe: true, counts: { safe: 0, destructive: 0, 'needs-data': 0 } }, applied: false, version: this.version, hash: next.hash };
      }
      const stats = current ? await this.storage.collectStats(current) : {};
      let plan: SchemaPlan;
      try {
        plan = planSchemaChange(current, next, { stats, renames: options.renames ?? {} });
      } catch (err) {
        if (err instanceof AbloSchemaError) throw err;
        throw new AbloSchemaError(`Could not plan the schema change: ${(err as Error).message}`, { code: 'plan_failed' });
      }
      const hash = next.hash;
      if (plan.changes.length === 0) {
        return { plan, applied: false, version: this.version, hash };
      }
      if (options.dryRun) return { plan, applied: false, reason: 'dry_run', version: this.version, hash: current?.hash ?? '' };
      if (!plan.safe && !options.allowDestructive) {
        return { plan, applied: false, reason: 'needs_confirmation', version: this.version, hash: current?.hash ?? '' };
      }
      // The version planned against: a storage shared by several processes refuses the plan if another pushed since.
      const record = await this.storage.applySchema(plan, next, baseVersion);
      this.compiled = compileSchema(record.serialized);
      this.version = record.version;
      for (const l of this.listeners) l(this.compiled);
      return { plan, applied: true, version: record.version, hash: record.serialized.hash };
    });
  }

  serialized(): SerializedSchema | null {
    return this.compiled?.serialized ?? null;
  }
}
