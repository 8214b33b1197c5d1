/**
 * An MCP session's long claim wait is a series of long-polls; between two
 * polls it keeps its place in line (ticket), so requests that arrived later
 * never overtake it. Giving up at the caller's own limit leaves the line;
 * cancelling withdraws at once. Real engine, real HTTP.
 */
import { describe, expect, test } from 'vitest';
import { EngineApi } from '../../mcp/engineApi.js';
import { SessionClaims } from '../../mcp/claims.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine, memoryClaims } from '../helpers/engine.js';

const schema = defineSchema({ jobs: model({ title: z.string() }) });

const { engines } = trackedEngines();

async function start(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  engines.push(t);
  expect((await t.http('POST', '/v1/models/jobs', { id: 'j1', data: { title: 'one' } })).status).toBe(201);
  return t;
}

const queue = (t: TestEngine): string[] => memoryClaims(t.engine).state('jobs', 'j1').queue.map((q) => q.participant.id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await sleep(10);
  expect(check()).toBe(true);
}

function session(t: TestEngine, id: string, pollSeconds: number): SessionClaims {
  return new SessionClaims(new EngineApi({ url: t.url, apiKey: t.key, participant: { kind: 'agent', id } }), () => {}, { pollSeconds });
}

describe('MCP claim waits keep their place across polls', () => {
  test('a later request never overtakes a session re-polling for its turn', async () => {
    const t = await start();
    const holder = await t.http('POST', '/v1/models/jobs/j1/claim', {}, { 'ablo-participant': 'agent:holder' });
    const mcp = session(t, 'mcp', 0.2);
    const waiting = mcp.acquire('jobs', 'j1', { waitSeconds: 60 });
    await until(() => queue(t).includes('mcp'));
    const later = t.http('POST', '/v1/models/jobs/j1/claim', { waitSeconds: 60 }, { 'ablo-participant': 'agent:later' });
    await until(() => queue(t).length === 2);
    // Several polls time out and resume meanwhile; the order holds.
    await sleep(700);
    expect(queue(t)).toEqual(['mcp', 'later']);

    await t.http('DELETE', `/v1/claims/${holder.body.id}`);
    const grant = await waiting;
    expect(grant).toMatchObject({ holder: { id: 'mcp' }, data: { id: 'j1' } });
    expect(queue(t)).toEqual(['later']);
    await mcp.releaseAll();
    expect((await later).body).toMatchObject({ holder: { id: 'later' } });
  });

  test("giving up at the caller's limit leaves the line; cancelling withdraws at once", async () => {
    const t = await start();
    await t.http('POST', '/v1/models/jobs/j1/claim', { leaseSeconds: 600 }, { 'ablo-participant': 'agent:holder' });
    const mcp = session(t, 'mcp', 0.2);
    await expect(mcp.acquire('jobs', 'j1', { waitSeconds: 0.7 })).rejects.toMatchObject({ code: 'claim_wait_timeout' });
    expect(queue(t)).toEqual([]);

    const abort = new AbortController();
    const cancelled = mcp.acquire('jobs', 'j1', { waitSeconds: 60, signal: abort.signal }).catch((e: Error) => e);
    await until(() => queue(t).includes('mcp'));
    await sleep(500); // past a poll or two
    abort.abort();
    await cancelled;
    await until(() => queue(t).length === 0);
  });
});
