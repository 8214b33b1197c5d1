/**
 * Fuzz: HTTP bodies (commits, creates, updates, deletes, schema pushes, keys,
 * claims) and query strings (list where/orderBy/limit/startingAfter, one row,
 * /v1/changes) against a live engine process. Every answer: no 500, JSON, a
 * typed error envelope for every refusal, and no change to any row or to
 * lastSyncId from a refused request; the engine stays up and logs no
 * internal error. Seed and count are printed; see harness.ts to replay.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  IDS,
  changesQuery,
  claimText,
  commitText,
  createText,
  deleteText,
  garbageText,
  keyText,
  listQuery,
  name,
  rowId,
  schemaPushText,
  updateText,
} from './arbitraries.js';
import { Snapshots, Tally, assertFuzz, expectTypedError, fuzzParams, health, internalErrors, schema, seg, startFuzzEngine, type FuzzEngine } from './harness.js';

let engine: FuzzEngine;
let snaps: Snapshots;
let state: { rows: string; lastSyncId: number };

beforeAll(async () => {
  engine = await startFuzzEngine();
  snaps = new Snapshots(engine);
  const res = await send('POST', '/v1/commits', JSON.stringify({
    operations: [
      ...['n1', 'n2', 'n3'].map((id) => ({ op: 'create', model: 'notes', id, data: { title: `note ${id}`, meta: { a: [1, 'x'] } } })),
      ...['t1', 't2'].map((id) => ({ op: 'create', model: 'tasks', id, data: { title: `task ${id}`, projectId: 'p1' } })),
    ],
  }));
  expect(res.status).toBe(200);
  state = await snaps.take();
});
afterAll(async () => {
  snaps?.close();
  await engine?.stop();
});

interface Req {
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(engine.url + path, {
    method,
    headers: { authorization: `Bearer ${engine.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // checked below
  }
  return { status: res.status, body: parsed, text };
}

/** Send one fuzzed request and check the answer and the data. */
async function probe(tally: Tally, req: Req): Promise<void> {
  tally.count++;
  const what = `${req.method} ${req.path.slice(0, 200)} ${req.body?.slice(0, 300) ?? ''}`;
  const res = await send(req.method, req.path, req.body, req.headers);
  expect(res.status, `${what} → ${res.text.slice(0, 300)}`).not.toBe(500);
  expect(res.status, what).toBeLessThan(500);
  expect(res.body, `${what}: a JSON answer, got ${res.text.slice(0, 200)}`).not.toBe(undefined);
  tally.saw(res.status >= 400 ? `${res.status} ${res.body?.error?.code}${process.env.FUZZ_DEBUG ? ` ${req.method} ${req.path.split("?")[0]!.slice(0,30)} ${res.body?.error?.field}` : ""}` : String(res.status));
  const after = await snaps.take();
  if (res.status >= 400) {
    tally.refused++;
    expectTypedError(res.body?.error, what);
    expect(after.lastSyncId, `${what}: refused, so lastSyncId is unchanged`).toBe(state.lastSyncId);
    expect(after.rows === state.rows, `${what}: refused, so no row changed`).toBe(true);
  }
  expect(internalErrors(engine.stderr()), what).toEqual([]);
  state = after;
}

const model = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('notes', 'tasks') }, { weight: 1, arbitrary: name });
const header = fc.oneof(
  { weight: 24, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.constantFrom('k1', 'k2', '', 'x'.repeat(300)).map((v) => ({ 'idempotency-key': v })) },
  { weight: 1, arbitrary: fc.constantFrom('agent:fuzz', 'robot:x', ':', 'user:', '__proto__:x', `user:${'x'.repeat(300)}`).map((v) => ({ 'ablo-participant': v })) },
  { weight: 1, arbitrary: fc.constantFrom('deep-json', 'yes', '').map((v) => ({ 'ablo-restore': v })) },
  { weight: 1, arbitrary: fc.constantFrom('clm_x', ',', 'a,b', '__proto__').map((v) => ({ 'ablo-claim': v })) },
);
const body = (a: fc.Arbitrary<string>) => fc.oneof({ weight: 9, arbitrary: a }, { weight: 1, arbitrary: garbageText });

const bodyRequest: fc.Arbitrary<Req> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(body(commitText), header).map(([b, h]) => ({ method: 'POST', path: '/v1/commits', body: b, headers: h })) },
  { weight: 4, arbitrary: fc.tuple(model, body(createText), header).map(([m, b, h]) => ({ method: 'POST', path: `/v1/models/${seg(m)}`, body: b, headers: h })) },
  { weight: 4, arbitrary: fc.tuple(model, rowId, body(updateText), header).map(([m, id, b, h]) => ({ method: 'PATCH', path: `/v1/models/${seg(m)}/${seg(id)}`, body: b, headers: h })) },
  { weight: 1, arbitrary: fc.tuple(model, rowId, fc.option(body(deleteText))).map(([m, id, b]) => ({ method: 'DELETE', path: `/v1/models/${seg(m)}/${seg(id)}`, ...(b !== null ? { body: b } : {}) })) },
  { weight: 2, arbitrary: body(schemaPushText(schema.serialized as unknown as { models: Record<string, unknown> })).map((b) => ({ method: 'POST', path: '/v1/schema', body: b })) },
  { weight: 1, arbitrary: body(keyText).map((b) => ({ method: 'POST', path: '/v1/keys', body: b })) },
  { weight: 1, arbitrary: fc.tuple(model, rowId, body(claimText)).map(([m, id, b]) => ({ method: 'POST', path: `/v1/models/${seg(m)}/${seg(id)}/claim`, body: b })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('clm_x', ...IDS), fc.constantFrom('DELETE', 'POST')).map(([id, m]) => (m === 'DELETE' ? { method: m, path: `/v1/claims/${seg(id)}` } : { method: m, path: `/v1/claims/${seg(id)}/renew`, body: '{"leaseSeconds":5}' })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('POST', 'PATCH', 'PUT', 'DELETE'), fc.array(name.map(seg), { maxLength: 4 }), garbageText).map(([m, segs, b]) => ({ method: m, path: `/v1/${segs.join('/')}`, body: b })) },
);

const queryRequest: fc.Arbitrary<Req> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(model, listQuery).map(([m, q]) => ({ method: 'GET', path: `/v1/models/${seg(m)}?${q}` })) },
  { weight: 2, arbitrary: fc.tuple(model, rowId).map(([m, id]) => ({ method: 'GET', path: `/v1/models/${seg(m)}/${seg(id)}` })) },
  { weight: 2, arbitrary: changesQuery.map((q) => ({ method: 'GET', path: `/v1/changes?${q}` })) },
  { weight: 1, arbitrary: fc.tuple(model, rowId).map(([m, id]) => ({ method: 'GET', path: `/v1/models/${seg(m)}/${seg(id)}/claim` })) },
  { weight: 1, arbitrary: fc.array(name.map(seg), { maxLength: 4 }).map((segs) => ({ method: 'GET', path: `/v1/${segs.join('/')}?${segs.join('=')}` })) },
);

describe('fuzz: HTTP', () => {
  test('request bodies: commits, creates, updates, deletes, schema pushes, keys, claims', async () => {
    const tally = new Tally('HTTP bodies');
    await assertFuzz(fc.asyncProperty(bodyRequest, (req) => probe(tally, req)), fuzzParams(3500, 9000));
    tally.report();
    expect(tally.count).toBeGreaterThan(0);
    await health(engine);
    expect(engine.exited()).toBe(false);
  }, 120_000);

  test('query strings: list where/orderBy/limit/startingAfter, one row, changes', async () => {
    const tally = new Tally('HTTP queries');
    await assertFuzz(fc.asyncProperty(queryRequest, (req) => probe(tally, req)), fuzzParams(3000, 6000));
    tally.report();
    expect(tally.count).toBeGreaterThan(0);
    await health(engine);
    expect(engine.exited()).toBe(false);
    expect(internalErrors(engine.stderr())).toEqual([]);
  }, 120_000);
});
