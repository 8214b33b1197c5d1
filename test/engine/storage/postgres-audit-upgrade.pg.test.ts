/**
 * Postgres storage format 2: the change log keeps the committing credential
 * and the participant a writer acted for. A database format 1 made gets the
 * columns when a process opens it; its entries read back without them.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createPostgresStorage } from '../../../src/engine/storage/postgres.js';
import { planSchemaChange } from '../../../src/schema/plan.js';
import { defineSchema, model, z } from '../../../src/schema/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { change, commit } from './contract/harness.js';

const schema = defineSchema({ notes: model({ body: z.string() }) });
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

test('a format-1 database gets the audit columns when opened: old entries read without them, new ones keep them', async () => {
  const options = { url: db.url, schema: 'audit_upgrade', poolSize: 2 };
  const first = createPostgresStorage(options);
  await first.open();
  await first.applySchema(planSchemaChange(null, schema.serialized), schema.serialized, 0);
  await commit(first, [{ op: 'create', model: 'notes', id: 'n1', data: { body: 'before' } }]);
  await first.close();

  // The database as format 1 left it.
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(`ALTER TABLE audit_upgrade._ablo_changes DROP COLUMN credential_id, DROP COLUMN on_behalf_kind, DROP COLUMN on_behalf_id`);
    await c.query(`UPDATE audit_upgrade._ablo_meta SET value = '1' WHERE key = 'storage_format'`);

    const again = createPostgresStorage(options);
    await again.open();
    try {
      const [before] = await again.changesAfter(0, 10);
      expect(before).toMatchObject({ syncId: 1, model: 'notes', id: 'n1' });
      expect(before).not.toHaveProperty('credentialId');
      expect(before).not.toHaveProperty('onBehalfOf');
      await commit(again, [{ op: 'update', model: 'notes', id: 'n1', data: { body: 'after' } }], {
        participant: { kind: 'system', id: 'key_1' },
        onBehalfOf: { kind: 'user', id: 'ana' },
        credentialId: 'key_1',
      });
      await again.transaction((tx) => tx.appendChange(change(3, 'notes', 'n1', { action: 'update', credentialId: 'ses_1' })));
      const log = await again.changesAfter(1, 10);
      expect(log[0]).toMatchObject({ credentialId: 'key_1', onBehalfOf: { kind: 'user', id: 'ana' }, participant: { kind: 'system', id: 'key_1' } });
      expect(log[1]).toMatchObject({ credentialId: 'ses_1' });
      expect((await again.changesWhere({ participant: { kind: 'user', id: 'ana' } }, 0, 10)).map((x) => x.syncId)).toEqual([2]);
    } finally {
      await again.close();
    }
    const format = await c.query(`SELECT value FROM audit_upgrade._ablo_meta WHERE key = 'storage_format'`);
    expect(format.rows[0].value).toBe('2');
  } finally {
    await c.end();
  }
});
