/**
 * `Ablo({ fetchToken })` on a real engine: the SDK gets its session tokens
 * from the app (here: a server-side client minting short-lived sessions) and
 * refreshes them before they expire over the open socket (`auth` frame), on a
 * 401 over HTTP, and after a 4007 `token_expired` close — without losing or
 * doubling a write.
 */
import { expect, test } from 'vitest';
import Ablo from '../../src/index.js';
import { AbloAuthenticationError } from '../../src/errors.js';
import { tokenExpiry, TokenSource } from '../../src/client/token.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, trackedEngines, type TestEngine } from '../helpers/engine.js';

const schema = defineSchema({
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

const { engines, clients } = trackedEngines();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(ttlSeconds: number) {
  const t = await startTestEngine(schema);
  engines.push(t);
  const server = Ablo({ schema, apiKey: t.key, baseURL: t.url, syncGroups: ['user:ana'] });
  clients.push(server);
  const minted: Array<{ token: string; sessionId: string }> = [];
  let delayMs = 0;
  const fetchToken = async (): Promise<string> => {
    if (delayMs > 0) await sleep(delayMs);
    const s = await server.sessions.create({ participant: { kind: 'user', id: 'ana' }, syncGroups: ['user:ana'], operations: ['read', 'write'], ttlSeconds });
    minted.push(s);
    return s.token;
  };
  return { t, server, minted, fetchToken, setDelay: (ms: number) => (delayMs = ms) };
}

/** Every change of the log (ids), read with the secret key. */
async function changeIds(t: TestEngine): Promise<string[]> {
  const body = (await t.http('GET', '/v1/changes?after=0&limit=1000')).body;
  return body.data.map((c: any) => c.id);
}

test('40 writes in flight across a refresh apply exactly once, on one socket that never closes', async () => {
  const { t, minted, fetchToken } = await setup(3);
  const statuses: string[] = [];
  const browser = Ablo({ schema, fetchToken, baseURL: t.url, syncGroups: ['user:ana'] });
  clients.push(browser);
  await browser.ready();
  browser.on('connection:change', (e) => statuses.push(e.status));
  expect(minted).toHaveLength(1);
  // A 3 s token is refreshed 0.6 s before it expires (a fifth of its life): the writes span 0 … 3.2 s.
  const writes: Array<Promise<unknown>> = [];
  for (let i = 0; i < 40; i++) {
    writes.push(browser.notes.create({ id: `n${String(i).padStart(2, '0')}`, data: { title: `N${i}`, owner: 'ana' } }));
    await sleep(80);
  }
  const rows = await Promise.all(writes);
  expect(rows).toHaveLength(40);
  expect(minted.length).toBeGreaterThanOrEqual(2);
  const ids = await changeIds(t);
  expect(ids).toHaveLength(40);
  expect(new Set(ids).size).toBe(40);
  // The socket never dropped: the new token came over it.
  expect(statuses).toEqual([]);
  expect(browser.status).toBe('live');
  // Past the first token's expiry, writes still go (on the refreshed credential).
  await sleep(Math.max(0, tokenExpiry(minted[0]!.token)! - Date.now() + 100));
  await browser.notes.create({ id: 'after', data: { title: 'after', owner: 'ana' } });
  expect(browser.status).toBe('live');
});

test('a token that expires without a refresh closes the socket 4007; the SDK gets a fresh token, reconnects and replays its write once', async () => {
  const { t, minted, fetchToken, setDelay } = await setup(2);
  const events: Array<{ status: string; code?: number }> = [];
  const browser = Ablo({ schema, fetchToken, baseURL: t.url, syncGroups: ['user:ana'] });
  clients.push(browser);
  await browser.ready();
  browser.on('connection:change', (e) => events.push({ status: e.status, ...(e.code !== undefined ? { code: e.code } : {}) }));
  // The app's token endpoint is slow: the refresh (at 1.6 s) lands after the token expired (2 s).
  setDelay(1500);
  await sleep(tokenExpiry(minted[0]!.token)! - Date.now() + 100);
  const row = await browser.notes.create({ id: 'late', data: { title: 'late', owner: 'ana' } });
  expect(row).toMatchObject({ id: 'late' });
  expect(events).toContainEqual({ status: 'offline', code: 4007 });
  expect(browser.status).toBe('live');
  expect(minted).toHaveLength(2);
  expect(await changeIds(t)).toEqual(['late']);
});

test('over HTTP, a request refused 401 is sent once more with a fresh token', async () => {
  const { t, minted, fetchToken } = await setup(1);
  const browser = Ablo({ schema, fetchToken, baseURL: t.url, syncGroups: ['user:ana'] });
  clients.push(browser);
  await browser.ready();
  await browser.notes.create({ id: 'a1', data: { title: 'A1', owner: 'ana' } });
  const before = minted.length;
  await sleep(1100);
  // Whatever the socket did meanwhile, the HTTP read works with a token that is valid now.
  expect(await browser.notes.retrieve({ id: 'a1' })).toMatchObject({ id: 'a1', title: 'A1' });
  expect(minted.length).toBeGreaterThan(before);
});

test('a revoked token: fetchToken is asked once; a second refusal is final (unauthorized, pending writes rejected)', async () => {
  const { t, server, minted, fetchToken } = await setup(600);
  const browser = Ablo({ schema, fetchToken, baseURL: t.url, syncGroups: ['user:ana'] });
  clients.push(browser);
  await browser.ready();
  // The app still vouches for the user: the revoked session is replaced and the client carries on.
  await server.sessions.revoke(minted[0]!.sessionId);
  await browser.notes.create({ id: 'r1', data: { title: 'R1', owner: 'ana' } });
  expect(minted).toHaveLength(2);
  expect(browser.status).toBe('live');

  // The app refuses from now on: the next revocation is final.
  let refuse = false;
  const gated = Ablo({
    schema,
    baseURL: t.url,
    syncGroups: ['user:ana'],
    fetchToken: async () => {
      if (refuse) throw new Error('signed out');
      return fetchToken();
    },
  });
  clients.push(gated);
  await gated.ready();
  refuse = true;
  await server.sessions.revoke(minted.at(-1)!.sessionId);
  const err = await gated.notes.create({ id: 'r2', data: { title: 'R2', owner: 'ana' } }).catch((e) => e);
  expect(err).toBeInstanceOf(AbloAuthenticationError);
  expect(err.code).toBe('revoked_token');
  expect(gated.status).toBe('unauthorized');
  expect(await changeIds(t)).toEqual(['r1']);
});

test('options: fetchToken excludes apiKey and sessionToken; a fetchToken that resolves to nothing is token_fetch_failed', async () => {
  expect(() => Ablo({ schema, apiKey: 'sk_test_x', fetchToken: async () => 'ek_x' })).toThrow(/one credential/);
  const source = new TokenSource(async () => '' as string);
  await expect(source.get()).rejects.toMatchObject({ code: 'token_fetch_failed' });
  // The refresh moment: a fifth of the lifetime (at most 60 s) before expiry.
  const now = 1_000_000_000_000;
  const token = (e: number) => `ek_${Buffer.from(JSON.stringify({ e })).toString('base64url')}.sig`;
  const s = new TokenSource(async () => token(now / 1000 + 900), () => now);
  const t900 = await s.get();
  expect(s.refreshDelay(t900)).toBe(840_000);
  const s5 = new TokenSource(async () => token(now / 1000 + 5), () => now);
  expect(s5.refreshDelay(await s5.get())).toBe(4_000);
  expect(tokenExpiry('sk_test_abc')).toBeNull();
});
