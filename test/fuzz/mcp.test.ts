/**
 * Fuzz: MCP tool arguments through a real MCP client (Streamable HTTP, the
 * engine's `/mcp`) against a live engine process. Every call is answered
 * with a result: a refusal is `isError` with a typed error in
 * `structuredContent.error` (type + code), also for arguments that do not
 * match the tool's input schema (`invalid_arguments`) and unknown tools.
 * Refused calls change no row and not lastSyncId; the engine stays up and
 * logs no internal error.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { jsonDepth } from '../../src/protocol/json.js';
import { httpSession, type McpSession } from '../mcp/helpers.js';
import { IDS, PROTO_NAMES, name, nestText, rowId, valueOrBig } from './arbitraries.js';
import { Snapshots, Tally, assertFuzz, expectTypedError, fuzzParams, health, internalErrors, startFuzzEngine, type FuzzEngine } from './harness.js';

let engine: FuzzEngine;
let snaps: Snapshots;
let state: { rows: string; lastSyncId: number };
let mcp: McpSession;

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
  mcp = await httpSession(engine.url, engine.key);
});
afterAll(async () => {
  await mcp?.close().catch(() => undefined);
  snaps?.close();
  await engine?.stop();
});

/** Any JSON value (parsed from the edge-aimed text, so `__proto__` keys are own data and lone surrogates are in); not so deep that the client cannot send it. */
const anyValue = valueOrBig.map((text) => {
  const v = JSON.parse(text) as unknown;
  return jsonDepth(v) > 2000 ? JSON.parse(nestText(2100)) : v;
});
const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const sometimes = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: anyValue });
/** An object from [key, value] pairs (keys such as `__proto__` stay own data). */
function obj(pairs: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of pairs) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}
function shapedArgs(parts: Record<string, fc.Arbitrary<unknown>>, required: readonly string[] = []): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(parts).map(([k, a]) =>
    fc.oneof({ weight: 12, arbitrary: sometimes(a).map((v) => [k, v] as const) }, { weight: required.includes(k) ? 1 : 5, arbitrary: fc.constant(null) }),
  );
  const extra = fc.oneof({ weight: 20, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(name, anyValue).map(([k, v]) => [k, v] as const) });
  return fc.tuple(fc.tuple(...entries), extra).map(([es, x]) => obj([...es, x].filter((e): e is readonly [string, unknown] => e !== null)));
}

const noteData = fc
  .record(
    {
      title: fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), pick(['A\ud83dB', '', 'x'.repeat(300)])),
      body: fc.string({ maxLength: 30, unit: 'binary' }),
      n: fc.oneof(fc.integer(), pick([1.5, Number.MAX_SAFE_INTEGER + 2, 1e308])),
      done: fc.boolean(),
      status: pick(['todo', 'doing', 'done', 'DONE']),
      meta: anyValue,
      tags: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
    },
    { requiredKeys: ['title'] },
  )
  .chain((d) => fc.oneof({ weight: 10, arbitrary: fc.constant(d as Record<string, unknown>) }, { weight: 1, arbitrary: fc.tuple(name, anyValue).map(([k, v]) => obj([...Object.entries(d), [k, v]])) }));
const taskData = fc.record({ title: fc.string({ maxLength: 10 }), projectId: pick(['p1', 'p2']), estimate: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constant(null)) }, { requiredKeys: ['title', 'projectId'] });
const id = rowId;
const readAt = fc.oneof({ weight: 6, arbitrary: fc.nat({ max: 50 }) }, { weight: 1, arbitrary: pick([-1, 1.5, 1e308]) });
const onStale = pick(['reject', 'overwrite', 'notify', 'maybe']);
const whereArb = fc.oneof(
  fc.record({ title: fc.oneof(fc.string({ maxLength: 5 }), fc.array(fc.string({ maxLength: 3 }), { maxLength: 3 })), status: pick(['todo', 'done']), n: fc.integer() }, { requiredKeys: [] }),
  fc.tuple(pick([...PROTO_NAMES, 'title', 'meta']), anyValue).map(([k, v]) => obj([[k, v]])),
);
const orderArb = fc.oneof(fc.record({ title: pick(['asc', 'desc']), createdAt: pick(['asc', 'desc', 'up']) }, { requiredKeys: [] }), fc.tuple(pick(PROTO_NAMES), pick(['asc'])).map(([k, v]) => obj([[k, v]])));

function modelTools(m: 'notes' | 'tasks'): fc.Arbitrary<[string, Record<string, unknown>]> {
  const data = m === 'notes' ? noteData : taskData;
  return fc.oneof(
    shapedArgs({ data, id }, ['data']).map((a) => [`${m}_create`, a] as [string, Record<string, unknown>]),
    shapedArgs({ id, data, readAt, onStale }, ['id', 'data']).map((a) => [`${m}_update`, a] as [string, Record<string, unknown>]),
    shapedArgs({ id, readAt, onStale }, ['id']).map((a) => [`${m}_delete`, a] as [string, Record<string, unknown>]),
    shapedArgs({ where: whereArb, orderBy: orderArb, limit: fc.oneof(fc.integer({ min: -1, max: 1001 }), pick([1.5])), cursor: fc.oneof(fc.string({ maxLength: 20 }), pick(['e30', 'eyJfX3Byb3RvX18iOnt9fQ'])) }).map((a) => [`${m}_list`, a] as [string, Record<string, unknown>]),
    shapedArgs({ id }, ['id']).map((a) => [`${m}_get`, a] as [string, Record<string, unknown>]),
    shapedArgs({ id, wait: fc.constant(false), leaseSeconds: fc.integer({ min: -1, max: 400 }), action: fc.string({ maxLength: 300 }) }, ['id', 'wait']).map((a) => [`${m}_claim`, a] as [string, Record<string, unknown>]),
    shapedArgs({ id }, ['id']).map((a) => [`${m}_release`, a] as [string, Record<string, unknown>]),
  );
}
const operation = fc.oneof(
  shapedArgs({ op: fc.constant('create'), model: pick(['notes']), id, data: noteData }, ['op', 'model', 'data']),
  shapedArgs({ op: fc.constant('update'), model: pick(['notes']), id, data: noteData, readAt, onStale }, ['op', 'model', 'id', 'data']),
  shapedArgs({ op: fc.constant('delete'), model: pick(['notes', 'tasks']), id }, ['op', 'model', 'id']),
);
const callArb: fc.Arbitrary<[string, Record<string, unknown>]> = fc.oneof(
  { weight: 6, arbitrary: modelTools('notes') },
  { weight: 2, arbitrary: modelTools('tasks') },
  {
    weight: 3,
    arbitrary: shapedArgs(
      {
        operations: fc.array(operation, { minLength: 1, maxLength: 3 }),
        reads: fc.array(fc.oneof(shapedArgs({ model: pick(['notes']), id, readAt, fields: fc.array(name, { maxLength: 2 }) }, ['model', 'id', 'readAt']), shapedArgs({ group: pick(['default', '']), readAt }, ['group', 'readAt'])), { maxLength: 2 }),
        idempotencyKey: fc.oneof(fc.uuid(), pick(['k1', ''])),
      },
      ['operations'],
    ).map((a) => ['ablo_commit', a] as [string, Record<string, unknown>]),
  },
  { weight: 1, arbitrary: shapedArgs({ models: fc.array(pick(['notes', 'tasks', 'constructor']), { maxLength: 2 }) }).map((a) => ['ablo_schema', a] as [string, Record<string, unknown>]) },
  { weight: 1, arbitrary: fc.tuple(name, shapedArgs({ x: anyValue })).map(([n, a]) => [n, a] as [string, Record<string, unknown>]) },
);

describe('fuzz: MCP', () => {
  test('tool arguments through a real MCP client against /mcp', async () => {
    const tally = new Tally('MCP tool calls');
    await assertFuzz(
      fc.asyncProperty(callArb, async ([tool, args]) => {
        tally.count++;
        const what = `${tool} ${JSON.stringify(args).slice(0, 300)}`;
        // Never a JSON-RPC error: every refusal is a tool result with a typed error.
        const r = (await mcp.client.callTool({ name: tool, arguments: args })) as CallToolResult;
        const refused = r.isError === true;
        if (refused) {
          const error = (r.structuredContent as { error?: unknown } | undefined)?.error;
          expectTypedError(error, what);
          tally.saw(`isError ${(error as { code: string }).code}`);
        } else tally.saw('ok');
        const after = await snaps.take();
        if (refused) {
          tally.refused++;
          expect(after.lastSyncId, `${what}: refused, so lastSyncId is unchanged`).toBe(state.lastSyncId);
          expect(after.rows === state.rows, `${what}: refused, so no row changed`).toBe(true);
        }
        expect(internalErrors(engine.stderr()), what).toEqual([]);
        state = after;
      }),
      fuzzParams(2500, 8000),
    );
    tally.report();
    expect(tally.count).toBeGreaterThan(0);
    await health(engine);
    expect(engine.exited()).toBe(false);
  }, 120_000);
});
