/**
 * A Postgres database of storage format 1 (its key table without kinds) is
 * upgraded in place when opened: the columns are added, its keys are secret
 * keys, restricted keys can be stored, and the format is 2.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createPostgresStorage } from '../../../src/engine/storage/postgres.js';
import type { ApiKeyRecord } from '../../../src/engine/storage/types.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

test('format-1 keys become secret keys; restricted keys are kept with their scope', async () => {
  const secret: ApiKeyRecord = {
    id: 'key_old',
    name: 'dev',
    prefix: 'sk_test_AbC1',
    hash: 'h_old',
    createdAt: '2024-01-01T00:00:00.000Z',
    revokedAt: null,
    participant: { kind: 'system', id: 'dev' },
    kind: 'secret',
    groups: null,
    operations: null,
  };
  const first = createPostgresStorage({ url: db.url, poolSize: 2 });
  await first.open();
  await first.insertApiKey(secret);
  await first.close();

  // Back to format 1: the key table as it was.
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(`SET search_path = ablo`);
    await c.query(`ALTER TABLE _ablo_api_keys DROP COLUMN kind, DROP COLUMN groups, DROP COLUMN operations`);
    await c.query(`UPDATE _ablo_meta SET value = '1' WHERE key = 'storage_format'`);
  } finally {
    await c.end();
  }

  const s = createPostgresStorage({ url: db.url, poolSize: 2 });
  await s.open();
  try {
    expect(await s.findApiKeyByHash('h_old')).toEqual(secret);
    const restricted: ApiKeyRecord = { ...secret, id: 'key_r', hash: 'h_r', prefix: 'rk_test_AbC1', kind: 'restricted', groups: ['board:*'], operations: ['read'] };
    await s.insertApiKey(restricted);
    expect(await s.listApiKeys()).toEqual([secret, restricted]);
  } finally {
    await s.close();
  }
  const check = new pg.Client({ connectionString: db.url });
  await check.connect();
  try {
    const format = await check.query(`SELECT value FROM ablo._ablo_meta WHERE key = 'storage_format'`);
    expect(format.rows[0].value).toBe('2');
  } finally {
    await check.end();
  }
});
