/**
 * Claims on a real engine (port 0, SQLite in a temp dir) with real sockets:
 * fair FIFO hand-off under contention, fail-fast and queue limits, lease
 * expiry, disconnects, the write check, live visibility and the HTTP routes.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { AbloClaimedError, AbloNotFoundError, AbloPermissionError } from '../../src/errors.js';
import { claimGrantSchema, claimsFrameSchema, claimStateSchema } from '../../src/protocol/claims.js';
import { serverFrameSchema } from '../../src/protocol/sync.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine, type TestSocket, memoryClaims } from '../helpers/engine.js';

const schema = defineSchema({
  counters: model({ n: z.number().int().default(0) }),
  tasks: model({ title: z.string(), projectId: z.string() }, {}, { syncGroupFormat: 'project:{projectId}' }),
});

const engines: TestEngine[] = [];
async function start(s: Parameters<typeof startTestEngine>[0] = schema): Promise<TestEngine> {
  const t = await startTestEngine(s);
  engines.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

let refCounter = 0;
/** Send a frame with a fresh ref; resolve with the answer carrying that ref. */
function call(s: TestSocket, frame: Record<string, unknown>, timeoutMs = 10_000): Promise<any> {
  const ref = `q${++refCounter}`;
  s.send({ ...frame, ref });
  return s.next((f) => f.ref === ref && f.type !== 'claims', timeoutMs);
}

async function agent(t: TestEngine, id: string, groups: string[] = ['default']): Promise<TestSocket> {
  const s = await t.socket();
  await s.hello({ apiKey: t.key, participant: { kind: 'agent', id }, groups });
  return s;
}

function claimsFor(s: TestSocket, model: string, id: string, pred: (f: any) => boolean = () => true, timeoutMs = 10_000): Promise<any> {
  return s.next((f) => f.type === 'claims' && f.model === model && f.id === id && pred(f), timeoutMs);
}

const holds = (agentId: string) => (f: any) => f.claim?.holder.id === agentId;
const waits = (agentId: string) => (f: any) => f.queue.some((q: any) => q.participant.id === agentId);

async function seedCounters(t: TestEngine, ids: string[]): Promise<void> {
  const res = await t.http('POST', '/v1/commits', { operations: ids.map((id) => ({ op: 'create', model: 'counters', id, data: { n: 0 } })) });
  expect(res.status).toBe(200);
}

describe('contention: 50 agents, 5 rows', () => {
  test('holds never overlap, grants follow request order, each grant sees the previous write, every row ends at 10', async () => {
    const t = await start();
    const rows = ['c0', 'c1', 'c2', 'c3', 'c4'];
    await seedCounters(t, rows);
    const observer = await agent(t, 'observer');
    const agents = await Promise.all(Array.from({ length: 50 }, (_, i) => agent(t, `a${i}`)));

    let clock = 0; // logical time in this process: every grant and release gets the next tick
    const holding = new Map<string, string>();
    const overlaps: string[] = [];
    const records = new Map<string, Array<{ agent: number; order: number; grantAt: number; releaseAt: number; seen: number; seenSyncId: number; wroteSyncId: number }>>();
    for (const r of rows) records.set(r, []);
    // First holders keep their rows until every request is queued, so each row has a real line of 9.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));

    const run = async (i: number, row: string, order: number): Promise<void> => {
      const s = agents[i]!;
      const answer = await call(s, { type: 'claim', model: 'counters', id: row, action: `increment #${order}` }, 30_000);
      expect(answer.type).toBe('claim_granted');
      const grantAt = ++clock;
      if (holding.has(row)) overlaps.push(`${row}: a${i} granted while ${holding.get(row)} held it`);
      holding.set(row, `a${i}`);
      const grant = claimGrantSchema.parse(answer.claim);
      expect(grant).toMatchObject({ model: 'counters', rowId: row, holder: { kind: 'agent', id: `a${i}` }, action: `increment #${order}` });
      const n = grant.data.n as number;
      await gate;
      const receipt = await call(s, { type: 'commit', commit: { operations: [{ op: 'update', model: 'counters', id: row, data: { n: n + 1 } }] } });
      expect(receipt.type).toBe('receipt');
      holding.delete(row);
      const releaseAt = ++clock;
      records.get(row)!.push({ agent: i, order, grantAt, releaseAt, seen: n, seenSyncId: grant.data.syncId, wroteSyncId: receipt.receipt.lastSyncId });
      const released = await call(s, { type: 'release', claimId: grant.id });
      expect(released).toMatchObject({ type: 'released', claimId: grant.id });
    };

    // Send the claims in a known order; each is queued (seen in the broadcast queue) before the next is sent.
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const row = rows[i % 5]!;
      runs.push(run(i, row, Math.floor(i / 5)));
      await claimsFor(observer, 'counters', row, (f) => holds(`a${i}`)(f) || waits(`a${i}`)(f));
    }
    for (const row of rows) expect(memoryClaims(t.engine).state('counters', row).queue.map((q) => q.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    openGate();
    await Promise.all(runs);

    expect(overlaps).toEqual([]);
    for (const row of rows) {
      const recs = records.get(row)!.sort((a, b) => a.grantAt - b.grantAt);
      expect(recs).toHaveLength(10);
      // Grants in request order.
      expect(recs.map((r) => r.order)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      for (let k = 0; k < recs.length; k++) {
        // Hold intervals never overlap.
        if (k > 0) expect(recs[k]!.grantAt).toBeGreaterThan(recs[k - 1]!.releaseAt);
        expect(recs[k]!.releaseAt).toBeGreaterThan(recs[k]!.grantAt);
        // Each grant carries the previous holder's write.
        expect(recs[k]!.seen).toBe(k);
        if (k > 0) expect(recs[k]!.seenSyncId).toBe(recs[k - 1]!.wroteSyncId);
      }
      expect((await t.http('GET', `/v1/models/counters/${row}`)).body.n).toBe(10);
      expect(memoryClaims(t.engine).state('counters', row)).toEqual({ claim: null, queue: [] });
    }
    expect(memoryClaims(t.engine).size).toBe(0);
  });

  test('a write sent just before the release (receipt not awaited) still lands under the claim and reaches the next holder', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const a = await agent(t, 'a');
    const b = await agent(t, 'b');
    const granted = await call(a, { type: 'claim', model: 'counters', id: 'c0' });
    const bGrant = call(b, { type: 'claim', model: 'counters', id: 'c0' });
    await claimsFor(a, 'counters', 'c0', waits('b'));
    // No waiting between the three frames.
    a.send({ type: 'commit', ref: 'w', commit: { operations: [{ op: 'update', model: 'counters', id: 'c0', data: { n: 41 } }] } });
    a.send({ type: 'release', ref: 'rel', claimId: granted.claim.id });
    expect(await a.next((f) => f.ref === 'w')).toMatchObject({ type: 'receipt' });
    expect(await a.next((f) => f.ref === 'rel')).toMatchObject({ type: 'released' });
    const next = await bGrant;
    expect(next.type).toBe('claim_granted');
    expect(next.claim.data.n).toBe(41);
  });
});

describe('fail fast, queue limits, re-claims', () => {
  test('wait: false fails at once naming the holder; maxQueueDepth refuses when that many wait ahead', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((id) => agent(t, id)));
    const held = await call(a!, { type: 'claim', model: 'counters', id: 'c0', action: 'summarizing' });
    expect(held.type).toBe('claim_granted');

    const refused = await call(b!, { type: 'claim', model: 'counters', id: 'c0', wait: false });
    expect(refused.type).toBe('error');
    expect(refused.error).toMatchObject({
      type: 'claimed',
      code: 'row_claimed',
      holder: { kind: 'agent', id: 'a' },
      claimId: held.claim.id,
      expiresAt: held.claim.expiresAt,
    });
    expect(refused.error.message).toContain('agent a ("summarizing")');
    expect(refused.error.message).toMatch(/claim\(\)/);
    expect(memoryClaims(t.engine).state('counters', 'c0').queue).toEqual([]);

    const cWait = call(c!, { type: 'claim', model: 'counters', id: 'c0' });
    await claimsFor(a!, 'counters', 'c0', waits('c'));
    const full = await call(d!, { type: 'claim', model: 'counters', id: 'c0', maxQueueDepth: 1 });
    expect(full.error).toMatchObject({ type: 'claimed', code: 'queue_full', holder: { id: 'a' } });
    const zero = await call(d!, { type: 'claim', model: 'counters', id: 'c0', maxQueueDepth: 0 });
    expect(zero.error.code).toBe('queue_full');
    const dWait = call(d!, { type: 'claim', model: 'counters', id: 'c0', maxQueueDepth: 2 });
    const queued = await claimsFor(a!, 'counters', 'c0', waits('d'));
    expect(queued.queue.map((q: any) => [q.participant.id, q.position])).toEqual([
      ['c', 1],
      ['d', 2],
    ]);

    await call(a!, { type: 'release', claimId: held.claim.id });
    const cGrant = await cWait;
    expect(cGrant.claim.holder.id).toBe('c');
    await call(c!, { type: 'release', claimId: cGrant.claim.id });
    expect((await dWait).claim.holder.id).toBe('d');
  });

  test('another connection of the same credential takes over a held claim by id (resume); a wrong row or id is not found', async () => {
    const t = await start();
    await seedCounters(t, ['c0', 'c1']);
    const [a, b] = await Promise.all(['a', 'b'].map((id) => agent(t, id)));
    const held = await call(a!, { type: 'claim', model: 'counters', id: 'c0', leaseSeconds: 5 });
    const wrongRow = await call(b!, { type: 'claim', model: 'counters', id: 'c1', resume: held.claim.id });
    expect(wrongRow.error).toMatchObject({ type: 'not_found', code: 'claim_not_found' });
    const wrongId = await call(b!, { type: 'claim', model: 'counters', id: 'c0', resume: 'clm_nope' });
    expect(wrongId.error).toMatchObject({ type: 'not_found', code: 'claim_not_found' });

    const resumed = await call(b!, { type: 'claim', model: 'counters', id: 'c0', resume: held.claim.id });
    expect(resumed.type).toBe('claim_granted');
    expect(resumed.claim).toMatchObject({ id: held.claim.id, holder: { id: 'a' }, data: { id: 'c0' } });
    expect(Date.parse(resumed.claim.expiresAt)).toBeGreaterThanOrEqual(Date.parse(held.claim.expiresAt));
    // The claim is b's connection's now: a can no longer release it, b can.
    const byA = await call(a!, { type: 'release', claimId: held.claim.id });
    expect(byA.error).toMatchObject({ type: 'permission_error', code: 'not_claim_owner' });
    expect((await call(b!, { type: 'release', claimId: held.claim.id })).type).toBe('released');
  });

  test('claiming a row you hold returns the same claim, renewed; claiming a missing row is not found', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const a = await agent(t, 'a');
    const first = await call(a, { type: 'claim', model: 'counters', id: 'c0', leaseSeconds: 5 });
    const again = await call(a, { type: 'claim', model: 'counters', id: 'c0', leaseSeconds: 60 });
    expect(again.type).toBe('claim_granted');
    expect(again.claim.id).toBe(first.claim.id);
    expect(again.claim.leaseSeconds).toBe(60);
    expect(Date.parse(again.claim.expiresAt)).toBeGreaterThan(Date.parse(first.claim.expiresAt));
    expect(again.claim.data.id).toBe('c0');

    const missing = await call(a, { type: 'claim', model: 'counters', id: 'nope' });
    expect(missing.error).toMatchObject({ type: 'not_found', code: 'row_not_found' });
    const unknownModel = await call(a, { type: 'claim', model: 'ghosts', id: 'x' });
    expect(unknownModel.error.type).toBe('validation_error');
    const badLease = await call(a, { type: 'claim', model: 'counters', id: 'c0', leaseSeconds: 0 });
    expect(badLease.error).toMatchObject({ type: 'validation_error', field: 'leaseSeconds' });
    expect(memoryClaims(t.engine).size).toBe(1);

    // Release by row (model + id) also withdraws a waiting request; a release names one or the other.
    const b = await agent(t, 'b');
    const bWaits = call(b, { type: 'claim', model: 'counters', id: 'c0' });
    await claimsFor(a, 'counters', 'c0', waits('b'));
    const withdrawn = await call(b, { type: 'release', model: 'counters', id: 'c0' });
    expect(withdrawn.type).toBe('released');
    expect((await bWaits).error).toMatchObject({ type: 'claimed', code: 'claim_cancelled' });
    expect((await call(b, { type: 'release', model: 'counters', id: 'c0' })).error.code).toBe('claim_not_found');
    expect((await call(b, { type: 'release', claimId: first.claim.id })).error.code).toBe('not_claim_owner');
    expect((await call(b, { type: 'release' })).error.code).toBe('invalid_request');
    expect((await call(a, { type: 'release', model: 'counters', id: 'c0' })).claimId).toBe(first.claim.id);
    expect(memoryClaims(t.engine).size).toBe(0);
  });

  test('direct ClaimManager use: FIFO, check, owner release, errors', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const claims = memoryClaims(t.engine);
    const who = (id: string) => ({ kind: 'agent' as const, id });
    const g1 = await claims.acquire({ model: 'counters', id: 'c0', participant: who('x'), owner: 'owner-x' });
    const order: string[] = [];
    const w2 = claims.acquire({ model: 'counters', id: 'c0', participant: who('y'), owner: 'owner-y' }).then((g) => (order.push('y'), g));
    const w3 = claims.acquire({ model: 'counters', id: 'c0', participant: who('z') }).then((g) => (order.push('z'), g));
    expect(claims.state('counters', 'c0').queue.map((q) => q.participant.id)).toEqual(['y', 'z']);

    expect(() => claims.check('counters', 'c0', 'owner-x')).not.toThrow();
    expect(() => claims.check('counters', 'c0', ['other', 'owner-x'])).not.toThrow();
    expect(() => claims.check('counters', 'c0', 'owner-y')).toThrow(AbloClaimedError);
    expect(() => claims.check('counters', 'other-row', 'anyone')).not.toThrow();
    await expect(claims.release(g1.id, 'owner-y')).rejects.toBeInstanceOf(AbloPermissionError);
    expect(() => claims.renew(g1.id, 'owner-y')).toThrow(AbloPermissionError);

    claims.releaseOwner('owner-x');
    const g2 = await w2;
    expect(g2.holder.id).toBe('y');
    await expect(claims.release(g1.id, 'owner-x')).rejects.toBeInstanceOf(AbloNotFoundError);
    await claims.release(g2.id, 'owner-y');
    const g3 = await w3;
    // Without an owner the claim owns itself (HTTP style).
    expect(() => claims.check('counters', 'c0', g3.id)).not.toThrow();
    expect(order).toEqual(['y', 'z']);
    await claims.release(g3.id, g3.id);
    expect(claims.size).toBe(0);
  });
});

describe('losing the row', () => {
  test('a holder that stops renewing loses the row at lease expiry; the next waiter is granted', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const a = await agent(t, 'a');
    const b = await agent(t, 'b');
    const held = await call(a, { type: 'claim', model: 'counters', id: 'c0', leaseSeconds: 1 });
    const renewed = await call(a, { type: 'renew', claimId: held.claim.id });
    expect(renewed.type).toBe('renewed');
    expect(Date.parse(renewed.claim.expiresAt)).toBeGreaterThanOrEqual(Date.parse(held.claim.expiresAt));
    // A renew without a ref is answered without one.
    a.send({ type: 'renew', claimId: held.claim.id, leaseSeconds: 1 });
    const unref = await a.next('renewed');
    expect(unref.ref).toBeUndefined();

    const bGrant = await call(b, { type: 'claim', model: 'counters', id: 'c0' }, 10_000);
    expect(bGrant.type).toBe('claim_granted');
    expect(Date.parse(bGrant.claim.acquiredAt)).toBeGreaterThanOrEqual(Date.parse(unref.claim.expiresAt) - 5);

    // The old holder is now an outsider.
    const late = await call(a, { type: 'commit', commit: { operations: [{ op: 'update', model: 'counters', id: 'c0', data: { n: 1 } }] } });
    expect(late.error).toMatchObject({ type: 'claimed', holder: { id: 'b' } });
    const lateRenew = await call(a, { type: 'renew', claimId: held.claim.id });
    expect(lateRenew.error).toMatchObject({ type: 'not_found', code: 'claim_not_found' });
  });

  test('a holder whose socket drops loses the row at once, and its queued requests vanish', async () => {
    const t = await start();
    await seedCounters(t, ['c0', 'c1']);
    const a = await agent(t, 'a');
    const b = await agent(t, 'b');
    const c = await agent(t, 'c');
    const observer = await agent(t, 'observer');
    await call(a, { type: 'claim', model: 'counters', id: 'c0', leaseSeconds: 3600 });
    await call(b, { type: 'claim', model: 'counters', id: 'c1', leaseSeconds: 3600 });
    const aWaits = call(a, { type: 'claim', model: 'counters', id: 'c1' }).catch(() => 'closed');
    await claimsFor(observer, 'counters', 'c1', waits('a'));
    const cWaits = call(c, { type: 'claim', model: 'counters', id: 'c0' });
    await claimsFor(observer, 'counters', 'c0', waits('c'));

    a.close();
    const cGrant = await cWaits;
    expect(cGrant.claim.holder.id).toBe('c');
    expect(await aWaits).toBe('closed');
    const c1 = await claimsFor(observer, 'counters', 'c1', (f) => f.queue.length === 0);
    expect(c1.claim.holder.id).toBe('b');
    expect(memoryClaims(t.engine).state('counters', 'c1')).toMatchObject({ claim: { holder: { id: 'b' } }, queue: [] });
  });

  test('a row deleted under its claim: the holder may delete it, waiters then get not found', async () => {
    const t = await start();
    await t.http('POST', '/v1/models/tasks', { id: 'ta', data: { title: 'in a', projectId: 'a' } });
    const a = await agent(t, 'a', ['project:a']);
    const b = await agent(t, 'b', ['project:a']);
    const observer = await agent(t, 'observer', ['project:a']);
    const held = await call(a, { type: 'claim', model: 'tasks', id: 'ta' });
    const bWaits = call(b, { type: 'claim', model: 'tasks', id: 'ta' });
    await claimsFor(observer, 'tasks', 'ta', waits('b'));
    expect((await call(a, { type: 'commit', commit: { operations: [{ op: 'delete', model: 'tasks', id: 'ta' }] } })).type).toBe('receipt');
    // Still claimed after the delete: nobody else can re-create that id meanwhile.
    const recreate = await t.http('POST', '/v1/models/tasks', { id: 'ta', data: { title: 'again', projectId: 'a' } });
    expect(recreate.status).toBe(409);
    await call(a, { type: 'release', claimId: held.claim.id });
    expect((await bWaits).error).toMatchObject({ type: 'not_found', code: 'row_not_found' });
    // Observers in the row's (former) groups see it freed.
    expect(await claimsFor(observer, 'tasks', 'ta', (f) => f.claim === null)).toMatchObject({ queue: [] });
    expect(memoryClaims(t.engine).size).toBe(0);
  });

  test('an HTTP waiter that disconnects leaves the queue', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const a = await agent(t, 'a');
    const observer = await agent(t, 'observer');
    const held = await call(a, { type: 'claim', model: 'counters', id: 'c0' });
    const abort = new AbortController();
    const waiting = fetch(`${t.url}/v1/models/counters/c0/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json', 'ablo-participant': 'agent:http-waiter' },
      body: JSON.stringify({ waitSeconds: 120 }),
      signal: abort.signal,
    }).catch((err: Error) => err.name);
    await claimsFor(observer, 'counters', 'c0', waits('http-waiter'));
    abort.abort();
    expect(await waiting).toBe('AbortError');
    const left = await claimsFor(observer, 'counters', 'c0', (f) => f.queue.length === 0);
    expect(left.claim.holder.id).toBe('a');
    await call(a, { type: 'release', claimId: held.claim.id });
    expect(await claimsFor(observer, 'counters', 'c0', (f) => f.claim === null)).toMatchObject({ queue: [] });
    expect(memoryClaims(t.engine).size).toBe(0);
  });
});

describe('writes to a claimed row', () => {
  test("a non-holder's write fails naming the holder; the holder's succeeds; reads are never blocked", async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const a = await agent(t, 'a');
    const b = await agent(t, 'b');
    const held = await call(a, { type: 'claim', model: 'counters', id: 'c0', action: 'counting' });

    const httpWrite = await t.http('PATCH', '/v1/models/counters/c0', { data: { n: 5 } });
    expect(httpWrite.status).toBe(409);
    expect(httpWrite.body.error).toMatchObject({ type: 'claimed', code: 'row_claimed', holder: { kind: 'agent', id: 'a' }, claimId: held.claim.id });
    expect(httpWrite.body.error.message).toContain('agent a ("counting")');
    const httpDelete = await t.http('DELETE', '/v1/models/counters/c0');
    expect(httpDelete.status).toBe(409);
    const wrongHeader = await t.http('PATCH', '/v1/models/counters/c0', { data: { n: 5 } }, { 'ablo-claim': held.claim.id });
    expect(wrongHeader.status).toBe(409); // a socket's claim belongs to its connection
    const socketWrite = await call(b, { type: 'commit', commit: { operations: [{ op: 'update', model: 'counters', id: 'c0', data: { n: 6 } }] } });
    expect(socketWrite.error).toMatchObject({ type: 'claimed', holder: { id: 'a' } });
    // A batch touching the claimed row fails as a whole.
    const batch = await t.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'counters', id: 'free', data: { n: 1 } },
        { op: 'update', model: 'counters', id: 'c0', data: { n: 7 } },
      ],
    });
    expect(batch.status).toBe(409);
    expect((await t.http('GET', '/v1/models/counters/free')).status).toBe(404);

    // Reads are never blocked; creates of other ids pass.
    expect((await t.http('GET', '/v1/models/counters/c0')).body.n).toBe(0);
    expect((await t.http('GET', '/v1/models/counters')).body.data).toHaveLength(1);
    expect((await t.http('POST', '/v1/models/counters', { id: 'other', data: { n: 1 } })).status).toBe(201);

    const mine = await call(a, { type: 'commit', commit: { operations: [{ op: 'update', model: 'counters', id: 'c0', data: { n: 1 } }] } });
    expect(mine.type).toBe('receipt');
    await call(a, { type: 'release', claimId: held.claim.id });
    expect((await t.http('PATCH', '/v1/models/counters/c0', { data: { n: 2 } })).status).toBe(200);
  });

  test('an HTTP claim is presented with Ablo-Claim; without it (or from a socket) the write fails', async () => {
    const t = await start();
    await seedCounters(t, ['c0', 'c1']);
    const b = await agent(t, 'b');
    const claim = await t.http('POST', '/v1/models/counters/c0/claim', { action: 'fixing' }, { 'ablo-participant': 'agent:http-bot' });
    expect(claim.status).toBe(200);
    const id = claim.body.id;

    const withHeader = await t.http('PATCH', '/v1/models/counters/c0', { data: { n: 3 } }, { 'ablo-claim': id });
    expect(withHeader.status).toBe(200);
    expect(withHeader.body.n).toBe(3);
    const without = await t.http('PATCH', '/v1/models/counters/c0', { data: { n: 4 } });
    expect(without.status).toBe(409);
    expect(without.body.error).toMatchObject({ holder: { kind: 'agent', id: 'http-bot' }, action: 'fixing' });
    const fromSocket = await call(b, { type: 'commit', commit: { operations: [{ op: 'update', model: 'counters', id: 'c0', data: { n: 4 } }] } });
    expect(fromSocket.error.type).toBe('claimed');

    // Several claims in one header cover a batch.
    const other = await t.http('POST', '/v1/models/counters/c1/claim', {});
    const batch = await t.http(
      'POST',
      '/v1/commits',
      {
        operations: [
          { op: 'update', model: 'counters', id: 'c0', data: { n: 10 } },
          { op: 'update', model: 'counters', id: 'c1', data: { n: 11 } },
        ],
      },
      { 'ablo-claim': `${id}, ${other.body.id}` },
    );
    expect(batch.status).toBe(200);

    // Claiming again while presenting the claim renews it instead of queueing behind yourself.
    const again = await t.http('POST', '/v1/models/counters/c0/claim', { leaseSeconds: 90 }, { 'ablo-claim': id });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id, leaseSeconds: 90, data: { n: 10 } });
  });
});

describe('live visibility', () => {
  test('claim state and queue reach subscribers of the row groups live; other groups get nothing; new clients see existing claims', async () => {
    const t = await start();
    await t.http('POST', '/v1/models/tasks', { id: 'ta', data: { title: 'in a', projectId: 'a' } });
    const holder = await agent(t, 'holder', ['project:a']);
    const waiter = await agent(t, 'waiter', ['none']);
    const observer = await agent(t, 'observer', ['project:a']);
    const outsider = await agent(t, 'outsider', ['project:b']);

    const held = await call(holder, { type: 'claim', model: 'tasks', id: 'ta', action: 'triage' });
    const f1 = claimsFrameSchema.parse(await claimsFor(observer, 'tasks', 'ta', holds('holder')));
    expect(f1).toMatchObject({ claim: { id: held.claim.id, holder: { kind: 'agent', id: 'holder' }, action: 'triage' }, queue: [] });
    expect(serverFrameSchema.safeParse({ ...f1 }).success).toBe(true);

    const waited = call(waiter, { type: 'claim', model: 'tasks', id: 'ta', action: 'review' });
    const f2 = await claimsFor(observer, 'tasks', 'ta', waits('waiter'));
    expect(f2.queue).toEqual([{ participant: { kind: 'agent', id: 'waiter' }, action: 'review', requestedAt: expect.any(String), position: 1 }]);
    // The waiter is not subscribed to project:a but hears about the row it waits for.
    expect(await claimsFor(waiter, 'tasks', 'ta', waits('waiter'))).toMatchObject({ type: 'claims', model: 'tasks', id: 'ta' });

    // A client connecting now sees the existing claim right after its bootstrap.
    const late = await t.socket();
    const { frames } = await late.hello({ apiKey: t.key, groups: ['project:a'] });
    const snapshot = frames.find((f) => f.type === 'claims') ?? (await claimsFor(late, 'tasks', 'ta'));
    expect(snapshot).toMatchObject({ model: 'tasks', id: 'ta', claim: { holder: { id: 'holder' } }, queue: [{ participant: { id: 'waiter' } }] });

    await call(holder, { type: 'release', claimId: held.claim.id });
    const f3 = await claimsFor(observer, 'tasks', 'ta', holds('waiter'));
    expect(f3.queue).toEqual([]);
    const granted = await waited;
    expect(granted.claim.data).toMatchObject({ id: 'ta', projectId: 'a' });

    const state = await call(observer, { type: 'claim_state', model: 'tasks', id: 'ta' });
    expect(claimStateSchema.parse(state)).toMatchObject({ claim: { holder: { id: 'waiter' } }, queue: [] });
    expect((await call(observer, { type: 'claim_state', model: 'tasks', id: 'nope' })).error.code).toBe('row_not_found');

    waiter.close();
    expect(await claimsFor(observer, 'tasks', 'ta', (f) => f.claim === null)).toMatchObject({ queue: [] });

    // The outsider (project:b) got none of it: a ping round trip flushes anything in flight.
    outsider.send({ type: 'ping', t: 1 });
    await outsider.next('pong');
    expect(outsider.frames.filter((f) => f.type === 'claims')).toEqual([]);
  });
});

describe('HTTP routes', () => {
  test('acquire, state, renew, release', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const got = await t.http('POST', '/v1/models/counters/c0/claim', { leaseSeconds: 10, action: 'audit' }, { 'ablo-participant': 'agent:auditor' });
    expect(got.status).toBe(200);
    const grant = claimGrantSchema.parse(got.body);
    expect(grant).toMatchObject({
      object: 'claim',
      model: 'counters',
      rowId: 'c0',
      holder: { kind: 'agent', id: 'auditor' },
      action: 'audit',
      leaseSeconds: 10,
      data: { id: 'c0', n: 0 },
    });
    expect(grant.id).toMatch(/^clm_[0-9A-Z]{26}$/);

    const state = await t.http('GET', '/v1/models/counters/c0/claim');
    expect(state.status).toBe(200);
    expect(state.body).toEqual({ claim: { ...grant, data: undefined }, queue: [] });
    expect(claimStateSchema.parse(state.body).claim?.id).toBe(grant.id);

    const renewed = await t.http('POST', `/v1/claims/${grant.id}/renew`, { leaseSeconds: 120 });
    expect(renewed.status).toBe(200);
    expect(renewed.body).toMatchObject({ id: grant.id, leaseSeconds: 120 });
    expect(Date.parse(renewed.body.expiresAt)).toBeGreaterThan(Date.parse(grant.expiresAt));
    expect((await t.http('POST', `/v1/claims/${grant.id}/renew`)).status).toBe(200);

    const released = await t.http('DELETE', `/v1/claims/${grant.id}`);
    expect(released).toMatchObject({ status: 200, body: { object: 'claim', id: grant.id, released: true } });
    expect((await t.http('GET', '/v1/models/counters/c0/claim')).body).toEqual({ claim: null, queue: [] });
    const twice = await t.http('DELETE', `/v1/claims/${grant.id}`);
    expect(twice.status).toBe(404);
    expect(twice.body.error.code).toBe('claim_not_found');
    expect((await t.http('POST', `/v1/claims/${grant.id}/renew`, {})).status).toBe(404);
  });

  test('404 for a missing row, 400 for bad options, 403 releasing a socket claim', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const missing = await t.http('POST', '/v1/models/counters/nope/claim', {});
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ type: 'not_found', code: 'row_not_found' });
    expect((await t.http('GET', '/v1/models/counters/nope/claim')).status).toBe(404);
    expect((await t.http('POST', '/v1/models/ghosts/x/claim', {})).status).toBe(400);
    expect(memoryClaims(t.engine).size).toBe(0);

    for (const body of [
      { leaseSeconds: 0 },
      { leaseSeconds: 3601 },
      { leaseSeconds: 1.5 },
      { action: 'x'.repeat(201) },
      { maxQueueDepth: -1 },
      { waitSeconds: 301 },
      { waitSeconds: 0 },
      { wait: 'yes' },
      { colour: 'blue' },
    ]) {
      const res = await t.http('POST', '/v1/models/counters/c0/claim', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.type).toBe('validation_error');
    }
    expect((await t.http('POST', '/v1/models/counters/c0/claim', '{nope')).status).toBe(400);
    expect(memoryClaims(t.engine).size).toBe(0);

    const a = await agent(t, 'a');
    const held = await call(a, { type: 'claim', model: 'counters', id: 'c0' });
    const steal = await t.http('DELETE', `/v1/claims/${held.claim.id}`);
    expect(steal.status).toBe(403);
    expect(steal.body.error).toMatchObject({ type: 'permission_error', code: 'not_claim_owner', holder: { id: 'a' } });
    const stealRenew = await t.http('POST', `/v1/claims/${held.claim.id}/renew`, {});
    expect(stealRenew.status).toBe(403);
    const busy = await t.http('POST', '/v1/models/counters/c0/claim', { wait: false });
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ type: 'claimed', code: 'row_claimed', holder: { id: 'a' } });
  });

  test('a waiting request long-polls until granted, or times out and leaves the queue', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const observer = await agent(t, 'observer');
    const first = await t.http('POST', '/v1/models/counters/c0/claim', {}, { 'ablo-participant': 'agent:first' });
    const patch = await t.http('PATCH', '/v1/models/counters/c0', { data: { n: 9 } }, { 'ablo-claim': first.body.id });
    expect(patch.status).toBe(200);

    const timedOut = t.http('POST', '/v1/models/counters/c0/claim', { waitSeconds: 0.2 }, { 'ablo-participant': 'agent:impatient' });
    const res = await timedOut;
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ type: 'claimed', code: 'claim_wait_timeout', holder: { id: 'first' } });
    expect((await t.http('GET', '/v1/models/counters/c0/claim')).body.queue).toEqual([]);

    const second = t.http('POST', '/v1/models/counters/c0/claim', { waitSeconds: 60 }, { 'ablo-participant': 'agent:second' });
    await claimsFor(observer, 'counters', 'c0', waits('second'));
    expect((await t.http('GET', '/v1/models/counters/c0/claim')).body.queue).toMatchObject([{ participant: { id: 'second' }, position: 1 }]);
    await t.http('DELETE', `/v1/claims/${first.body.id}`);
    const granted = await second;
    expect(granted.status).toBe(200);
    expect(granted.body).toMatchObject({ holder: { id: 'second' }, data: { n: 9 } });
  });

  test('closing the engine ends waiting requests and clears every timer', async () => {
    const t = await startTestEngine(schema);
    await seedCounters(t, ['c0']);
    await memoryClaims(t.engine).acquire({ model: 'counters', id: 'c0', participant: { kind: 'agent', id: 'x' }, owner: 'o', leaseSeconds: 3600 });
    const waiting = memoryClaims(t.engine).acquire({ model: 'counters', id: 'c0', participant: { kind: 'agent', id: 'y' }, owner: 'p', waitMs: 3_600_000 });
    await t.stop();
    await expect(waiting).rejects.toMatchObject({ type: 'server_error', code: 'shutting_down' });
    expect(memoryClaims(t.engine).size).toBe(0);
  });
});

describe('keeping a place in line (tickets)', () => {
  test('an HTTP long-poll with keepPlaceSeconds keeps its place when it times out; asking again with the ticket resumes it ahead of later requests', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const first = await t.http('POST', '/v1/models/counters/c0/claim', {}, { 'ablo-participant': 'agent:first' });
    const timedOut = await t.http('POST', '/v1/models/counters/c0/claim', { waitSeconds: 0.2, keepPlaceSeconds: 60 }, { 'ablo-participant': 'agent:patient' });
    expect(timedOut.status).toBe(409);
    expect(timedOut.body.error).toMatchObject({ type: 'claimed', code: 'claim_wait_timeout', position: 1, keepPlaceSeconds: 60 });
    const ticket: string = timedOut.body.error.ticket;
    expect(ticket).toMatch(/^ctk_/);
    // Still in line, and a later request queues behind it.
    const later = t.http('POST', '/v1/models/counters/c0/claim', { waitSeconds: 60 }, { 'ablo-participant': 'agent:later' });
    for (let i = 0; i < 200 && memoryClaims(t.engine).state('counters', 'c0').queue.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(memoryClaims(t.engine).state('counters', 'c0').queue.map((q) => [q.participant.id, q.position])).toEqual([
      ['patient', 1],
      ['later', 2],
    ]);

    const resumed = t.http('POST', '/v1/models/counters/c0/claim', { ticket, waitSeconds: 60 });
    await t.http('PATCH', '/v1/models/counters/c0', { data: { n: 4 } }, { 'ablo-claim': first.body.id });
    await t.http('DELETE', `/v1/claims/${first.body.id}`);
    const granted = await resumed;
    expect(granted.status).toBe(200);
    expect(granted.body).toMatchObject({ holder: { id: 'patient' }, data: { n: 4 } });
    expect(memoryClaims(t.engine).state('counters', 'c0').queue.map((q) => q.participant.id)).toEqual(['later']);
    await t.http('DELETE', `/v1/claims/${granted.body.id}`);
    expect((await later).body).toMatchObject({ holder: { id: 'later' } });

    // A used ticket is gone; so is one from another credential or for another row.
    const again = await t.http('POST', '/v1/models/counters/c0/claim', { ticket });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('claim_ticket_not_found');
  });

  test('a ticket works only for the credential that made the request and the row it is for', async () => {
    const t = await start();
    await seedCounters(t, ['c0', 'c1']);
    await t.http('POST', '/v1/models/counters/c0/claim', {}, { 'ablo-participant': 'agent:first' });
    const timedOut = await t.http('POST', '/v1/models/counters/c0/claim', { waitSeconds: 0.1, keepPlaceSeconds: 60 });
    const ticket = timedOut.body.error.ticket;
    const other = await t.http('POST', '/v1/keys', { name: 'other' });
    const stolen = await t.http('POST', '/v1/models/counters/c0/claim', { ticket, waitSeconds: 0.1 }, { authorization: `Bearer ${other.body.key}` });
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.code).toBe('claim_ticket_not_found');
    expect((await t.http('POST', '/v1/models/counters/c1/claim', { ticket, waitSeconds: 0.1 })).status).toBe(404);
    // Still its place.
    expect(memoryClaims(t.engine).state('counters', 'c0').queue).toHaveLength(1);
  });

  test('a detached request granted while away is handed over on resume; one not resumed in time leaves, and the next is granted', async () => {
    const t = await start();
    await seedCounters(t, ['c0']);
    const claims = memoryClaims(t.engine);
    const who = (id: string) => ({ kind: 'agent' as const, id });
    await claims.acquire({ model: 'counters', id: 'c0', participant: who('holder'), owner: 'conn-h' });
    // A socket-style owner: its connection drops while it waits, it keeps its place and resumes on a new connection.
    let ticket = '';
    const waiting = claims.acquire({ model: 'counters', id: 'c0', participant: who('w'), owner: 'conn-1', keepPlaceMs: 60_000, credentialId: 'cred', onQueued: (q) => (ticket = q.ticket!) });
    expect(ticket).toMatch(/^ctk_/);
    claims.releaseOwner('conn-1');
    await expect(waiting).rejects.toMatchObject({ code: 'connection_closed' });
    expect(claims.state('counters', 'c0').queue.map((q) => q.participant.id)).toEqual(['w']);

    // Its turn comes while it is away: it holds the row (nobody else may write) until it comes back.
    claims.releaseOwner('conn-h');
    for (let i = 0; i < 200 && claims.state('counters', 'c0').claim?.holder.id !== 'w'; i++) await new Promise((r) => setTimeout(r, 5));
    expect(claims.state('counters', 'c0').claim?.holder.id).toBe('w');
    expect(() => claims.check('counters', 'c0', 'someone')).toThrow(AbloClaimedError);
    const grant = await claims.resume({ ticket, model: 'counters', id: 'c0', owner: 'conn-2', credentialId: 'cred' });
    expect(grant).toMatchObject({ holder: { id: 'w' }, data: { id: 'c0' } });
    expect(() => claims.check('counters', 'c0', 'conn-2')).not.toThrow();

    // A request that never comes back leaves at the end of its grace; the next in line is granted.
    let lateTicket = '';
    const gone = claims.acquire({ model: 'counters', id: 'c0', participant: who('gone'), owner: 'conn-3', keepPlaceMs: 200, onQueued: (q) => (lateTicket = q.ticket!) });
    const next = claims.acquire({ model: 'counters', id: 'c0', participant: who('next'), owner: 'conn-4' });
    claims.releaseOwner('conn-3');
    await expect(gone).rejects.toMatchObject({ code: 'connection_closed' });
    await new Promise((r) => setTimeout(r, 400));
    expect(claims.state('counters', 'c0').queue.map((q) => q.participant.id)).toEqual(['next']);
    await expect(claims.resume({ ticket: lateTicket, model: 'counters', id: 'c0' })).rejects.toMatchObject({ code: 'claim_ticket_not_found' });
    claims.releaseOwner('conn-2');
    expect((await next).holder.id).toBe('next');
    claims.releaseOwner('conn-4');
    expect(claims.size).toBe(0);
  });
});

describe('docs/coordination.md', () => {
  test('the agent example runs: three copies at once work on every task exactly once', async () => {
    const agentsSchema = defineSchema({
      boards: model({ name: z.string().min(1) }),
      tasks: model({
        title: z.string().min(1).max(200),
        status: z.enum(['todo', 'doing', 'done']).default('todo'),
        boardId: z.string(),
        assignee: z.string().nullable().default(null),
        result: z.string().nullable().default(null),
      }),
    });
    const t = await start(agentsSchema);
    const ids = Array.from({ length: 12 }, (_, i) => `t${i}`);
    await t.http('POST', '/v1/commits', {
      operations: [
        { op: 'create', model: 'boards', id: 'b1', data: { name: 'work' } },
        ...ids.map((id) => ({ op: 'create', model: 'tasks', id, data: { title: `task ${id}`, boardId: 'b1' } })),
      ],
    });
    const doc = readFileSync(new URL('../../docs/coordination.md', import.meta.url), 'utf8');
    const code = /### An agent against `ablo dev`[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(code).toMatch(/\/claim`/);
    const file = join(t.dir, 'agent.mjs');
    writeFileSync(file, code!);
    const env = { ...process.env, ABLO_URL: t.url, ABLO_API_KEY: t.key };
    const runs = await Promise.all([1, 2, 3].map(() => promisify(execFile)(process.execPath, [file], { env, timeout: 60_000 })));

    const rows = (await t.http('GET', '/v1/models/tasks?limit=100')).body.data;
    expect(rows.every((r: any) => r.status === 'done' && r.result.startsWith('done by agent:worker-'))).toBe(true);
    const updates = (await t.http('GET', '/v1/changes?after=0')).body.data.filter((c: any) => c.model === 'tasks' && c.action === 'update');
    expect(updates.map((c: any) => c.id).sort()).toEqual([...ids].sort());
    expect(runs.map((r) => r.stdout.trim().split('\n').filter(Boolean).length).reduce((a, b) => a + b, 0)).toBe(ids.length);
    expect(memoryClaims(t.engine).size).toBe(0);
  });
});
