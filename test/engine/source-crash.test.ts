/**
 * Data Source mode, the engine SIGKILLed after the source applied a commit and
 * before the engine applied the answer (the source kills it while handling
 * the request): the restarted engine finds the commit in its journal, sends it
 * again (same webhook-id and clientTxId; the source answers from its dedupe,
 * applying nothing twice) and applies it once. The commit's echo in the
 * outbox adds nothing, and the client's resend gets the same receipt.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { generateApiKey } from '../../src/engine/apiKeys.js';
import { createEngine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { spawnEngineChild } from '../helpers/crash.js';
import { startMemorySource } from '../helpers/memorySource.js';

const schema = defineSchema({ tasks: model({ title: z.string() }) });
const dir = mkdtempSync(join(tmpdir(), 'ablo-source-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('SIGKILL between the source confirming a commit and the engine applying it: recovered from the source, fanned out once', async () => {
  const src = await startMemorySource();
  const file = join(dir, 'dev.db');
  const key = generateApiKey();
  const sources = { app: { url: src.url, models: ['tasks'], signingSecret: src.secret, pollIntervalMs: 0 } };
  const { child, url, exited } = await spawnEngineChild({
    ABLO_TEST_DB: file,
    ABLO_TEST_SCHEMA: JSON.stringify(schema.serialized),
    ABLO_TEST_KEY: key,
    ABLO_TEST_SOURCES: JSON.stringify(sources),
  });
  try {
    // The source applies the commit, then the engine dies before it hears the answer.
    src.onCommitApplied = async () => {
      child.kill('SIGKILL');
      await exited;
    };
    const body = JSON.stringify({ operations: [{ op: 'create', model: 'tasks', id: 'task_crash', data: { title: 'survives' } }], idempotencyKey: 'tx_crash_1' });
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    await expect(fetch(`${url}/v1/commits`, { method: 'POST', headers, body })).rejects.toThrow();
    await exited;
    src.onCommitApplied = null;
    expect(src.applied).toBe(1);

    const engine = await createEngine({ file, port: 0, log: () => {}, sources });
    try {
      await engine.sources!.ready();
      // Sent again, answered from the source's dedupe: applied there once.
      expect(src.applied).toBe(1);
      expect(src.received.commit).toBe(2);
      const row = await engine.storage.getRow('tasks', 'task_crash');
      expect(row).toMatchObject({ id: 'task_crash', title: 'survives' });
      // The echo in the outbox (pulled at start) adds nothing: one change for the row, in the log.
      await engine.sources!.pull('app');
      const changes = await engine.storage.changesAfter(0, 100);
      expect(changes.filter((c) => c.id === 'task_crash')).toHaveLength(1);
      // The client resends with its key: the stored receipt, nothing applied again.
      const resent = await fetch(`${engine.url}/v1/commits`, { method: 'POST', headers, body });
      expect(resent.status).toBe(200);
      const receipt = (await resent.json()) as { clientTxId: string; results: Array<{ syncId: number }> };
      expect(receipt.clientTxId).toBe('tx_crash_1');
      expect(receipt.results[0]!.syncId).toBe(changes.find((c) => c.id === 'task_crash')!.syncId);
      expect(src.applied).toBe(1);
      expect(await engine.storage.listMeta('source_journal:')).toEqual([]);
    } finally {
      await engine.close();
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await src.close();
  }
});
