/** The test database helper: a database of its own, usable, gone after drop. */
import pg from 'pg';
import { expect, test } from 'vitest';
import { ADMIN_URL, createTestDatabase, postgresAnswers } from '../../helpers/postgres.js';

test('a test database is created empty, usable, and dropped even with a connection open', async () => {
  expect(await postgresAnswers(), `Postgres does not answer at ${ADMIN_URL}; start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`).toBe(true);
  const db = await createTestDatabase();
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  c.on('error', () => {});
  await c.query('CREATE TABLE t (x int)');
  expect((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
  await db.drop();
  const a = new pg.Client({ connectionString: ADMIN_URL });
  await a.connect();
  const left = await a.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
  await a.end();
  expect(left.rowCount).toBe(0);
});
