/**
 * Rate limits per credential: commits per second (token bucket with a burst)
 * and sync connections open at once. On by default for session tokens, off
 * for secret keys; `rateLimits.kinds` and `rateLimits: false` change that.
 * Over the limit: 429 `rate_limited` with `Retry-After` over HTTP (nothing
 * written), an error frame for a socket's commit (the socket stays open), a
 * hello refused with close 4029 for one connection too many.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { RateLimiter } from '../../src/engine/auth/rateLimits.js';
import type { Principal } from '../../src/engine/auth/principal.js';
import { createEngine, type EngineOptions } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';

const schema = defineSchema({ notes: model({ title: z.string() }) });

const engines: TestEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

async function start(rateLimits?: EngineOptions['rateLimits']): Promise<TestEngine> {
  const t = await startTestEngine(schema, rateLimits !== undefined ? { rateLimits } : {});
  engines.push(t);
  return t;
}

async function session(t: TestEngine): Promise<string> {
  const res = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['default'], operations: ['read', 'write'] });
  expect(res.status).toBe(201);
  return res.body.token;
}

const note = (id: string) => ({ operations: [{ op: 'create', model: 'notes', id, data: { title: id } }] });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function rowCount(t: TestEngine): Promise<number> {
  return (await t.http('GET', '/v1/models/notes?limit=100')).body.data.length;
}

async function commitFrame(s: TestSocket, ref: string): Promise<any> {
  s.send({ type: 'commit', ref, commit: note(ref) });
  return s.next((f) => f.ref === ref);
}

describe('commits per second', () => {
  test('a session over its commit rate gets 429 rate_limited with Retry-After, and nothing of that request is written', async () => {
    const t = await start({ commitsPerSecond: 1, commitBurst: 2 });
    const token = await session(t);
    expect((await t.http('POST', '/v1/commits', note('a'), bearer(token))).status).toBe(200);
    expect((await t.http('POST', '/v1/models/notes', { id: 'b', data: { title: 'b' } }, bearer(token))).status).toBe(201);
    const refused = await t.http('POST', '/v1/commits', note('c'), bearer(token));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.error).toMatchObject({ type: 'rate_limit', code: 'rate_limited', limit: 'commits', retryAfterMs: expect.any(Number) });
    expect(refused.body.error.retryAfterMs).toBeGreaterThan(0);
    expect(refused.body.error.retryAfterMs).toBeLessThanOrEqual(1000);
    // Reads are not commits: not limited.
    expect((await t.http('GET', '/v1/models/notes', undefined, bearer(token))).status).toBe(200);
    expect(await rowCount(t)).toBe(2);
    // After the wait, the same request goes through.
    await new Promise((r) => setTimeout(r, refused.body.error.retryAfterMs + 20));
    expect((await t.http('POST', '/v1/commits', note('c'), bearer(token))).status).toBe(200);
    expect(await rowCount(t)).toBe(3);
  });

  test('a secret key is not limited by default; kinds: ["secret"] limits it; rateLimits: false limits nobody', async () => {
    const t = await start({ commitsPerSecond: 1, commitBurst: 1 });
    const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => t.http('POST', '/v1/commits', note(`k${i}`)).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);

    const strict = await start({ commitsPerSecond: 1, commitBurst: 1, kinds: ['secret'] });
    expect((await strict.http('POST', '/v1/commits', note('s1'))).status).toBe(200);
    expect((await strict.http('POST', '/v1/commits', note('s2'))).status).toBe(429);

    const off = await start(false);
    const token = await session(off);
    const many = await Promise.all(Array.from({ length: 60 }, (_, i) => off.http('POST', '/v1/commits', note(`o${i}`), bearer(token)).then((r) => r.status)));
    expect(many.every((s) => s === 200)).toBe(true);
  });

  test('over the socket: an error frame for the refused commit, later commits refused until the wait (order kept), the socket stays open', async () => {
    const t = await start({ commitsPerSecond: 5, commitBurst: 1 });
    const token = await session(t);
    const s = await t.socket();
    await s.hello({ apiKey: token });
    expect((await commitFrame(s, 'w1')).type).toBe('receipt');
    const refused = await commitFrame(s, 'w2');
    expect(refused).toMatchObject({ type: 'error', ref: 'w2', error: { type: 'rate_limit', code: 'rate_limited', retryAfterMs: expect.any(Number) } });
    // Within the wait, this socket's next commit is refused as well (it would otherwise overtake w2).
    expect(await commitFrame(s, 'w3')).toMatchObject({ type: 'error', error: { code: 'rate_limited' } });
    s.send({ type: 'ping', t: 1 });
    expect(await s.next('pong')).toMatchObject({ t: 1 });
    await new Promise((r) => setTimeout(r, refused.error.retryAfterMs + 20));
    expect((await commitFrame(s, 'w2')).type).toBe('receipt');
    expect(s.closed).toBeNull();
    expect(await rowCount(t)).toBe(2);
  });
});

describe('connections', () => {
  test('one socket too many for a session is refused at its hello (rate_limited, close 4029); a place freed is taken again; secret keys are not counted', async () => {
    const t = await start({ connections: 2 });
    const token = await session(t);
    const a = await t.socket();
    await a.hello({ apiKey: token });
    const b = await t.socket();
    await b.hello({ apiKey: token });
    const c = await t.socket();
    await expect(c.hello({ apiKey: token })).rejects.toMatchObject({ frame: { error: { code: 'rate_limited', limit: 'connections' } } });
    expect((await c.waitClose()).code).toBe(4029);

    a.close();
    await a.waitClose();
    // The engine hears the close: the place is free again.
    let admitted = false;
    for (let i = 0; i < 50 && !admitted; i++) {
      const d = await t.socket();
      try {
        await d.hello({ apiKey: token });
        admitted = true;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(admitted).toBe(true);

    const keyed = await Promise.all(Array.from({ length: 5 }, () => t.socket()));
    for (const s of keyed) await s.hello({ apiKey: t.key });
    expect(keyed.every((s) => s.closed === null)).toBe(true);
  });
});

describe('RateLimiter', () => {
  const principal = (kind?: Principal['kind']): Principal => ({
    participant: { kind: 'user', id: 'u' },
    groups: 'all',
    operations: ['read', 'create', 'update', 'delete'],
    expiresAt: null,
    credentialId: `cred_${kind ?? 'none'}`,
    ...(kind ? { kind } : {}),
  });

  test('token bucket: the burst at once, then the rate; a principal without kind counts as a secret key', () => {
    let now = 0;
    const limiter = new RateLimiter({ commitsPerSecond: 10, commitBurst: 3 }, () => now);
    const p = principal('restricted');
    for (let i = 0; i < 3; i++) limiter.commit(p);
    expect(() => limiter.commit(p)).toThrow(expect.objectContaining({ code: 'rate_limited', details: expect.objectContaining({ retryAfterMs: 100 }) }));
    now += 100;
    limiter.commit(p);
    expect(() => limiter.commit(p)).toThrow();
    for (let i = 0; i < 100; i++) limiter.commit(principal());
    limiter.close();
  });

  test('bad options are invalid_option errors before anything opens', async () => {
    await expect(createEngine({ file: '/nonexistent/never.db', port: 0, rateLimits: { commitsPerSecond: 0 } })).rejects.toMatchObject({
      code: 'invalid_option',
      details: { field: 'rateLimits.commitsPerSecond' },
    });
  });
});
