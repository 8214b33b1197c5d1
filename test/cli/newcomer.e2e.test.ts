/**
 * Small things a new user meets, through the built bin: the key file is
 * private (0600), `.gitignore` covers what ablo writes into the project, the
 * `ablo dev` log says "sync id" for sync ids, and the example agent says when
 * there is nothing to do.
 */
import { chmodSync, statSync } from 'node:fs';
import { describe, it, type TestContext } from 'vitest';
import { cleanEnv, createTempProject, runScript, startCli, type TempProject } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ notes: model({ body: z.string() }) });
`;

function project(ctx: TestContext, files: Record<string, string> = {}): TempProject {
  const p = createTempProject({ files, linkDeps: ['jiti'] });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

function mode(p: TempProject, rel: string): string {
  return (statSync(p.path(rel)).mode & 0o777).toString(8);
}


describe.concurrent('a new user', () => {
  it('.env.local holds the key: written 0600 by init and by dev, and tightened when ablo rewrites a 0644 one', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    expect((await p.run(['init', '--yes'])).code).toBe(0);
    expect(mode(p, '.env.local')).toBe('600');

    // An existing, world-readable .env.local without a key: init adds one and tightens the file.
    const q = project(ctx, { '.env.local': 'DATABASE_URL=postgres://x\n' });
    chmodSync(q.path('.env.local'), 0o644);
    const r = await q.run(['init', '--yes']);
    expect(r.stdout).toMatch(/updated\s+\.env\.local \(added ABLO_URL, ABLO_API_KEY\)/);
    expect(mode(q, '.env.local')).toBe('600');

    // ablo dev writing a new key (none in .env.local) does the same.
    const d = project(ctx, { 'ablo.schema.ts': SCHEMA, '.env.local': 'OTHER=1\n' });
    chmodSync(d.path('.env.local'), 0o644);
    const dev = startCli(['dev', '--port', '0', '--json', '--no-watch'], d.dir);
    ctx.onTestFinished(() => dev.stop('SIGKILL').then(() => undefined));
    await dev.waitFor(/^\{"event":"ready"/m, 20_000);
    expect(d.read('.env.local')).toMatch(/^OTHER=1\nABLO_URL=http:\/\/127\.0\.0\.1:\d+\nABLO_API_KEY=sk_test_\w{32}\n$/);
    expect(mode(d, '.env.local')).toBe('600');
    expect(await dev.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('.gitignore from init lists ablo-data/ (the default of ablo data export), also in an existing one', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    expect((await p.run(['init', '--yes'])).code).toBe(0);
    expect(p.read('.gitignore')).toBe('node_modules/\n.ablo/\n.env.local\nablo-data/\n');
    const q = project(ctx, { '.gitignore': 'dist\n/.ablo\n.env.local\n' });
    const r = await q.run(['init', '--yes']);
    expect(r.stdout).toMatch(/updated\s+\.gitignore \(added ablo-data\/\)/);
    expect(q.read('.gitignore')).toBe('dist\n/.ablo\n.env.local\nablo-data/\n');
    // Already listed (any common spelling): left alone.
    const s = project(ctx, { '.gitignore': '.ablo/\n.env*\n/ablo-data\n' });
    expect((await s.run(['init', '--yes'])).stdout).toMatch(/unchanged\s+\.gitignore/);
  });

  it('ablo dev off a terminal logs each commit with its sync id, not as a commit number', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': SCHEMA });
    const dev = startCli(['dev', '--port', '0', '--no-watch'], p.dir);
    ctx.onTestFinished(() => dev.stop('SIGKILL').then(() => undefined));
    const url = (await dev.waitFor(/^ready in \d+ ms at (http:\/\/\S+)/m, 20_000))[1]!;
    const key = /^ABLO_API_KEY=(.*)$/m.exec(p.read('.env.local'))![1]!;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    for (const body of ['a', 'b']) {
      const res = await fetch(`${url}/v1/models/notes`, { method: 'POST', headers, body: JSON.stringify({ data: { body } }) });
      expect(res.status).toBe(201);
    }
    await dev.waitFor(/^commit notes \(1 change\) · sync id 2$/m);
    expect(dev.stdout()).toMatch(/^commit notes \(1 change\) · sync id 1$/m);
    expect(dev.stdout()).not.toMatch(/commit #/);
  }, 60_000);

  it('the agents template run again with nothing left to do says so', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    expect((await p.run(['init', '--yes', '--template', 'agents'])).code).toBe(0);
    const dev = startCli(['dev', '--port', '0', '--json', '--no-watch'], p.dir);
    ctx.onTestFinished(() => dev.stop('SIGKILL').then(() => undefined));
    await dev.waitFor(/^\{"event":"ready"/m, 20_000);
    const first = await runScript(p, 'agent');
    expect(first.stderr).toBe('');
    expect(first.stdout.match(/^done: /gm)).toHaveLength(3);
    expect(first.stdout).not.toContain('nothing to do');
    const second = await runScript(p, 'agent');
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('no open tasks on the board — nothing to do\n');
  }, 60_000);
});
