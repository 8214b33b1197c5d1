/**
 * The fuzz suite's harness: a live engine in its own process (the built
 * package, logging to stderr), a snapshot of every row (read from its SQLite
 * file) plus lastSyncId, the checks every answer must pass, and the fast-check
 * parameters (seed, count, time budget).
 *
 * Replaying: every run prints its seed. `FUZZ_SEED=<seed>` replays a run;
 * with `FUZZ_PATH=<path>` (from fast-check's failure report) and vitest's
 * `-t '<test name>'` it replays the one failing input.
 * `FUZZ_RUNS=<n>` scales every property's count (e.g. 0.1 or 10), `FUZZ_TIME_MS`
 * its time budget.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';

const fcAssert = fc.assert;
import { expect } from 'vitest';
import { ERROR_TYPES } from '../../src/errors.js';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { defineSchema, model, z } from '../../src/schema/index.js';

/** The fuzzed schema: every field kind, a json field, a sync-group model. */
export const schema = defineSchema({
  notes: model({
    title: z.string().min(1).max(200),
    body: z.string().optional(),
    n: z.number().int().optional(),
    score: z.number().optional(),
    done: z.boolean().default(false),
    status: z.enum(['todo', 'doing', 'done']).default('todo'),
    at: z.iso.datetime().optional(),
    meta: z.json().optional(),
    tags: z.array(z.string()).optional(),
  }),
  tasks: model(
    { title: z.string(), projectId: z.string(), estimate: z.number().int().nullable().default(null) },
    {},
    { syncGroupFormat: 'project:{projectId}' },
  ),
});
export const MODELS = ['notes', 'tasks'] as const;

/** Every `type` a refusal may carry (src/errors.ts); `server_error` is a defect here. */
export const KNOWN_TYPES: ReadonlySet<string> = new Set(ERROR_TYPES.filter((t) => t !== 'server_error'));

export const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const path = process.env.FUZZ_PATH;
const scale = Number(process.env.FUZZ_RUNS ?? '1') || 1;

/** fast-check parameters: `runs` inputs or `timeMs`, whichever comes first (a replay runs without a time limit). */
export function fuzzParams(runs: number, timeMs: number): fc.Parameters<unknown> {
  const budget = Number(process.env.FUZZ_TIME_MS ?? timeMs);
  return {
    seed,
    numRuns: Math.max(1, Math.round(runs * scale)),
    ...(path ? { path, endOnFailure: true } : { interruptAfterTimeLimit: budget, markInterruptAsFailure: false }),
  } as fc.Parameters<unknown>;
}

export interface FuzzEngine {
  url: string;
  key: string;
  file: string;
  stderr(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

export async function startFuzzEngine(): Promise<FuzzEngine> {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-fuzz-'));
  const file = join(dir, 'fuzz.db');
  const key = generateApiKey();
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('./engine-child.mjs', import.meta.url))], {
    env: { ...process.env, ABLO_TEST_DB: file, ABLO_TEST_SCHEMA: JSON.stringify(schema.serialized), ABLO_TEST_KEY: key },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let gone = false;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<void>((r) => child.once('exit', () => ((gone = true), r())));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      if (buf.includes('\n')) resolve((JSON.parse(buf.split('\n')[0]!) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`engine exited early (${code}): ${err}`)));
  });
  return {
    url,
    key,
    file,
    stderr: () => err,
    exited: () => gone,
    async stop() {
      if (!gone) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every row of every model (straight from the SQLite file, read-only) and the engine's lastSyncId. */
export class Snapshots {
  private readonly db: Database.Database;
  constructor(private readonly engine: FuzzEngine) {
    this.db = new Database(engine.file, { readonly: true, fileMustExist: true });
  }

  rows(): string {
    const tables = this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name`).all() as Array<{ name: string }>;
    return JSON.stringify(tables.map((t) => [t.name, this.db.prepare(`SELECT * FROM "${t.name.replace(/"/g, '""')}" ORDER BY "id"`).raw().all()]));
  }

  async take(): Promise<{ rows: string; lastSyncId: number }> {
    return { rows: this.rows(), lastSyncId: await health(this.engine) };
  }

  close(): void {
    this.db.close();
  }
}

/** `GET /v1/health` answers 200; returns lastSyncId. */
export async function health(engine: FuzzEngine): Promise<number> {
  const res = await fetch(`${engine.url}/v1/health`);
  expect(res.status, 'the engine answers /v1/health').toBe(200);
  return ((await res.json()) as { lastSyncId: number }).lastSyncId;
}

/** `{ error: { type, code, message } }` with a known type (never server_error). */
export function expectTypedError(error: unknown, what: string): void {
  const e = error as { type?: unknown; code?: unknown; message?: unknown } | undefined;
  expect(e && typeof e === 'object', `${what}: an error envelope`).toBe(true);
  expect(KNOWN_TYPES.has(e!.type as string), `${what}: known error type, got ${JSON.stringify(e).slice(0, 300)}`).toBe(true);
  expect(typeof e!.code === 'string' && (e!.code as string).length > 0, `${what}: a code`).toBe(true);
  expect(typeof e!.message, `${what}: a message`).toBe('string');
}

/** Lines of the engine log that tell of an internal error or a stack trace. */
export function internalErrors(log: string): string[] {
  return log.split('\n').filter((l) => /internal error|^\s+at .*\(|Maximum call stack|uncaught|unhandled/i.test(l));
}

/** `fc.assert` with a failure report short enough to read (fuzz inputs can be megabytes). */
export async function assertFuzz(property: fc.IAsyncProperty<[unknown]> | fc.IAsyncProperty<any>, params: fc.Parameters<unknown>): Promise<void> {
  try {
    await fcAssert(property, params);
  } catch (err) {
    const e = err as Error & { cause?: unknown };
    const short = e.message
      .split('\n')
      .map((l) => (l.length > 1500 ? `${l.slice(0, 1500)}… (${l.length} chars)` : l))
      .join('\n');
    throw new Error(`${short}\nReplay: FUZZ_SEED=${seed} FUZZ_PATH=<path above> npx vitest run <this file> -t '<this test>'`, { cause: e.cause });
  }
}

/** What the property saw, printed at the end. */
export class Tally {
  count = 0;
  refused = 0;
  /** How often each outcome came back (status or error code). */
  readonly outcomes = new Map<string, number>();
  private readonly started = performance.now();
  constructor(readonly name: string) {}
  saw(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }
  report(): string {
    const top = [...this.outcomes].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, n]) => `${k} ${n}`).join(', ');
    const line = `fuzz ${this.name}: ${this.count} inputs (${this.refused} refused) in ${Math.round(performance.now() - this.started)} ms, seed ${seed}; ${top}`;
    console.log(line);
    return line;
  }
}

/** A path segment as a client would encode it; lone surrogates go out as (invalid) UTF-8 bytes. */
export function seg(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return Array.from(s)
      .map((c) => {
        try {
          return encodeURIComponent(c);
        } catch {
          const u = c.charCodeAt(0);
          return `%${(0xe0 | (u >> 12)).toString(16)}%${(0x80 | ((u >> 6) & 0x3f)).toString(16)}%${(0x80 | (u & 0x3f)).toString(16)}`.toUpperCase();
        }
      })
      .join('');
  }
}
