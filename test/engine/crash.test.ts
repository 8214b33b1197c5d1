import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, test } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { crashSchema, expectNothingLost, hammer, receiptedAtLeast } from '../helpers/crash.js';

const dir = mkdtempSync(join(tmpdir(), 'ablo-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('SIGKILL with writes in flight: every receipted commit is present, none half applied', async () => {
  const file = join(dir, 'dev.db');
  const key = generateApiKey();
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/engine-child.mjs', import.meta.url))], {
    env: { ...process.env, ABLO_TEST_DB: file, ABLO_TEST_SCHEMA: JSON.stringify(crashSchema.serialized), ABLO_TEST_KEY: key },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d) => {
        buf += d;
        const line = buf.split('\n')[0];
        if (buf.includes('\n')) resolve(JSON.parse(line!).url);
      });
      child.once('exit', (code) => reject(new Error(`engine exited early (${code})`)));
    });

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
