/**
 * Moving a dev project from SQLite to Postgres, as docs/engine.md says:
 * `ablo data export` from `ablo dev`, then `ablo dev --database-url` and
 * `ablo data import`. The rows come back equal, field for field; `ablo push`
 * and `ablo status` work against the Postgres-backed engine.
 */
import { describe, it, type TestContext } from 'vitest';
import { createTestDatabase } from '../helpers/postgres.js';
import { createTempProject, startCli, type TempProject } from '../helpers/tempProject.js';

const SCHEMA = `import { belongsTo, defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({
  projects: model({ name: z.string(), archived: z.boolean().default(false) }),
  tasks: model(
    { title: z.string(), status: z.enum(['todo', 'doing', 'done']), projectId: z.string(), estimate: z.number().optional(), meta: z.json().optional() },
    { project: belongsTo('projects', 'projectId') },
  ),
});
`;

function userFields(jsonl: string): unknown[] {
  return jsonl
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const { createdAt: _c, updatedAt: _u, syncId: _s, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

async function startDev(ctx: TestContext, p: TempProject, extra: string[]): Promise<{ url: string; stop: () => Promise<unknown> }> {
  const dev = startCli(['dev', '--port', '0', '--json', '--no-watch', ...extra], p.dir);
  ctx.onTestFinished(async () => {
    await dev.stop('SIGKILL');
  });
  const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 30_000);
  return { url: (JSON.parse(m[1]!) as { url: string }).url, stop: () => dev.stop('SIGTERM') };
}

describe('from SQLite to Postgres', () => {
  it('export from ablo dev on SQLite, import into ablo dev --database-url: the same rows; push and status work there', async (ctx) => {
    const { expect } = ctx;
    const db = await createTestDatabase();
    ctx.onTestFinished(() => db.drop());
    const p = createTempProject({ files: { 'ablo.schema.ts': SCHEMA } });
    ctx.onTestFinished(() => p.cleanup());

    const sqlite = await startDev(ctx, p, []);
    const key = /^ABLO_API_KEY=(\S+)$/m.exec(p.read('.env.local'))![1]!;
    const operations = [
      { op: 'create', model: 'projects', id: 'p1', data: { name: 'Launch ✨' } },
      { op: 'create', model: 'projects', id: 'p2', data: { name: 'Archive', archived: true } },
      ...Array.from({ length: 30 }, (_, i) => ({
        op: 'create',
        model: 'tasks',
        id: `t${String(i).padStart(2, '0')}`,
        data: {
          title: i % 7 === 0 ? `tab\tquote" é 😀 ${i}` : `task ${i}`,
          status: (['todo', 'doing', 'done'] as const)[i % 3],
          projectId: i % 2 ? 'p1' : 'p2',
          ...(i % 3 ? { estimate: i / 4 } : {}),
          ...(i % 5 === 0 ? { meta: { tags: ['a', i], nested: { deep: [null, true, 1.5e-7] } } } : {}),
        },
      })),
    ];
    const res = await fetch(`${sqlite.url}/v1/commits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operations }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    let r = await p.run(['data', 'export', '--out', 'backup', '--url', sqlite.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote backup/tasks.jsonl (30 rows)');
    await sqlite.stop();

    const postgres = await startDev(ctx, p, ['--database-url', db.url]);
    r = await p.run(['data', 'import', 'backup', '--url', postgres.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/imported 32 rows \(2 into projects, 30 into tasks\)/);
    r = await p.run(['data', 'export', '--out', 'again', '--url', postgres.url]);
    expect(r.code, r.stderr).toBe(0);
    for (const model of ['projects', 'tasks']) {
      expect(userFields(p.read(`again/${model}.jsonl`)), model).toEqual(userFields(p.read(`backup/${model}.jsonl`)));
    }

    // A schema change pushed to the Postgres-backed engine, and its status.
    p.write('ablo.schema.ts', SCHEMA.replace("archived: z.boolean().default(false)", "archived: z.boolean().default(false), color: z.string().default('blue')"));
    r = await p.run(['push', '--url', postgres.url]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('[safe] Add field projects.color');
    r = await p.run(['status', '--json', '--url', postgres.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ url: postgres.url, schemaVersion: 2, lastSyncId: 32, changeLogFloor: 0, local: { matches: true } });
  }, 120_000);
});
