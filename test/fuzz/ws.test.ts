/**
 * Fuzz: WebSocket frames (hello, commit, claim, release, renew, claim_state,
 * ping, garbage, binary) against a live engine process. Every frame gets an
 * answer: a typed error frame (never an internal error), a receipt or grant,
 * or a close with a protocol code; refused frames change no row and not
 * lastSyncId; the engine stays up and logs no internal error.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TestSocket } from '../helpers/engine.js';
import { IDS, commitText, garbageText, name, objText, rowId, shaped, valueText } from './arbitraries.js';
import { Snapshots, Tally, assertFuzz, expectTypedError, fuzzParams, health, internalErrors, startFuzzEngine, type FuzzEngine } from './harness.js';

let engine: FuzzEngine;
let snaps: Snapshots;
let state: { rows: string; lastSyncId: number };
let live: TestSocket | null = null;

const REF = '"@REF@"';
const ANSWERS = new Set(['receipt', 'error', 'pong', 'claim_granted', 'released', 'renewed', 'claim_state', 'welcome']);

beforeAll(async () => {
  engine = await startFuzzEngine();
  snaps = new Snapshots(engine);
  const res = await fetch(`${engine.url}/v1/commits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${engine.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ operations: IDS.slice(0, 3).map((id) => ({ op: 'create', model: 'notes', id, data: { title: id } })) }),
  });
  expect(res.status).toBe(200);
  state = await snaps.take();
});
afterAll(async () => {
  live?.close();
  snaps?.close();
  await engine?.stop();
});

async function openSocket(): Promise<TestSocket> {
  return TestSocket.open(`${engine.url.replace('http', 'ws')}/v1/sync`);
}

/** The authenticated socket the frames go to; reopened after a close (an oversize frame closes it with 1009). */
async function liveSocket(): Promise<TestSocket> {
  if (live && !live.closed) return live;
  live = await openSocket();
  await live.hello({ apiKey: engine.key, groups: ['fuzz-none'] });
  return live;
}

/** The next answer frame (unsolicited `claims`/`changes`/`schema` frames skipped), or the close. */
async function answer(s: TestSocket, timeoutMs = 10_000): Promise<{ frame?: any; close?: { code: number; reason: string } }> {
  const frame = s.next((f) => ANSWERS.has(f.type), timeoutMs).then(
    (f) => ({ frame: f }),
    (err: Error) => (s.closed ? null : Promise.reject(err)),
  );
  const closed = s.waitClose().then((c) => ({ close: c }));
  const first = await Promise.race([frame, closed]);
  // A close right after an error frame: report the frame (it came first).
  if (first === null || 'close' in first) {
    const pending = s.frames.findIndex((f) => ANSWERS.has(f.type));
    if (pending >= 0) return { frame: s.frames.splice(pending, 1)[0], close: s.closed! };
    return { close: s.closed! };
  }
  return first;
}

async function checkData(tally: Tally, what: string, refused: boolean): Promise<void> {
  const after = await snaps.take();
  if (refused) {
    tally.refused++;
    expect(after.lastSyncId, `${what}: refused, so lastSyncId is unchanged`).toBe(state.lastSyncId);
    expect(after.rows === state.rows, `${what}: refused, so no row changed`).toBe(true);
  }
  expect(internalErrors(engine.stderr()), what).toEqual([]);
  state = after;
}

const refText = fc.oneof({ weight: 12, arbitrary: fc.constant(REF) }, { weight: 1, arbitrary: valueText });
const modelText = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('"notes"', '"tasks"') }, { weight: 1, arbitrary: name.map((n) => JSON.stringify(n)) });
const idText = rowId.map((id) => JSON.stringify(id));
const claimIdText = fc.constantFrom('"clm_x"', '""', '"__proto__"', '1', 'null');
const leaseText = fc.oneof(fc.integer({ min: -5, max: 400 }).map(String), fc.constantFrom('1.5', '"30"', '1e400'));

type Frame = { text: string } | { binary: Buffer };
const frameArb: fc.Arbitrary<Frame> = fc
  .oneof(
    { weight: 8, arbitrary: shaped({ type: fc.constant('"commit"'), ref: refText, commit: commitText }, ['type', 'ref', 'commit']) },
    { weight: 3, arbitrary: shaped({ type: fc.constant('"claim"'), ref: refText, model: modelText, id: idText, wait: fc.constant('false'), leaseSeconds: leaseText, action: fc.string({ maxLength: 300 }).map((s) => JSON.stringify(s)), maxQueueDepth: fc.integer({ min: -1, max: 3 }).map(String) }, ['type', 'ref', 'model', 'id', 'wait']) },
    { weight: 2, arbitrary: shaped({ type: fc.constant('"release"'), ref: refText, claimId: claimIdText, model: modelText, id: idText }, ['type', 'ref']) },
    { weight: 1, arbitrary: shaped({ type: fc.constant('"renew"'), ref: refText, claimId: claimIdText, leaseSeconds: leaseText }, ['type', 'claimId']) },
    { weight: 2, arbitrary: shaped({ type: fc.constant('"claim_state"'), ref: refText, model: modelText, id: idText }, ['type', 'ref', 'model', 'id']) },
    { weight: 1, arbitrary: shaped({ type: fc.constant('"ping"'), t: fc.oneof(fc.double().map((d) => (Number.isFinite(d) ? String(d) : '1e999')), valueText) }, ['type']) },
    { weight: 1, arbitrary: shaped({ type: fc.constant('"hello"'), apiKey: fc.constant('"x"'), groups: fc.constant('["a"]') }, ['type']) },
    { weight: 2, arbitrary: fc.tuple(name, valueText).map(([t, v]) => objText([['type', JSON.stringify(t)], ['ref', REF], ['x', v]])) },
    { weight: 2, arbitrary: garbageText },
    { weight: 1, arbitrary: valueText },
  )
  .map((text): Frame => ({ text }))
  .chain((f) => fc.oneof({ weight: 40, arbitrary: fc.constant(f) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 20 }).map((b): Frame => ({ binary: Buffer.from(b) })) }));

const helloArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: shaped(
      {
        type: fc.constant('"hello"'),
        protocol: fc.oneof({ weight: 8, arbitrary: fc.constant('1') }, { weight: 1, arbitrary: fc.constantFrom('2', '"1"', '1.5') }),
        apiKey: fc.oneof({ weight: 4, arbitrary: fc.constant('"@KEY@"') }, { weight: 1, arbitrary: fc.constantFrom('12345', 'null', '[]', '{}', '"sk_test_nope"', '""', `"${'k'.repeat(600)}"`, '"\\ud83d"', 'true') }),
        groups: fc.oneof(
          { weight: 8, arbitrary: fc.array(fc.constantFrom('"default"', '"project:p1"', '"fuzz"'), { maxLength: 3 }).map((xs) => `[${xs.join(',')}]`) },
          { weight: 1, arbitrary: fc.array(fc.constantFrom('"default"', '""', `"${'g'.repeat(300)}"`, '"\\udc00"', '1'), { maxLength: 3 }).map((xs) => `[${xs.join(',')}]`) },
          { weight: 1, arbitrary: fc.constantFrom('"all"', 'null', '{}') },
        ),
        lastSyncId: fc.oneof({ weight: 8, arbitrary: fc.nat({ max: 100 }).map(String) }, { weight: 1, arbitrary: fc.constantFrom('-1', '1.5', '1e400', '"3"', '9007199254740993') }),
        schemaHash: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('"x"', '""') }, { weight: 1, arbitrary: fc.constantFrom('1', `"${'h'.repeat(200)}"`) }),
        participant: fc.oneof({ weight: 8, arbitrary: fc.constant('{"kind":"agent","id":"fuzz"}') }, { weight: 1, arbitrary: fc.constantFrom('{"kind":"robot","id":"x"}', '{"kind":"user"}', '"agent:x"', '{"kind":"user","id":"u","extra":1}') }),
      },
      ['type', 'apiKey'],
    ),
  },
  { weight: 1, arbitrary: garbageText },
  { weight: 1, arbitrary: fc.constantFrom('{"type":"commit","ref":"x","commit":{"operations":[]}}', '{"type":"ping"}', '{"type":"claim","ref":"x","model":"notes","id":"n1"}') },
);

/** The frame's `ref` as JSON.parse reads it (undefined when the text is not a JSON object). */
function parsedRef(text: string): unknown {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' ? (v as { ref?: unknown }).ref : undefined;
  } catch {
    return undefined;
  }
}

describe('fuzz: WebSocket', () => {
  test('frames on an authenticated socket: commit, claim, release, renew, claim_state, ping, garbage, binary', async () => {
    const tally = new Tally('WebSocket frames');
    await assertFuzz(
      fc.asyncProperty(frameArb, async (f) => {
        tally.count++;
        const s = await liveSocket();
        const ref = `r${tally.count}`;
        const text = 'text' in f ? f.text.replaceAll(REF, JSON.stringify(ref)) : undefined;
        const what = 'binary' in f ? `binary frame ${f.binary.length} bytes` : `frame ${text!.slice(0, 300)}`;
        if ('binary' in f) s.ws.send(f.binary, { binary: true });
        else s.send(text!);
        const got = await answer(s);
        let refused = false;
        if (got.frame) {
          const fr = got.frame;
          tally.saw(fr.type === 'error' ? `error ${fr.error?.code}${process.env.FUZZ_DEBUG ? ` ${text?.slice(0, 12)} ${fr.error?.field}` : ''}` : fr.type);
          if (fr.type === 'error') {
            refused = true;
            expectTypedError(fr.error, what);
            if (text !== undefined && /^\{"type":"(commit|claim|release|renew|claim_state)"/.test(text) && parsedRef(text) === ref) {
              // A frame that carried its ref gets it back on the error (unless it was not JSON at all).
              // The ref is the one JSON reads: with a key given twice, the last one.
              if (fr.error.code !== 'invalid_json') expect(fr.ref, `${what}: the error carries the ref`).toBe(ref);
            }
          }
        }
        if (got.close) {
          tally.saw(`close ${got.close.code}`);
          refused = true;
          // Only an oversize frame ends an authenticated socket.
          expect([1009], `${what}: closed with ${got.close.code} ${got.close.reason}`).toContain(got.close.code);
        }
        await checkData(tally, what, refused);
      }),
      fuzzParams(3000, 7000),
    );
    tally.report();
    expect(tally.count).toBeGreaterThan(0);
    await health(engine);
    expect(engine.exited()).toBe(false);
  }, 120_000);

  test('first frames: hello (valid and not) and anything else, each on a new socket', async () => {
    const tally = new Tally('WebSocket hello');
    await assertFuzz(
      fc.asyncProperty(helloArb, async (h) => {
        tally.count++;
        const text = h.replaceAll('"@KEY@"', JSON.stringify(engine.key));
        const what = `first frame ${text.slice(0, 300)}`;
        const s = await openSocket();
        try {
          s.send(text);
          const got = await answer(s);
          const isHello = /^\{"type":"hello"/.test(text);
          if (got.frame?.type === 'pong') {
            tally.saw('pong');
            await checkData(tally, what, false);
            return;
          }
          if (got.frame?.type === 'welcome') {
            tally.saw('welcome');
            await s.next('bootstrap_done');
            await checkData(tally, what, false);
            return;
          }
          expect(got.frame?.type, `${what}: an error frame first, got ${JSON.stringify(got).slice(0, 300)}`).toBe('error');
          expectTypedError(got.frame.error, what);
          tally.saw(`error ${got.frame.error.code}`);
          if (isHello) {
            // A hello that fails validation is answered at once, and the socket closed: 4001 for the key,
            // 4005 for a protocol version outside the engine's range, 1002 for anything else.
            const close = got.close ?? (await s.waitClose());
            tally.saw(`close ${close.code}`);
            const expected = got.frame.error.type === 'authentication_error' ? 4001 : got.frame.error.code === 'unsupported_protocol' ? 4005 : 1002;
            expect(close.code, what).toBe(expected);
          }
          await checkData(tally, what, true);
        } finally {
          s.close();
        }
      }),
      fuzzParams(600, 4000),
    );
    tally.report();
    expect(tally.count).toBeGreaterThan(0);
    await health(engine);
    expect(engine.exited()).toBe(false);
    expect(internalErrors(engine.stderr())).toEqual([]);
  }, 120_000);
});
