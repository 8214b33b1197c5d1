/**
 * The Postgres storage against the storage contract (test/engine/storage/contract):
 * one database for the file, a fresh Postgres schema per test (dropped after).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createPostgresStorage } from '../../../src/engine/storage/postgres.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { runStorageContract } from './contract/index.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

runStorageContract({
  name: 'postgres',
  create: () => {
    const schema = `contract_${randomBytes(4).toString('hex')}`;
    const options = { url: db.url, schema, poolSize: 2 };
    return {
      storage: createPostgresStorage(options),
      reopen: () => createPostgresStorage(options),
      cleanup: async () => {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        } finally {
          await c.end();
        }
      },
    };
  },
});
