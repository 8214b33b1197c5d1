/**
 * PostgresFeed on a real Postgres database: a change log and a head row like
 * the Postgres storage's, written by test writers that do what a storage
 * process does in each write transaction (take the head row lock first,
 * insert change-log rows with the next ids, move the head, pg_notify the
 * last id, commit), from several clients at once; feeds as separate
 * processes would run them (each with its own reads pool and LISTEN
 * connection).
 */
import { createServer, connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import type { ChangeLogReads } from '../../../src/engine/storage/feed.js';
import { feedChannel, PostgresFeed, type PostgresFeedOptions } from '../../../src/engine/storage/postgres-feed.js';
import type { ChangeBatch, ChangeRecord } from '../../../src/engine/storage/types.js';
import { ADMIN_URL, createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { prng } from '../../helpers/prng.js';

let db: TestDatabase;
/** Connected to the test database: DDL and direct writes. */
let ddl: pg.Client;
/** Connected to the server's `postgres` database: pg_stat_activity, pg_terminate_backend. */
let admin: pg.Client;
let schemas = 0;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  db = await createTestDatabase();
  ddl = new pg.Client({ connectionString: db.url });
  await ddl.connect();
  admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
});

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

afterAll(async () => {
  await ddl?.end();
  await admin?.end();
  await db?.drop();
});

const AT = '2026-01-01T00:00:00.000Z';

/** A schema of the test's own with the change log, the head row and the floor. */
async function createLog(): Promise<string> {
  const s = `feed${++schemas}`;
  await ddl.query(`
    CREATE SCHEMA ${s};
    CREATE TABLE ${s}.head (one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL);
    INSERT INTO ${s}.head (seq) VALUES (0);
    CREATE TABLE ${s}.floor (one boolean PRIMARY KEY DEFAULT true CHECK (one), id bigint NOT NULL);
    INSERT INTO ${s}.floor (id) VALUES (0);
    CREATE TABLE ${s}.log (
      sync_id bigint PRIMARY KEY, commit_id text NOT NULL, model text NOT NULL, row_id text NOT NULL,
      action text NOT NULL, fields jsonb NOT NULL, data jsonb, groups jsonb NOT NULL,
      participant jsonb NOT NULL, client_tx_id text, at text NOT NULL
    );`);
  return s;
}

function record(syncId: number, commitId: string, group: string): ChangeRecord {
  const id = `r${syncId}`;
  return {
    syncId,
    commitId,
    model: 'task',
    id,
    action: 'create',
    fields: ['title'],
    data: { id, createdAt: AT, updatedAt: AT, syncId, title: commitId },
    groups: [group],
    participant: { kind: 'agent', id: commitId },
    clientTxId: null,
    at: AT,
  };
}

function fromRow(r: Record<string, unknown>): ChangeRecord {
  return {
    syncId: Number(r.sync_id),
    commitId: r.commit_id as string,
    model: r.model as string,
    id: r.row_id as string,
    action: r.action as ChangeRecord['action'],
    fields: r.fields as string[],
    data: r.data as ChangeRecord['data'],
    groups: r.groups as string[],
    participant: r.participant as ChangeRecord['participant'],
    clientTxId: r.client_tx_id as string | null,
    at: r.at as string,
  };
}

async function insertRecords(c: pg.Client, s: string, records: readonly ChangeRecord[]): Promise<void> {
  const params: unknown[] = [];
  const values = records.map((r) => {
    const row = [r.syncId, r.commitId, r.model, r.id, r.action, JSON.stringify(r.fields), JSON.stringify(r.data), JSON.stringify(r.groups), JSON.stringify(r.participant), r.clientTxId, r.at];
    const start = params.length;
    params.push(...row);
    return `(${row.map((_, i) => `$${start + i + 1}`).join(', ')})`;
  });
  await c.query(`INSERT INTO ${s}.log VALUES ${values.join(', ')}`, params);
}

/** The change-log reads a storage process has (its own small pool), with a gate a test can close. */
class TestLog implements ChangeLogReads {
  readonly calls: Array<{ after: number; limit: number }> = [];
  private gate: Promise<void> | null = null;
  private openGate: (() => void) | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly s: string,
  ) {}

  /** Reads started from now on wait until `open()` (they still run against the database then). */
  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }

  open(): void {
    this.openGate?.();
    this.gate = null;
  }

  async after(afterSyncId: number, limit: number): Promise<ChangeRecord[]> {
    this.calls.push({ after: afterSyncId, limit });
    if (this.gate) await this.gate;
    const { rows } = await this.pool.query(`SELECT * FROM ${this.s}.log WHERE sync_id > $1 ORDER BY sync_id LIMIT $2`, [afterSyncId, limit]);
    return rows.map(fromRow);
  }

  async afterInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM ${this.s}.log WHERE sync_id > $1 AND sync_id <= $2 AND groups ?| $3::text[] ORDER BY sync_id LIMIT $4`,
      [afterSyncId, upToSyncId, groups, limit],
    );
    return rows.map(fromRow);
  }

  async floor(): Promise<number> {
    const { rows } = await this.pool.query(`SELECT id FROM ${this.s}.floor`);
    return Number(rows[0].id);
  }
}

/** Commits like a storage process: head row lock first, consecutive ids, head moved, pg_notify, COMMIT. */
class TestWriter {
  commits = 0;
  constructor(
    private readonly client: pg.Client,
    private readonly s: string,
    private readonly name: string,
    private readonly notify = true,
  ) {}

  async commit(n: number): Promise<ChangeRecord[]> {
    const c = this.client;
    await c.query('BEGIN');
    try {
      const { rows } = await c.query(`SELECT seq FROM ${this.s}.head FOR UPDATE`);
      const first = Number(rows[0].seq) + 1;
      const commitId = `${this.name}.${++this.commits}`;
      const records = Array.from({ length: n }, (_, i) => record(first + i, commitId, `g${(first + i) % 3}`));
      await insertRecords(c, this.s, records);
      await c.query(`UPDATE ${this.s}.head SET seq = $1`, [first + n - 1]);
      if (this.notify) await c.query('SELECT pg_notify($1, $2)', [`${this.s}_changes`, String(first + n - 1)]);
      await c.query('COMMIT');
      return records;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }
}

interface Process {
  feed: PostgresFeed;
  log: TestLog;
  /** Every batch the subscriber got, in order. */
  batches: ChangeBatch[];
  /** Lines the feed logged, with its head at the time. */
  lines: Array<{ line: string; head: number }>;
  appName: string;
  writer(notify?: boolean): Promise<TestWriter>;
}

/** One "engine process": its reads pool, its feed (started at `head`), a subscriber; cleaned up after the test. */
async function startProcess(s: string, name: string, options: Partial<PostgresFeedOptions> & { head?: number } = {}): Promise<Process> {
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  cleanups.push(() => pool.end());
  const log = new TestLog(pool, s);
  const appName = `feed-${s}-${name}`;
  const lines: Process['lines'] = [];
  const feed: PostgresFeed = new PostgresFeed({
    reads: log,
    connect: () => new pg.Client({ connectionString: db.url, application_name: appName }),
    channel: feedChannel(s),
    pollMs: 500,
    floor: () => log.floor(),
    log: (line) => lines.push({ line, head: feed.head() }),
    ...options,
  });
  cleanups.push(() => feed.stop());
  const batches: ChangeBatch[] = [];
  feed.subscribe(() => {
    throw new Error('a listener that throws does not stop the others');
  });
  feed.subscribe((batch) => batches.push(batch));
  await feed.start(options.head ?? 0);
  let writers = 0;
  const writer = async (notify = true): Promise<TestWriter> => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    cleanups.push(() => c.end());
    return new TestWriter(c, s, `${name}${++writers}`, notify);
  };
  return { feed, log, batches, lines, appName, writer };
}

const idsOf = (batches: readonly ChangeBatch[]): number[] => batches.flatMap((b) => b.changes.map((c) => c.syncId));
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every batch is well formed: lastSyncId is its last change's, its ids follow each other. */
function expectWellFormed(batches: readonly ChangeBatch[]): void {
  for (const b of batches) {
    expect(b.lastSyncId).toBe(b.changes[b.changes.length - 1]!.syncId);
    expect(b.changes.map((c) => c.syncId)).toEqual(range(b.changes[0]!.syncId, b.lastSyncId));
  }
}

async function backendsNamed(appName: string): Promise<number[]> {
  const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [db.name, appName]);
  return rows.map((r) => r.pid as number);
}

/**
 * A TCP proxy to the Postgres server whose open connections can be frozen:
 * they stay open but carry nothing more (a NAT or load balancer that dropped
 * an idle connection without telling either end). New connections pass.
 */
async function startFreezableProxy(): Promise<{ url: string; freeze(): void }> {
  const pairs: Array<[Socket, Socket]> = [];
  const target = new URL(db.url);
  const server = createServer((down) => {
    const up = tcpConnect(Number(target.port || 5432), target.hostname);
    down.pipe(up);
    up.pipe(down);
    const close = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('error', close).on('close', close);
    up.on('error', close).on('close', close);
    pairs.push([down, up]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const [down, up] of pairs) {
      down.destroy();
      up.destroy();
    }
    await new Promise((resolve) => server.close(resolve));
  });
  const url = new URL(db.url);
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    freeze() {
      for (const [down, up] of pairs.splice(0)) {
        down.unpipe(up);
        up.unpipe(down);
        down.pause();
        up.pause();
        cleanups.push(async () => {
          down.destroy();
          up.destroy();
        });
      }
    },
  };
}

describe('PostgresFeed', () => {
  test('three processes with concurrent writers on each: every subscriber gets 1..N exactly once, in order', async () => {
    const s = await createLog();
    const procs = await Promise.all(['a', 'b', 'c'].map((n) => startProcess(s, n)));
    const random = prng(13);
    let total = 0;
    const late: string[] = [];
    const run = async (proc: Process, writer: TestWriter, commits: number, sizes: number[]): Promise<void> => {
      for (let i = 0; i < commits; i++) {
        const records = await writer.commit(sizes[i]!);
        // As the storage does after its COMMIT: then the receipt.
        await proc.feed.committed(records);
        const last = records[records.length - 1]!.syncId;
        if (proc.feed.head() < last || !idsOf(proc.batches).includes(last)) late.push(`${last} on ${proc.appName}`);
      }
    };
    const jobs: Array<Promise<void>> = [];
    for (const proc of procs) {
      for (let w = 0; w < 2; w++) {
        const writer = await proc.writer();
        const sizes = Array.from({ length: 30 }, () => 1 + Math.floor(random() * 3));
        total += sizes.reduce((a, b) => a + b, 0);
        jobs.push(run(proc, writer, 30, sizes));
      }
    }
    await Promise.all(jobs);
    await vi.waitFor(() => expect(procs.map((p) => p.feed.head())).toEqual([total, total, total]), { timeout: 10_000 });
    expect(late).toEqual([]);
    for (const p of procs) {
      expect(idsOf(p.batches)).toEqual(range(1, total));
      expectWellFormed(p.batches);
      expect(p.batches.some((b) => b.gap)).toBe(false);
      const stats = p.feed.stats();
      expect(stats.gaps).toBe(0);
      expect(stats.announcedOwn + stats.announcedFromLog).toBe(total);
      expect(stats.announcedOwn).toBeGreaterThan(0);
      expect(stats.announcedFromLog).toBeGreaterThan(0);
      expect(p.lines).toEqual([]);
    }
  });

  test("own commits are announced before committed() returns, or after the ids another process committed in between", async () => {
    const s = await createLog();
    const a = await startProcess(s, 'a', { pollMs: 1000 });
    const mine = await a.writer();
    const other = await a.writer(false); // another process's writer: this feed is not told, and it does not notify

    // Reads wait (the commit's notification may come before committed() is called; its read then finds them announced).
    a.log.hold();
    const first = await mine.commit(2);
    expect(a.feed.committed(first)).toBeUndefined();
    expect(idsOf(a.batches)).toEqual([1, 2]);
    a.log.open();
    await vi.waitFor(() => expect(a.feed.stats().notifications).toBe(1));

    a.log.hold();
    await other.commit(3);
    const second = await mine.commit(2);
    const announced = a.feed.committed(second);
    expect(announced).toBeInstanceOf(Promise);
    expect(idsOf(a.batches)).toEqual([1, 2]); // not before 3..5
    a.log.open();
    await announced;
    expect(idsOf(a.batches)).toEqual(range(1, 7));
    expectWellFormed(a.batches);
    expect(a.feed.stats().ownWaited).toBe(1);

    // A notification for ids announced by committed() reads nothing new (or nothing at all: its id is at the head).
    await vi.waitFor(() => expect(a.feed.stats().notifications).toBe(2));
    const third = await mine.commit(1);
    expect(a.feed.committed(third)).toBeUndefined();
    await vi.waitFor(() => expect(a.feed.stats().notifications).toBe(3));
    const skipped = a.feed.stats().notificationsSkipped;
    await ddl.query('SELECT pg_notify($1, $2)', [`${s}_changes`, '8']); // a late hint for an id at the head: no read
    await vi.waitFor(() => expect(a.feed.stats().notificationsSkipped).toBe(skipped + 1));
    await new Promise((r) => setTimeout(r, 1100)); // and a poll reads
    expect(a.feed.stats().polls).toBeGreaterThan(0);
    expect(idsOf(a.batches)).toEqual(range(1, 8));
    expect(a.lines).toEqual([]);
  });

  test('notifications while a read runs make one more read, not one each', async () => {
    const s = await createLog();
    const a = await startProcess(s, 'a', { pollMs: 1000 });
    const other = await a.writer();
    a.log.hold();
    const before = a.log.calls.length;
    for (let i = 0; i < 20; i++) await other.commit(1);
    await vi.waitFor(() => expect(a.feed.stats().notifications).toBe(20));
    a.log.open();
    await vi.waitFor(() => expect(a.feed.head()).toBe(20));
    // The held read, the one more read the notifications asked for, and at most one poll.
    expect(a.log.calls.length - before).toBeGreaterThanOrEqual(1);
    expect(a.log.calls.length - before).toBeLessThanOrEqual(3);
    expect(idsOf(a.batches)).toEqual(range(1, 20));
  });

  test('reads are paged: a long catch-up arrives in order, page by page', async () => {
    const s = await createLog();
    const quiet = await startProcess(s, 'w');
    const w = await quiet.writer(false);
    for (let i = 0; i < 5; i++) await w.commit(9);
    const a = await startProcess(s, 'a', { pageSize: 10 });
    expect(a.feed.head()).toBe(45); // start() resolves after catching up
    expect(idsOf(a.batches)).toEqual(range(1, 45));
    expect(a.batches.map((b) => b.changes.length)).toEqual([10, 10, 10, 10, 5]);
    expect(a.log.calls.every((c) => c.limit === 10)).toBe(true);
  });

  test('a commit whose notification is lost is announced by the poll', async () => {
    const s = await createLog();
    const a = await startProcess(s, 'a', { pollMs: 200 });
    const silent = await a.writer(false);
    for (let i = 0; i < 10; i++) await silent.commit(1);
    await vi.waitFor(() => expect(a.feed.head()).toBe(10), { timeout: 5000 });
    expect(a.feed.stats().notifications).toBe(0);
    expect(a.feed.stats().polls).toBeGreaterThan(0);
    expect(idsOf(a.batches)).toEqual(range(1, 10));
  });

  test('failing reads are logged once, retried by the poll, and catch up when the log reads again', async () => {
    const s = await createLog();
    const a = await startProcess(s, 'a', { pollMs: 100 });
    // Three changes committed together with the log going away (reads fail with "relation does not exist").
    await ddl.query('BEGIN');
    await insertRecords(ddl, s, [1, 2, 3].map((id) => record(id, 'x', 'g0')));
    await ddl.query(`UPDATE ${s}.head SET seq = 3; ALTER TABLE ${s}.log RENAME TO log_away`);
    await ddl.query('COMMIT');
    await vi.waitFor(() => expect(a.feed.stats().readErrors).toBeGreaterThanOrEqual(3), { timeout: 5000 });
    expect(a.feed.head()).toBe(0);
    await ddl.query(`ALTER TABLE ${s}.log_away RENAME TO log`);
    await vi.waitFor(() => expect(a.feed.head()).toBe(3), { timeout: 5000 });
    expect(idsOf(a.batches)).toEqual([1, 2, 3]);
    const lines = a.lines.map((l) => l.line);
    expect(lines.filter((l) => l.includes('failed (') && l.includes('does not exist'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('works again'))).toHaveLength(1);
  });

  test('the LISTEN connection terminated mid-stream reconnects and catches up', async () => {
    const s = await createLog();
    const a = await startProcess(s, 'a');
    const writers = [await a.writer(), await a.writer()];
    const [pid] = await backendsNamed(a.appName);
    expect(pid).toBeTypeOf('number');
    let terminated = false;
    const jobs = writers.map(async (w, i) => {
      for (let n = 0; n < 40; n++) {
        await w.commit(1);
        if (i === 0 && n === 15) {
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
          terminated = true;
        }
      }
    });
    await Promise.all(jobs);
    expect(terminated).toBe(true);
    await vi.waitFor(() => expect(a.feed.stats()).toMatchObject({ head: 80, listening: true, reconnects: 1 }), { timeout: 10_000 });
    expect(a.lines.some(({ line }) => line.includes('LISTEN connection') && line.includes('lost'))).toBe(true);
    const [newPid] = await backendsNamed(a.appName);
    expect(newPid).not.toBe(pid);
    // LISTENing again: a new commit comes with its notification.
    const heard = a.feed.stats().notifications;
    await writers[0]!.commit(1);
    await vi.waitFor(() => expect(a.feed.stats().notifications).toBeGreaterThan(heard));
    await vi.waitFor(() => expect(a.feed.head()).toBe(81));
    expect(idsOf(a.batches)).toEqual(range(1, 81));
    expectWellFormed(a.batches);
  });

  test('a LISTEN connection that goes silent without closing is found by the ping and replaced', async () => {
    const s = await createLog();
    const proxy = await startFreezableProxy();
    const appName = `feed-${s}-silent`;
    const a = await startProcess(s, 'a', {
      pollMs: 1000,
      pingMs: 100,
      pingTimeoutMs: 300,
      connect: () => new pg.Client({ connectionString: proxy.url, application_name: appName }),
    });
    const w = await a.writer();
    await w.commit(1);
    await vi.waitFor(() => expect(a.feed.stats().notifications).toBe(1));
    proxy.freeze();
    await w.commit(1); // its notification goes nowhere
    await vi.waitFor(() => expect(a.feed.stats()).toMatchObject({ reconnects: 1, listening: true }), { timeout: 5000 });
    expect(a.lines.some(({ line }) => line.includes('no answer to a ping'))).toBe(true);
    await vi.waitFor(() => expect(a.feed.head()).toBe(2)); // the catch-up read after the reconnect (or a poll)
    const heard = a.feed.stats().notifications;
    await w.commit(1);
    await vi.waitFor(() => expect(a.feed.stats().notifications).toBeGreaterThan(heard));
    await vi.waitFor(() => expect(a.feed.head()).toBe(3));
    expect(idsOf(a.batches)).toEqual([1, 2, 3]);
  });

  test('stop() leaves no connection open, even while reconnecting', async () => {
    const s = await createLog();
    const a = await startProcess(s, 'a');
    expect(await backendsNamed(a.appName)).toHaveLength(1);
    await a.feed.stop();
    await vi.waitFor(async () => expect(await backendsNamed(a.appName)).toEqual([]));

    const b = await startProcess(s, 'b');
    const [pid] = await backendsNamed(b.appName);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await vi.waitFor(() => expect(b.feed.stats().listening).toBe(false));
    await b.feed.stop();
    await new Promise((r) => setTimeout(r, 400)); // past the first reconnect's backoff
    expect(await backendsNamed(b.appName)).toEqual([]);
    expect(b.feed.stats().reconnects).toBe(0);
  });

  test('a gap in the log is reported with both ids and counted, then announced flagged after a poll', async () => {
    const s = await createLog();
    const a = await startProcess(s, 'a', { pollMs: 200 });
    const w = await a.writer();
    await w.commit(2);
    await vi.waitFor(() => expect(a.feed.head()).toBe(2));
    // A broken writer: id 4 without 3.
    await insertRecords(ddl, s, [record(4, 'broken', 'g0')]);
    await ddl.query(`UPDATE ${s}.head SET seq = 4`);
    await ddl.query('SELECT pg_notify($1, $2)', [`${s}_changes`, '4']);
    await vi.waitFor(() => expect(a.feed.stats().gaps).toBe(1));
    const report = a.lines.find(({ line }) => line.includes('BUG'))!;
    expect(report.line).toContain('the head is 2 but the next sync id in the change log is 4');
    expect(report.head).toBe(2); // nothing past the head was announced when it was found
    await vi.waitFor(() => expect(a.feed.head()).toBe(4));
    const flagged = a.batches[a.batches.length - 1]!;
    expect(flagged.gap).toEqual({ after: 2, reason: 'missing' });
    expect(flagged.changes.map((c) => c.syncId)).toEqual([4]);
    // The feed goes on; the missing id, if it ever shows up, is not announced below the head.
    await insertRecords(ddl, s, [record(3, 'late', 'g0')]);
    await w.commit(1);
    await vi.waitFor(() => expect(a.feed.head()).toBe(5));
    expect(idsOf(a.batches)).toEqual([1, 2, 4, 5]);
    expect(a.feed.stats().gaps).toBe(1);
  });

  test('ids pruned below the floor before a far-behind process read them are skipped, flagged as pruned', async () => {
    const s = await createLog();
    const quiet = await startProcess(s, 'w');
    const w = await quiet.writer();
    for (let i = 0; i < 5; i++) await w.commit(2);
    await ddl.query(`DELETE FROM ${s}.log WHERE sync_id < 6; UPDATE ${s}.floor SET id = 6`);
    const behind = await startProcess(s, 'behind', { head: 2 });
    expect(idsOf(behind.batches)).toEqual(range(6, 10));
    expect(behind.batches[0]!.gap).toEqual({ after: 2, reason: 'pruned' });
    expect(behind.feed.stats()).toMatchObject({ pruned: 1, gaps: 0, head: 10 });
    expect(behind.lines.map((l) => l.line).join('\n')).toContain('sync ids 3..5 were pruned from the change log (floor 6)');
  });

  test('after and afterInGroups read the log through the reads', async () => {
    const s = await createLog();
    const a = await startProcess(s, 'a');
    const w = await a.writer();
    const written = await w.commit(6);
    await a.feed.committed(written);
    expect(await a.feed.after(2, 2)).toEqual(written.slice(2, 4));
    expect((await a.feed.afterInGroups(['g1'], 0, 5, 10)).map((c) => c.syncId)).toEqual([1, 4]);
  });

  test('misuse is refused', async () => {
    const s = await createLog();
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    cleanups.push(() => pool.end());
    const reads = new TestLog(pool, s);
    const make = (pollMs?: number) => new PostgresFeed({ reads, connect: () => new pg.Client({ connectionString: db.url }), channel: `${s}_changes`, pollMs });
    expect(() => make(1500)).toThrow(/pollMs must be between 1 and 1000/);
    expect(() => make(0)).toThrow(/pollMs/);
    expect(() => new PostgresFeed({ reads, connect: () => new pg.Client(), channel: 'c'.repeat(64) })).toThrow(/1 to 63 bytes/);
    expect(() => make().committed([record(1, 'x', 'g0')])).toThrow(/before start/);
    const unreachable = new PostgresFeed({
      reads,
      connect: () => new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 2000 }),
      channel: 'x',
    });
    await expect(unreachable.start(0)).rejects.toMatchObject({ type: 'server_error', code: 'storage_error' });
  });
});
