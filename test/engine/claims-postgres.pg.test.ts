/**
 * The Postgres claim store on a real database, with three store instances on
 * it standing for three engine processes (and a child process that is
 * SIGKILLed): the ClaimStore contract (claims-contract.ts) across them; 30
 * requesters on 5 rows in one FIFO queue per row with the same events in the
 * same order everywhere; leases that pass a dead process's row on; a holder
 * whose connection closed keeping its claim until it resumes it on another
 * instance; the claim guard against a commit's transaction, interleaved with
 * a grant (real transactions).
 *
 * The "commits" here are real transactions of the storage's shape: the head
 * row `FOR UPDATE` first, then the claim check, then the write (a test table
 * `items` that `readRow` reads).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, onTestFinished, test } from 'vitest';
import { PostgresClaimStore } from '../../src/engine/claims/postgres.js';
import type { StoredRow } from '../../src/engine/storage/types.js';
import { AbloClaimedError } from '../../src/errors.js';
import { compileSchema } from '../../src/schema/compile.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { claimStoreContract, until } from './claims-contract.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const compiled = compileSchema(defineSchema({ counters: model({ n: z.number().int().default(0) }) }).serialized);

let db: TestDatabase;
let sql: pg.Pool;
const stores: PostgresClaimStore[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  sql = new pg.Pool({ connectionString: db.url, max: 3 });
  await sql.query('CREATE TABLE items (id text PRIMARY KEY, n integer NOT NULL DEFAULT 0)');
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await sql.query('TRUNCATE items');
  await sql.query('TRUNCATE ablo._ablo_claims, ablo._ablo_claim_rows, ablo._ablo_claim_events').catch(() => undefined);
});
afterAll(async () => {
  await sql?.end();
  await db?.drop();
});

async function readRow(_model: string, id: string): Promise<StoredRow | null> {
  const r = (await sql.query('SELECT id, n FROM items WHERE id = $1', [id])).rows[0];
  return r ? { id: r.id, n: r.n, createdAt: '', updatedAt: '', syncId: 0 } : null;
}

async function open(): Promise<PostgresClaimStore> {
  const s = await PostgresClaimStore.open({ connectionString: db.url, poolSize: 2, schema: () => compiled, readRow });
  stores.push(s);
  return s;
}

async function seed(ids: string[]): Promise<void> {
  for (const id of ids) await sql.query('INSERT INTO items (id) VALUES ($1)', [id]);
}

/** A write as the storage makes it: head row FOR UPDATE, the claim check, the write, COMMIT. */
async function commitIncrement(store: { check: PostgresClaimStore['check'] }, id: string, owner: string): Promise<void> {
  const c = await sql.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT 1 FROM ablo._ablo_head FOR UPDATE');
    await store.check('counters', id, owner);
    await c.query('UPDATE items SET n = n + 1 WHERE id = $1', [id]);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK');
    throw err;
  } finally {
    c.release();
  }
}

const participant = (id: string) => ({ kind: 'agent' as const, id });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

claimStoreContract({
  instances: async () => [await open(), await open(), await open()],
  seed,
  write: (store, id, owner) => commitIncrement(store as PostgresClaimStore, id, owner),
});

describe('one queue per row across three instances', () => {
  test('30 requesters on 3 instances, 5 rows: holds never overlap, grants follow request order, every write lands', async () => {
    const instances = [await open(), await open(), await open()];
    const rows = ['r0', 'r1', 'r2', 'r3', 'r4'];
    await seed(rows);
    const heard: string[][] = [[], [], []];
    instances.forEach((s, i) =>
      s.subscribe((e) => heard[i]!.push(`${e.id}:${e.claim?.holder.id ?? '-'}|${e.queue.map((q) => q.participant.id).join(',')}`)),
    );
    let clock = 0;
    const holding = new Map<string, string>();
    const overlaps: string[] = [];
    const requested = new Map<string, string[]>(rows.map((r) => [r, []]));
    const granted = new Map<string, string[]>(rows.map((r) => [r, []]));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));

    const run = async (i: number, queued: () => void): Promise<void> => {
      const store = instances[i % 3]!;
      const row = rows[i % 5]!;
      const who = `a${i}`;
      const grant = await store.acquire({ model: 'counters', id: row, participant: participant(who), owner: `conn-${who}`, onQueued: queued });
      queued();
      const grantAt = ++clock;
      if (holding.has(row)) overlaps.push(`${row}: ${who} granted while ${holding.get(row)} held it`);
      holding.set(row, who);
      granted.get(row)!.push(who);
      // The grant carries the row as it is now: every earlier holder's write.
      expect(grant.data.n).toBe(granted.get(row)!.length - 1);
      if (i < 5) await gate;
      else await sleep(1 + (i % 4));
      await commitIncrement(store, row, `conn-${who}`);
      expect(holding.get(row)).toBe(who);
      holding.delete(row);
      expect(grantAt).toBeLessThan(++clock);
      await store.release(grant.id, `conn-${who}`);
    };

    // Requests go one at a time (each queued or granted before the next asks), so request order is known.
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      requested.get(rows[i % 5]!)!.push(`a${i}`);
      let markQueued!: () => void;
      const queued = new Promise<void>((r) => (markQueued = r));
      runs.push(run(i, markQueued));
      await queued;
    }
    openGate();
    await Promise.all(runs);

    expect(overlaps).toEqual([]);
    for (const r of rows) expect(granted.get(r), r).toEqual(requested.get(r));
    const final = await sql.query('SELECT id, n FROM items ORDER BY id');
    expect(final.rows).toEqual(rows.map((id) => ({ id, n: 6 })));
    for (const s of instances) expect(await s.list()).toEqual([]);
    // Every instance heard every event (each row's last one shows it free), in one order.
    await until(() => heard.every((h) => h.length === heard[0]!.length && rows.every((r) => h.filter((x) => x.startsWith(`${r}:`)).at(-1) === `${r}:-|`)), 'the last events');
    expect(heard[0]!.length).toBeGreaterThanOrEqual(60); // a queueing and a release per request (the first grant of a row is told once its groups are read)
    expect(heard[1]).toEqual(heard[0]);
    expect(heard[2]).toEqual(heard[0]);
  });
});

describe('events across processes', () => {
  test('an instance whose LISTEN connection is killed reconnects and still hears every event, in order', async () => {
    const [a, b] = [await open(), await open()];
    await seed(['e']);
    const heard: string[] = [];
    b.subscribe((e) => heard.push(`${e.claim?.holder.id ?? '-'}|${e.queue.length}`));
    const listeners = async (): Promise<number[]> =>
      (await sql.query(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`)).rows.map((r) => r.pid);
    await until(async () => (await listeners()).length === 2, 'both instances listening');
    // Kill every LISTEN connection (both instances'); changes made meanwhile are read by the poll or after the reconnect.
    await sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`);
    const held = await a.acquire({ model: 'counters', id: 'e', participant: participant('one'), owner: 'conn-1' });
    await a.release(held.id, 'conn-1');
    await until(() => heard.length === 2, 'the events while not listening');
    await until(async () => (await listeners()).length === 2, 'both listening again');
    const again = await a.acquire({ model: 'counters', id: 'e', participant: participant('two'), owner: 'conn-2' });
    await a.release(again.id, 'conn-2');
    await until(() => heard.length === 4, 'the events after');
    expect(heard).toEqual(['one|0', '-|0', 'two|0', '-|0']);
  });
});

describe('housekeeping', () => {
  test('rows nobody holds or waits for are forgotten; claiming one again works as the first time', async () => {
    const a = await open();
    await seed(['p']);
    const first = await a.acquire({ model: 'counters', id: 'p', participant: participant('one'), owner: 'conn-1' });
    await a.release(first.id, 'conn-1');
    const rowsLeft = async (): Promise<number> => Number((await sql.query('SELECT count(*) AS n FROM ablo._ablo_claim_rows')).rows[0].n);
    expect(await rowsLeft()).toBe(1);
    const b = await open(); // its first sweep prunes
    await until(async () => (await rowsLeft()) === 0, 'the idle row to be forgotten');
    const heard: string[] = [];
    b.subscribe((e) => heard.push(`${e.claim?.holder.id ?? '-'}|${e.groups.join()}`));
    const again = await a.acquire({ model: 'counters', id: 'p', participant: participant('two'), owner: 'conn-2' });
    await until(() => heard.length === 1, 'the grant event');
    expect(heard).toEqual(['two|default']);
    await a.release(again.id, 'conn-2');
  });
});

describe('the claim guard and grants, interleaved with a commit', () => {
  test('a grant waits for a commit that checked the row free, then carries its write; the next write by a non-holder is refused', async () => {
    const [a, b] = [await open(), await open()];
    await seed(['g']);
    const commit = await sql.connect();
    onTestFinished(() => commit.release());
    await commit.query('BEGIN');
    await commit.query('SELECT 1 FROM ablo._ablo_head FOR UPDATE');
    await a.check('counters', 'g', 'conn-writer'); // free: passes

    let settled = false;
    const grant = b.acquire({ model: 'counters', id: 'g', participant: participant('grabber'), owner: 'conn-grabber' }).finally(() => (settled = true));
    // The grant's transaction waits for the head row (a lock wait in Postgres, not a timing guess).
    await until(
      async () =>
        (
          await sql.query(
            `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%_ablo_head%FOR SHARE%'`,
          )
        ).rows.length > 0,
      'the grant to wait for the head row',
    );
    expect(settled).toBe(false);
    await commit.query('UPDATE items SET n = 42 WHERE id = $1', ['g']);
    await commit.query('COMMIT');

    const g = await grant;
    expect(g.data.n).toBe(42); // the row as committed
    await expect(commitIncrement(a, 'g', 'conn-writer')).rejects.toMatchObject({ type: 'claimed', code: 'row_claimed', details: { holder: { id: 'grabber' } } });
    await expect(a.check('counters', 'g', ['other', 'conn-writer'])).rejects.toBeInstanceOf(AbloClaimedError);
    await commitIncrement(a, 'g', 'conn-grabber'); // the holder writes, through any instance
    expect((await sql.query('SELECT n FROM items')).rows[0].n).toBe(43);
  });
});

describe('leases across processes', () => {
  test('a process SIGKILLed: the row it held passes on when the lease ends; the request it had waiting leaves the line', async () => {
    const [b, c] = [await open(), await open()];
    await seed(['k', 'k2']);
    const k2 = await b.acquire({ model: 'counters', id: 'k2', participant: participant('bea'), owner: 'conn-bea' });
    const { child, claimId, expiresAt } = await holderProcess('k', 'k2', 2);
    await until(async () => (await b.state('counters', 'k')).claim?.id === claimId, 'the child to hold k');
    expect((await b.state('counters', 'k2')).queue.map((q) => q.participant.id)).toEqual(['doomed']);
    const waiting = b.acquire({ model: 'counters', id: 'k', participant: participant('next'), owner: 'conn-next' });
    await killed(child);
    const g = await waiting;
    expect(g.holder.id).toBe('next');
    expect(Date.parse(g.acquiredAt)).toBeGreaterThanOrEqual(Date.parse(expiresAt));

    // Its waiting request goes once it stops beating, so the next holder of k2 is one that is alive.
    const afterIt = c.acquire({ model: 'counters', id: 'k2', participant: participant('carl'), owner: 'conn-carl' });
    await until(async () => (await c.state('counters', 'k2')).queue.map((q) => q.participant.id).join() === 'carl', 'the dead waiter to leave');
    await b.release(k2.id, 'conn-bea');
    expect((await afterIt).holder.id).toBe('carl');
  });

  test('a holder whose connection closed keeps the row for its lease and resumes it by claim id on another instance', async () => {
    const [a, b, c] = [await open(), await open(), await open()];
    await seed(['h']);
    const held = await a.acquire({ model: 'counters', id: 'h', participant: participant('keeper'), owner: 'conn-1', credentialId: 'key_1', leaseSeconds: 3 });
    const waiting = c.acquire({ model: 'counters', id: 'h', participant: participant('waiter'), owner: 'conn-w' });
    let waiterDone = false;
    void waiting.finally(() => (waiterDone = true)).catch(() => undefined);
    await until(async () => (await c.state('counters', 'h')).queue.length === 1, 'the waiter queued');

    await a.releaseOwner('conn-1'); // its connection closed
    expect((await b.state('counters', 'h')).claim?.id).toBe(held.id);
    await expect(b.resumeHeld(held.id, 'conn-2', 'key_other')).rejects.toMatchObject({ code: 'claim_not_found' });
    const resumed = await b.resumeHeld(held.id, 'conn-2', 'key_1');
    expect(resumed.id).toBe(held.id);
    expect(resumed.data.id).toBe('h');
    await expect(b.check('counters', 'h', 'conn-1')).rejects.toMatchObject({ code: 'row_claimed' });
    await b.check('counters', 'h', 'conn-2');
    // Past the first lease: still held (the resume started a new one, renewed here).
    await sleep(1500);
    await b.renew(held.id, 'conn-2');
    await sleep(2000);
    expect(waiterDone).toBe(false);
    expect((await c.state('counters', 'h')).claim?.id).toBe(held.id);
    await b.release(held.id, 'conn-2');
    expect((await waiting).holder.id).toBe('waiter');
  });
});

/** A child process with a store of its own (from the build) holding `id` and waiting for `waitFor`, until it is killed. */
async function holderProcess(id: string, waitFor: string, leaseSeconds: number): Promise<{ child: ChildProcess; claimId: string; expiresAt: string }> {
  const body = `
    import { PostgresClaimStore } from ${JSON.stringify(join(repoRoot, 'dist/src/engine/index.js'))};
    const schema = { model: (name) => ({ name }), models: {} };
    const store = await PostgresClaimStore.open({ connectionString: ${JSON.stringify(db.url)}, poolSize: 1, schema: () => schema,
      readRow: async (model, id) => ({ id, createdAt: '', updatedAt: '', syncId: 0 }) });
    const g = await store.acquire({ model: 'counters', id: ${JSON.stringify(id)}, participant: { kind: 'agent', id: 'doomed' }, owner: 'conn-doomed', leaseSeconds: ${leaseSeconds} });
    store.acquire({ model: 'counters', id: ${JSON.stringify(waitFor)}, participant: { kind: 'agent', id: 'doomed' }, owner: 'conn-doomed',
      onQueued: () => console.log(JSON.stringify({ claimId: g.id, expiresAt: g.expiresAt })) }).catch(() => {});
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', body], { stdio: ['ignore', 'pipe', 'inherit'] });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
  });
  return { child, ...(JSON.parse(line) as { claimId: string; expiresAt: string }) };
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
