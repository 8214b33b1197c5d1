/**
 * Revoking an API key (DELETE /v1/keys/:id, what `ablo keys revoke` calls)
 * stops it everywhere at once: its open sockets get an error frame and close
 * 4001, its commits still waiting in the pipeline are refused and write
 * nothing, its claim requests leave their queues. Other keys carry on.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { defineSchema, model, z } from '../../src/schema/index.js';
import type { Storage } from '../../src/engine/storage/types.js';
import { startTestEngine, type TestEngine, type TestSocket, memoryClaims } from '../helpers/engine.js';

const schema = defineSchema({
  notes: model({ body: z.string() }),
});

const engines: TestEngine[] = [];
async function start(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  engines.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

let refCounter = 0;
function call(s: TestSocket, frame: Record<string, unknown>, timeoutMs = 10_000): Promise<any> {
  const ref = `q${++refCounter}`;
  s.send({ ...frame, ref });
  return s.next((f) => f.ref === ref && f.type !== 'claims', timeoutMs);
}

const create = (id: string) => ({ type: 'commit', commit: { operations: [{ op: 'create', model: 'notes', id, data: { body: id } }] } });

async function newKey(t: TestEngine, name: string): Promise<{ id: string; key: string }> {
  const res = await t.http('POST', '/v1/keys', { name });
  expect(res.status).toBe(201);
  return { id: res.body.id, key: res.body.key };
}

async function revoke(t: TestEngine, id: string): Promise<void> {
  const res = await t.http('DELETE', `/v1/keys/${id}`);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ id, revoked: true });
}

/** The socket's error frame (any ref) and its close. */
async function revokedAndClosed(s: TestSocket): Promise<void> {
  const err = await s.next((f) => f.type === 'error' && f.error?.code === 'revoked_api_key');
  expect(err.error).toMatchObject({ type: 'authentication_error', code: 'revoked_api_key' });
  expect((await s.waitClose()).code).toBe(4001);
}

async function exists(t: TestEngine, id: string): Promise<boolean> {
  const res = await t.http('GET', `/v1/models/notes/${id}`);
  return res.status === 200;
}

/**
 * Hold the next storage transaction of the engine until `open()` is called
 * (the pipeline is then busy with that batch and queues every later commit).
 */
function gateNextTransaction(storage: Storage): { entered: Promise<void>; open: () => void } {
  const original = storage.transaction.bind(storage);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let entered!: () => void;
  const enteredP = new Promise<void>((r) => (entered = r));
  storage.transaction = (async (fn: Parameters<Storage['transaction']>[0]) => {
    storage.transaction = original;
    entered();
    await gate;
    return original(fn);
  }) as Storage['transaction'];
  return { entered: enteredP, open };
}

describe('revoking a key closes its sockets and refuses what it has in flight', () => {
  test('a socket authenticated in hello gets revoked_api_key and close 4001; a commit sent after gets nothing and writes nothing', async () => {
    const t = await start();
    const k = await newKey(t, 'doomed');
    const doomed = await t.socket();
    await doomed.hello({ apiKey: k.key, participant: { kind: 'agent', id: 'doomed' } });
    const bystander = await t.socket();
    await bystander.hello({ apiKey: t.key });
    expect((await call(doomed, create('before'))).type).toBe('receipt');

    await revoke(t, k.id);
    // Sent right after the revocation answered: the engine must not take it.
    doomed.send({ ...create('after'), ref: 'after' });
    await revokedAndClosed(doomed);
    expect(doomed.frames.filter((f) => f.type === 'receipt')).toEqual([]);
    expect(await exists(t, 'after')).toBe(false);
    expect(await exists(t, 'before')).toBe(true);

    // The other key's socket is untouched.
    expect((await call(bystander, create('bystander'))).type).toBe('receipt');
    expect(bystander.closed).toBeNull();
    expect(t.engine.connections()).toBe(1);
  });

  test('a socket authenticated with the Authorization header is closed the same way', async () => {
    const t = await start();
    const k = await newKey(t, 'header');
    const doomed = await t.socket({ headers: { authorization: `Bearer ${k.key}` } });
    await doomed.hello({});
    // Header-authenticated, hello not sent yet: closed too.
    const early = await t.socket({ headers: { authorization: `Bearer ${k.key}` } });
    const other = await t.socket({ headers: { authorization: `Bearer ${t.key}` } });
    await other.hello({});

    await revoke(t, k.id);
    await revokedAndClosed(doomed);
    expect((await early.waitClose()).code).toBe(4001);
    expect((await call(other, create('still-fine'))).type).toBe('receipt');
    // A new socket with the revoked key is refused before the upgrade.
    await expect(t.socket({ headers: { authorization: `Bearer ${k.key}` } })).rejects.toMatchObject({ status: 401 });
  });

  test('a commit queued behind a running batch when the key is revoked is refused and writes nothing', async () => {
    const t = await start();
    const k = await newKey(t, 'queued');
    const doomed = await t.socket();
    await doomed.hello({ apiKey: k.key });

    // The pipeline starts a batch (another key's commit) and is held there.
    const gate = gateNextTransaction(t.engine.storage);
    let running: ReturnType<TestEngine['http']>;
    let httpQueued: ReturnType<TestEngine['http']>;
    try {
      running = t.http('POST', '/v1/commits', { operations: [{ op: 'create', model: 'notes', id: 'running', data: { body: 'x' } }] });
      await gate.entered;
      // The doomed key's commit arrives while the batch runs: it waits in the pipeline's queue.
      doomed.send({ ...create('queued'), ref: 'queued' });
      // Frames are handled in order: the pong proves the commit was taken and queued.
      doomed.send({ type: 'ping', t: 1 });
      await doomed.next('pong');
      // The same key over HTTP: queued too (or, if it arrives late, refused at authentication: same answer).
      httpQueued = t.http('POST', '/v1/commits', { operations: [{ op: 'create', model: 'notes', id: 'http-queued', data: { body: 'x' } }] }, {
        authorization: `Bearer ${k.key}`,
      });
      await new Promise((r) => setTimeout(r, 50));

      await revoke(t, k.id);
      await revokedAndClosed(doomed);
    } finally {
      gate.open();
    }
    expect((await running).status).toBe(200);
    const httpRefused = await httpQueued!;
    expect(httpRefused.status).toBe(401);
    expect(httpRefused.body.error).toMatchObject({ type: 'authentication_error', code: 'revoked_api_key' });
    // The queued commit ran after the revocation: refused, nothing written, no receipt.
    expect(await exists(t, 'queued')).toBe(false);
    expect(await exists(t, 'http-queued')).toBe(false);
    expect(await exists(t, 'running')).toBe(true);
    expect(doomed.frames.filter((f) => f.type === 'receipt')).toEqual([]);
    const changes = await t.http('GET', '/v1/changes?after=0');
    expect(changes.body.data.map((c: any) => c.id)).toEqual(['running']);
  });

  test('claim requests of the key leave their queues (socket and HTTP long-poll); its held claims are released', async () => {
    const t = await start();
    await t.http('POST', '/v1/commits', {
      operations: ['c0', 'c1'].map((id) => ({ op: 'create', model: 'notes', id, data: { body: id } })),
    });
    const k = await newKey(t, 'claimer');
    const holder = await t.socket();
    await holder.hello({ apiKey: t.key, participant: { kind: 'agent', id: 'holder' } });
    expect((await call(holder, { type: 'claim', model: 'notes', id: 'c0', leaseSeconds: 3600 })).type).toBe('claim_granted');

    const doomed = await t.socket();
    await doomed.hello({ apiKey: k.key, participant: { kind: 'agent', id: 'doomed' } });
    // The doomed key holds c1 over HTTP and waits for c0 on its socket and over HTTP.
    const httpHeld = await fetch(`${t.url}/v1/models/notes/c1/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ leaseSeconds: 3600 }),
    });
    expect(httpHeld.status).toBe(200);
    const socketWait = call(doomed, { type: 'claim', model: 'notes', id: 'c0' }).catch((e: Error) => e.message);
    const httpWait = fetch(`${t.url}/v1/models/notes/c0/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json', 'ablo-participant': 'agent:http-waiter' },
      body: JSON.stringify({ waitSeconds: 120 }),
    });
    for (let i = 0; i < 200 && memoryClaims(t.engine).state('notes', 'c0').queue.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(memoryClaims(t.engine).state('notes', 'c0').queue).toHaveLength(2);
    expect(memoryClaims(t.engine).state('notes', 'c1').claim).not.toBeNull();

    await revoke(t, k.id);
    const refused = await httpWait;
    expect(refused.status).toBe(401);
    expect((await refused.json()).error).toMatchObject({ type: 'authentication_error', code: 'revoked_api_key' });
    expect(await socketWait).toMatch(/socket closed \(4001/);
    expect(memoryClaims(t.engine).state('notes', 'c0')).toMatchObject({ claim: { holder: { id: 'holder' } }, queue: [] });
    expect(memoryClaims(t.engine).state('notes', 'c1')).toEqual({ claim: null, queue: [] });
    // The holder's socket is untouched.
    expect((await call(holder, { type: 'claim_state', model: 'notes', id: 'c0' })).claim.holder.id).toBe('holder');
  });
});
