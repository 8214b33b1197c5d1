/**
 * An MCP session's claim call waits at most its patience, then answers
 * `waiting` with its place in line and a ticket; the place is kept between
 * calls (later requests never overtake it), resumed by the next call for the
 * row, and given up on cancel, on withdraw and when the session ends.
 * SessionClaims against a real engine over real HTTP.
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

function session(t: TestEngine, id: string, patienceSeconds: number, ticketSeconds = 30): SessionClaims {
  return new SessionClaims(new EngineApi({ url: t.url, apiKey: t.key, participant: { kind: 'agent', id } }), () => {}, { patienceSeconds, ticketSeconds });
}

describe('MCP claim calls keep their place between calls', () => {
  test('past its patience a call answers waiting (position, ticket, holder); a later request never overtakes it; the next call resumes and is granted', async () => {
    const t = await start();
    const holder = await t.http('POST', '/v1/models/jobs/j1/claim', {}, { 'ablo-participant': 'agent:holder' });
    const mcp = session(t, 'mcp', 0.3);
    const first = await mcp.acquire('jobs', 'j1');
    expect(first).toMatchObject({ status: 'waiting', model: 'jobs', id: 'j1', position: 1, holder: { kind: 'agent', id: 'holder' } });
    if (first.status !== 'waiting') throw new Error('expected waiting');
    expect(first.ticket).toMatch(/^ctk_/);
    expect(Date.parse(first.ticketExpiresAt)).toBeGreaterThan(Date.now());
    expect(mcp.waiting()).toMatchObject([{ model: 'jobs', id: 'j1', ticket: first.ticket }]);

    const later = t.http('POST', '/v1/models/jobs/j1/claim', { waitSeconds: 60 }, { 'ablo-participant': 'agent:later' });
    await until(() => queue(t).length === 2);
    expect(queue(t)).toEqual(['mcp', 'later']);
    // Resumed without the ticket: the session resumes its own place (same ticket, same position).
    const second = await mcp.acquire('jobs', 'j1');
    expect(second).toMatchObject({ status: 'waiting', position: 1, ticket: first.ticket });
    expect(queue(t)).toEqual(['mcp', 'later']);

    const resumed = mcp.acquire('jobs', 'j1', { ticket: first.ticket, waitSeconds: 0.3 });
    await t.http('DELETE', `/v1/claims/${holder.body.id}`);
    const granted = await resumed;
    expect(granted.status).toBe('granted');
    if (granted.status !== 'granted') throw new Error('expected granted');
    expect(granted.grant).toMatchObject({ holder: { id: 'mcp' }, data: { id: 'j1' } });
    expect(mcp.waiting()).toEqual([]);
    expect(queue(t)).toEqual(['later']);
    await mcp.releaseAll();
    expect((await later).body).toMatchObject({ holder: { id: 'later' } });
  });

  test('wait: false fails at once; a ticket for another row is refused by name; an unknown ticket is not found', async () => {
    const t = await start();
    expect((await t.http('POST', '/v1/models/jobs', { id: 'j2', data: { title: 'two' } })).status).toBe(201);
    await t.http('POST', '/v1/models/jobs/j1/claim', { leaseSeconds: 600 }, { 'ablo-participant': 'agent:holder' });
    const mcp = session(t, 'mcp', 0.2);
    await expect(mcp.acquire('jobs', 'j1', { wait: false })).rejects.toMatchObject({ code: 'row_claimed' });
    expect(queue(t)).toEqual([]);
    const waiting = await mcp.acquire('jobs', 'j1');
    if (waiting.status !== 'waiting') throw new Error('expected waiting');
    await expect(mcp.acquire('jobs', 'j2', { ticket: waiting.ticket })).rejects.toMatchObject({ type: 'validation_error', code: 'claim_ticket_mismatch', details: { model: 'jobs', id: 'j1' } });
    await expect(mcp.acquire('jobs', 'j1', { ticket: 'ctk_unknown' })).rejects.toMatchObject({ type: 'not_found', code: 'claim_ticket_not_found' });
    // wait: false with its ticket looks at the place without waiting.
    expect(await mcp.acquire('jobs', 'j1', { wait: false, ticket: waiting.ticket })).toMatchObject({ status: 'waiting', position: 1 });
    await mcp.releaseAll();
  });

  test('withdraw leaves the line; cancelling withdraws at once; the session ending gives up its places', async () => {
    const t = await start();
    await t.http('POST', '/v1/models/jobs/j1/claim', { leaseSeconds: 600 }, { 'ablo-participant': 'agent:holder' });
    const mcp = session(t, 'mcp', 0.2);
    expect((await mcp.acquire('jobs', 'j1')).status).toBe('waiting');
    expect(queue(t)).toEqual(['mcp']);
    expect(await mcp.withdraw('jobs', 'j1')).toBe(true);
    expect(queue(t)).toEqual([]);
    expect(await mcp.withdraw('jobs', 'j1')).toBe(false);

    const abort = new AbortController();
    const cancelled = mcp.acquire('jobs', 'j1', { signal: abort.signal }).catch((e: Error) => e);
    await until(() => queue(t).includes('mcp'));
    abort.abort();
    await cancelled;
    await until(() => queue(t).length === 0);

    const other = session(t, 'other', 0.2, 300);
    expect((await other.acquire('jobs', 'j1')).status).toBe('waiting');
    expect(queue(t)).toEqual(['other']);
    await other.releaseAll();
    // Not left blocking the line until its ticket runs out (300 s).
    expect(queue(t)).toEqual([]);
  });

  test('patience and ticket lengths are checked: above 0, at most 240 and 300', () => {
    const api = new EngineApi({ url: 'http://127.0.0.1:1', apiKey: 'sk_test_x' });
    for (const patienceSeconds of [0, -1, 241, Number.NaN]) {
      expect(() => new SessionClaims(api, () => {}, { patienceSeconds })).toThrow(expect.objectContaining({ code: 'invalid_option', details: expect.objectContaining({ field: 'claimPatienceSeconds' }) }));
    }
    expect(() => new SessionClaims(api, () => {}, { ticketSeconds: 301 })).toThrow(expect.objectContaining({ code: 'invalid_option' }));
    expect(new SessionClaims(api, () => {})).toMatchObject({ patienceSeconds: 50, ticketSeconds: 120 });
  });
});
