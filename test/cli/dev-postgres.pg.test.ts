/**
 * `ablo dev --database-url`: the built CLI runs the engine on Postgres (a
 * database of the test's own): the ready line names the database (password
 * hidden), a commit lands in the `ablo` schema, and a second start on the
 * same database serves the same data. No SQLite file is made.
 */
import { existsSync } from 'node:fs';
import pg from 'pg';
import { describe, it, type TestContext } from 'vitest';
import { createTestDatabase } from '../helpers/postgres.js';
import { createTempProject, startCli, type TempProject } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ notes: model({ body: z.string() }) });
`;

function project(ctx: TestContext): TempProject {
  const p = createTempProject({ files: { 'ablo.schema.ts': SCHEMA } });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

async function startDev(ctx: TestContext, p: TempProject, databaseUrl: string): Promise<{ url: string; apiKey: string; db: string; stop: () => Promise<unknown> }> {
  const dev = startCli(['dev', '--port', '0', '--json', '--no-watch', '--database-url', databaseUrl], p.dir);
  ctx.onTestFinished(async () => {
    await dev.stop('SIGKILL');
  });
  const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000);
  const ready = JSON.parse(m[1]!) as { url: string; apiKey: string; db: string };
  return { ...ready, stop: () => dev.stop('SIGTERM') };
}

describe('ablo dev on Postgres', () => {
  it('runs on the database given by --database-url and keeps its data across restarts', async (ctx) => {
    const { expect } = ctx;
    const db = await createTestDatabase();
    ctx.onTestFinished(() => db.drop());
    const p = project(ctx);
    const withPassword = new URL(db.url);
    withPassword.password = 'secret';

    const first = await startDev(ctx, p, withPassword.toString());
    expect(first.db).toContain(db.name);
    expect(first.db).not.toContain('secret');
    const res = await fetch(`${first.url}/v1/commits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${first.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ operations: [{ op: 'create', model: 'notes', id: 'n1', data: { body: 'in postgres' } }] }),
    });
    expect(res.status).toBe(200);
    await first.stop();
    expect(existsSync(p.path('.ablo/dev.db'))).toBe(false);

    const direct = new pg.Client({ connectionString: db.url });
    await direct.connect();
    try {
      expect((await direct.query(`SELECT "body" FROM ablo."notes" WHERE "id" = 'n1'`)).rows).toEqual([{ body: 'in postgres' }]);
    } finally {
      await direct.end();
    }

    const second = await startDev(ctx, p, db.url);
    const row = await fetch(`${second.url}/v1/models/notes/n1`, { headers: { authorization: `Bearer ${second.apiKey}` } });
    expect(row.status).toBe(200);
    expect(await row.json()).toMatchObject({ id: 'n1', body: 'in postgres' });
    await second.stop();
  });
});
