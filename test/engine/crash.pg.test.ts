/**
 * `ablo dev --database-url` (a Postgres-backed dev engine, the built CLI as a
 * user runs it) killed with writes in flight loses no confirmed write.
 */
import { expect, test } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { crashSchema, expectNothingLost, hammer, receiptedAtLeast } from '../helpers/crash.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { createTempProject, startCli } from '../helpers/tempProject.js';

const SCHEMA = `import { defineSchema, model, z } from 'ablo/schema';
export const schema = defineSchema({ items: model({ commit: z.string(), k: z.number().int() }) });
`;

test('SIGKILL of a Postgres-backed ablo dev with writes in flight: every receipted commit is present, none half applied', async (ctx) => {
  const db = await createTestDatabase();
  ctx.onTestFinished(() => db.drop());
  const p = createTempProject({ files: { 'ablo.schema.ts': SCHEMA } });
  ctx.onTestFinished(() => p.cleanup());
  const dev = startCli(['dev', '--port', '0', '--json', '--no-watch', '--database-url', db.url], p.dir);
  ctx.onTestFinished(async () => {
    await dev.stop('SIGKILL');
  });
  const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 30_000);
  const url = (JSON.parse(m[1]!) as { url: string }).url;
  const key = /^ABLO_API_KEY=(\S+)$/m.exec(p.read('.env.local'))![1]!;

  const h = hammer(url, key);
  await receiptedAtLeast(h, 150);
  await dev.stop('SIGKILL');
  await h.stop();
  expect(h.receipted.size).toBeGreaterThanOrEqual(150);

  const engine = await createEngine({ databaseUrl: db.url, port: 0, log: () => {} });
  try {
    expect(engine.storage.kind).toBe('postgres');
    expect(Object.keys((await engine.storage.getSchema())!.serialized.models)).toEqual(Object.keys(crashSchema.serialized.models));
    await expectNothingLost(engine, h.receipted);
  } finally {
    await engine.close();
  }
}, 90_000);
