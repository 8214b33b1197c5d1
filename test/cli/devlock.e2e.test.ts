/**
 * Two `ablo dev` on one database: the first holds an OS-level lock on the
 * database file for its whole life, so a second is refused however long the
 * first takes to answer (stopped, busy), and may start the moment the first
 * is gone (even after SIGKILL). The refused one changes nothing.
 */
import { readFileSync, statSync, utimesSync } from 'node:fs';
import { describe, it, type TestContext } from 'vitest';
import { createTempProject, stackLines, startCli, type Background, type TempProject } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ notes: model({ body: z.string() }) });
`;

function project(ctx: TestContext): TempProject {
  const p = createTempProject({ files: { 'ablo.schema.ts': SCHEMA } });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

async function startDev(ctx: TestContext, p: TempProject): Promise<{ dev: Background; url: string }> {
  const dev = startCli(['dev', '--port', '0', '--json', '--no-watch'], p.dir);
  ctx.onTestFinished(async () => {
    dev.child.kill('SIGCONT');
    await dev.stop('SIGKILL');
  });
  const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000);
  return { dev, url: (JSON.parse(m[1]!) as { url: string }).url };
}

async function health(url: string): Promise<boolean> {
  const res = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(10_000) });
  return res.ok && ((await res.json()) as { ok?: boolean }).ok === true;
}

describe.concurrent('one engine per database', () => {
  it('a stopped ablo dev keeps the database: a second start is refused and changes nothing; after SIGKILL a new start succeeds at once', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const { dev: first, url } = await startDev(ctx, p);
    const pid = first.child.pid!;
    const envLocal = p.read('.env.local');
    const record = p.read('.ablo/dev.lock');
    expect(JSON.parse(record)).toMatchObject({ pid, url });

    // The first engine stops answering (SIGSTOP). The old rule declared its lock stale when
    // /v1/health did not answer within 1.5 s and the record was older than 10 s: make the
    // record 1 h old instead of waiting (the new code has no time-based rule at all, so how
    // long the first has been stopped does not matter).
    first.child.kill('SIGSTOP');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(p.path('.ablo/dev.lock'), hourAgo, hourAgo);
    const mtime = statSync(p.path('.ablo/dev.lock')).mtimeMs;

    const second = await p.run(['dev', '--port', '0']);
    const lines = second.stderr.trimEnd().split('\n');
    expect(lines, second.stderr).toHaveLength(2);
    expect(lines[0]).toBe(`error: ablo dev is already running for this project at ${url} (pid ${pid}); it holds .ablo/dev.db`);
    expect(lines[1]).toMatch(/^fix: Use that one .*stop it first .*kill \d+/);
    expect(stackLines(second.stderr)).toEqual([]);
    expect(second.code).toBe(1);
    expect(second.stdout).toBe('');
    // Nothing of the first was touched: .env.local still points at it, its record is as it was.
    expect(p.read('.env.local')).toBe(envLocal);
    expect(p.read('.ablo/dev.lock')).toBe(record);
    expect(statSync(p.path('.ablo/dev.lock')).mtimeMs).toBe(mtime);
    expect(p.exists(`.ablo/dev.lock.${pid}.tmp`)).toBe(false);

    // --json: the same refusal as an envelope.
    const json = await p.run(['dev', '--port', '0', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'dev_already_running', pid, url } });

    // The first resumes: it still serves, and still owns the database (a third start is refused).
    first.child.kill('SIGCONT');
    expect(await health(url)).toBe(true);
    const third = await p.run(['dev', '--port', '0']);
    expect(third.code).toBe(1);
    expect(third.stderr).toContain(`already running for this project at ${url} (pid ${pid})`);
    expect(p.read('.ablo/dev.lock')).toBe(record);
    expect(p.read('.env.local')).toBe(envLocal);

    // SIGKILL: no cleanup code runs, the OS drops the lock; a new start succeeds at once and takes over.
    expect(await first.stop('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const { dev: next, url: nextUrl } = await startDev(ctx, p);
    expect(JSON.parse(p.read('.ablo/dev.lock'))).toMatchObject({ pid: next.child.pid, url: nextUrl });
    expect(p.read('.env.local')).toContain(`ABLO_URL=${nextUrl}`);
    expect(await health(nextUrl)).toBe(true);
    // A clean stop removes its own record.
    expect(await next.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(p.exists('.ablo/dev.lock')).toBe(false);
  }, 90_000);

  it('a refused start never removes the record of the engine that holds the database', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const { dev: first, url } = await startDev(ctx, p);
    // The record is informational: a broken one does not let a second engine in.
    p.write('.ablo/dev.lock', 'garbage');
    const r = await p.run(['dev', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: another Ablo engine has \.ablo\/dev\.db open \(its lock \.ablo\/dev\.db-lock is held\)$/m);
    expect(r.stderr).toMatch(/^fix: Stop the engine that uses \.ablo\/dev\.db/m);
    expect(p.read('.ablo/dev.lock')).toBe('garbage');
    expect(await health(url)).toBe(true);
    expect(readFileSync(p.path('.ablo/dev.lock'), 'utf8')).toBe('garbage');
    // The holder does not remove a record that is not its own either.
    expect(await first.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(p.read('.ablo/dev.lock')).toBe('garbage');
  }, 60_000);
});
