import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { crashSchema, expectNothingLost, hammer, receiptedAtLeast, spawnEngineChild } from '../helpers/crash.js';

const dir = mkdtempSync(join(tmpdir(), 'ablo-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('SIGKILL with writes in flight: every receipted commit is present, none half applied', async () => {
  const file = join(dir, 'dev.db');
  const key = generateApiKey();
  const { child, url, exited } = await spawnEngineChild({ ABLO_TEST_DB: file, ABLO_TEST_SCHEMA: JSON.stringify(crashSchema.serialized), ABLO_TEST_KEY: key });
  try {

    const h = hammer(url, key);
    // Let a good number of commits land, then kill the engine mid-stream.
    await receiptedAtLeast(h, 150);
    child.kill('SIGKILL');
    await h.stop();
    await exited;
    expect(h.receipted.size).toBeGreaterThanOrEqual(150);

    const engine = await createEngine({ file, port: 0, log: () => {} });
    try {
      await expectNothingLost(engine, h.receipted);
    } finally {
      await engine.close();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
