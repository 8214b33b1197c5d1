/**
 * `ablo start` (the built bin) on a SQLite file: usage errors, the first
 * `sk_live_` key written straight into the database, JSON logs, health and
 * readiness, `ablo push` to it, and SIGTERM: commits in flight land and are
 * receipted (or refused with `draining`, never lost unanswered), sockets are
 * told to reconnect elsewhere (4006), exit 0. A drain that cannot finish
 * exits 1 at its timeout, or at a second signal.
 */
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { CLOSE_CODES } from '../../src/protocol/sync.js';
import { TestSocket } from '../helpers/engine.js';
import { createTempProject, stackLines, startCli, type Background, type TempProject } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ notes: model({ body: z.string() }) });
`;

interface LogLine {
  level: string;
  msg: string;
  time: string;
  [k: string]: unknown;
}

function project(ctx: TestContext): TempProject {
  const p = createTempProject({ files: { 'ablo.schema.ts': SCHEMA } });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

function logs(bg: Background): LogLine[] {
  return bg
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine);
}

/** `ablo keys create --live --file db --json`: the key. */
async function liveKey(ctx: TestContext, p: TempProject): Promise<string> {
  const made = await p.run(['keys', 'create', '--live', '--name', 'prod', '--file', 'data/ablo.db', '--json']);
  ctx.expect(made.code, made.stderr).toBe(0);
  const key = JSON.parse(made.stdout) as { key: string; prefix: string; name: string };
  ctx.expect(key.key).toMatch(/^sk_live_[0-9A-Za-z]{32}$/);
  ctx.expect(key).toMatchObject({ name: 'prod', prefix: key.key.slice(0, 12) });
  return key.key;
}

async function start(ctx: TestContext, p: TempProject, extra: string[] = []): Promise<{ bg: Background; url: string }> {
  const bg = startCli(['start', '--file', 'data/ablo.db', '--host', '127.0.0.1', '--port', '0', ...extra], p.dir);
  ctx.onTestFinished(async () => {
    await bg.stop('SIGKILL');
  });
  const m = await bg.waitFor(/^(\{"level":"info","msg":"listening".*\})$/m, 20_000);
  return { bg, url: (JSON.parse(m[1]!) as { url: string }).url };
}

/**
 * A keyed request that never finishes sending its body: it holds a drain until its timeout. It asks for
 * `100 Continue`, which the engine sends as it starts answering the request: once it arrives, the request counts.
 */
function hangingRequest(url: string, key: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = netConnect(Number(port), hostname, () => {
      s.write(`POST /v1/commits HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\nexpect: 100-continue\r\n\r\n`);
    });
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('100 Continue')) {
        s.write('{"operations":[');
        resolve(s);
      }
    });
    s.on('error', () => {});
    s.once('error', reject);
  });
}

async function waitReady(url: string, want: number): Promise<unknown> {
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${url}/v1/ready`);
    const body = await res.json();
    if (res.status === want) return body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`/v1/ready never answered ${want}`);
}

describe.concurrent('ablo start', () => {
  it('bad usage exits 2 with two lines: no database, both, a non-Postgres URL, a bad drain timeout', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['start'], {}, /^error: ablo start needs a database: --database-url <url> \(or ABLO_DATABASE_URL\) or --file <path\.db>$/],
      [['start', '--file', 'a.db', '--database-url', 'postgres://x/y'], {}, /^error: ablo start: pass --database-url or --file, not both$/],
      [['start'], { ABLO_DATABASE_URL: 'mysql://u:secret@h/db' }, /^error: ablo start: the database URL must start with postgres:\/\/ .*"mysql:\/\/u:\*\*\*@h\/db"/],
      [['start', '--file', 'a.db', '--drain-timeout', 'soon'], {}, /^error: --drain-timeout must be a positive number of seconds/],
      [['start', '--file', 'a.db', '--port', 'http'], {}, /^error: --port must be a whole number/],
    ];
    for (const [args, env, first] of cases) {
      const r = await p.run(args, { env });
      const lines = r.stderr.trimEnd().split('\n');
      expect(r.code, r.stderr).toBe(2);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(first);
      expect(lines[1]).toMatch(/^fix: /);
      expect(r.stdout).toBe('');
      expect(stackLines(r.stderr)).toEqual([]);
    }
    expect(p.exists('a.db')).toBe(false);
  });

  it('keys create --live writes the first key; start logs JSON, answers health and ready, takes a push; SIGTERM drains: every commit answered, receipted ones stored, 4006, exit 0', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const key = await liveKey(ctx, p);
    const { bg, url } = await start(ctx, p);
    await bg.waitFor(/"level":"warn"/);
    const [starting, listening, noSchema] = logs(bg);
    expect(starting).toMatchObject({ level: 'info', msg: 'starting', storage: 'sqlite', database: p.path('data/ablo.db'), host: '127.0.0.1', port: 0 });
    expect(listening).toMatchObject({ level: 'info', msg: 'listening', url, schemaHash: null, lastSyncId: 0 });
    expect(noSchema).toMatchObject({ level: 'warn' });
    for (const l of [starting!, listening!]) expect(new Date(l.time).toISOString()).toBe(l.time);
    expect(bg.stderr()).toBe('');

    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
    expect(await waitReady(url, 200)).toEqual({ ready: true });
    // start made no key of its own: the live key is the only one.
    const keys = await (await fetch(`${url}/v1/keys`, { headers: { authorization: `Bearer ${key}` } })).json();
    expect(keys.data.map((k: { prefix: string }) => k.prefix)).toEqual([key.slice(0, 12)]);

    // The CLI takes several engines (comma-separated, as ABLO_URL may hold them): one that is down is skipped.
    const down = await new Promise<string>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(`http://127.0.0.1:${port}`));
      });
    });
    const pushed = await p.run(['push', '--api-key', key, '--json'], { env: { ABLO_URL: `${down},${url}` } });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ applied: true });

    // A socket client writes a stream of commits; SIGTERM arrives while they are in flight.
    const s = await TestSocket.open(`${url.replace('http', 'ws')}/v1/sync`);
    await s.hello({ apiKey: key });
    const refs = Array.from({ length: 200 }, (_, i) => `c${i}`);
    for (const ref of refs.slice(0, 100)) s.send({ type: 'commit', ref, commit: { operations: [{ op: 'create', model: 'notes', id: `n_${ref}`, data: { body: ref } }] } });
    await s.next((f) => f.type === 'receipt');
    bg.child.kill('SIGTERM');
    for (const ref of refs.slice(100)) s.send({ type: 'commit', ref, commit: { operations: [{ op: 'create', model: 'notes', id: `n_${ref}`, data: { body: ref } }] } });
    const closed = await s.waitClose();
    expect(closed).toEqual({ code: CLOSE_CODES.engine_draining, reason: 'engine draining: reconnect to another engine' });
    const exit = await bg.exited;
    expect(exit.code, bg.stderr()).toBe(0);

    // Every commit sent before the close was answered: a receipt, or `draining` (send it elsewhere).
    const answers = new Map<string, string>();
    for (const f of [{ type: 'receipt', ref: 'c0' }, ...s.frames]) {
      if (f.type === 'receipt') answers.set(f.ref, 'receipt');
      if (f.type === 'error') answers.set(f.ref, f.error.code);
    }
    const receipted = refs.filter((r) => answers.get(r) === 'receipt');
    expect(receipted.length).toBeGreaterThan(0);
    expect(new Set([...answers.values()])).toEqual(new Set(answers.size === receipted.length ? ['receipt'] : ['receipt', 'draining']));
    // Answers are in order: every commit after the first refused one was refused too.
    const firstRefused = refs.findIndex((r) => answers.get(r) === 'draining');
    if (firstRefused >= 0) expect(refs.slice(firstRefused).filter((r) => answers.has(r)).every((r) => answers.get(r) === 'draining')).toBe(true);

    const lines = logs(bg);
    expect(lines.map((l) => l.msg).slice(-2)).toEqual(['draining', 'drained']);
    expect(lines.at(-2)).toMatchObject({ level: 'info', signal: 'SIGTERM' });
    expect(lines.at(-1)).toMatchObject({ level: 'info', lastSyncId: receipted.length });

    // The storage was closed: the file opens at once, with exactly the receipted commits.
    const after = await createEngine({ file: p.path('data/ablo.db'), port: 0, devKey: false, log: () => {} });
    ctx.onTestFinished(() => after.close());
    expect(after.lastSyncId()).toBe(receipted.length);
    for (const ref of refs) expect(await after.storage.getRow('notes', `n_${ref}`), ref).toEqual(answers.get(ref) === 'receipt' ? expect.objectContaining({ body: ref }) : null);
  });

  it('a drain that cannot finish exits 1 at --drain-timeout; while it waits, ready is 503 draining and health 200', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const key = await liveKey(ctx, p);
    const { bg, url } = await start(ctx, p, ['--drain-timeout', '1.5']);
    const hung = await hangingRequest(url, key);
    ctx.onTestFinished(() => void hung.destroy());
    bg.child.kill('SIGTERM');
    await bg.waitFor(/"msg":"draining"/);
    expect(await waitReady(url, 503)).toEqual({ ready: false, reason: 'draining' });
    expect((await fetch(`${url}/v1/health`)).status).toBe(200);
    const refused = await fetch(`${url}/v1/keys`, { headers: { authorization: `Bearer ${key}` } });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'draining', type: 'connection_error' } });
    const exit = await bg.exited;
    expect(exit.code).toBe(1);
    expect(logs(bg).at(-1)).toMatchObject({ level: 'error', msg: 'drain did not finish within 1500 ms: exiting' });
  });

  it('a second signal during the drain exits 1 at once', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const key = await liveKey(ctx, p);
    const { bg, url } = await start(ctx, p, ['--drain-timeout', '600']);
    const hung = await hangingRequest(url, key);
    ctx.onTestFinished(() => void hung.destroy());
    bg.child.kill('SIGTERM');
    await bg.waitFor(/"msg":"draining"/);
    bg.child.kill('SIGINT');
    const exit = await bg.exited;
    expect(exit.code).toBe(1);
    expect(logs(bg).at(-1)).toMatchObject({ level: 'error', msg: 'second signal: exiting without finishing the drain', signal: 'SIGINT' });
  });

  it('keys create: --file is refused while an engine holds the file (and names the way out); --live and test keys through the engine both work', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const first = await liveKey(ctx, p);
    const { url } = await start(ctx, p);
    const r = await p.run(['keys', 'create', '--file', 'data/ablo.db']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot open .*ablo\.db: .*\nfix: An engine has this file open: create the key through it instead/);
    const both = await p.run(['keys', 'create', '--file', 'data/ablo.db', '--url', url]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^error: ablo keys create: pass --url \(an engine\) or --file \/ --database-url \(a database\), not both\n/);

    const live = await p.run(['keys', 'create', '--live', '--name', 'web', '--url', url, '--api-key', first, '--json']);
    expect(live.code, live.stderr).toBe(0);
    const liveKeyText = (JSON.parse(live.stdout) as { key: string }).key;
    expect(liveKeyText).toMatch(/^sk_live_[0-9A-Za-z]{32}$/);
    const test = await p.run(['keys', 'create', '--url', url, '--api-key', liveKeyText]);
    expect(test.code, test.stderr).toBe(0);
    const testKey = /^ {2}(sk_test_[0-9A-Za-z]{32})$/m.exec(test.stdout)?.[1];
    expect(testKey, test.stdout).toBeDefined();
    const listed = await (await fetch(`${url}/v1/keys`, { headers: { authorization: `Bearer ${testKey}` } })).json();
    expect(listed.data.map((k: { name: string; prefix: string }) => `${k.name}:${k.prefix.slice(0, 8)}`)).toEqual(['prod:sk_live_', 'web:sk_live_', 'default:sk_test_']);
  });
});
