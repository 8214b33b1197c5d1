/**
 * The engine checks commit frames of common shapes without Zod
 * (`quickCommitFrame`). It must never accept what `commitFrameSchema` refuses,
 * and what it accepts must be what Zod would hand back: over generated frames
 * (the fuzz suite's commit arbitraries, mostly valid, with odd ids, keys and
 * values) that pass the engine's JSON check, and over hand-made edges.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quickCommitFrame } from '../../src/protocol/commitFrame.js';
import { checkJson, JSON_ENVELOPE } from '../../src/protocol/json.js';
import { commitFrameSchema } from '../../src/protocol/sync.js';
import { commitText, shaped, valueText } from './arbitraries.js';
import { fuzzParams } from './harness.js';

const refText = fc.oneof({ weight: 12, arbitrary: fc.constant('"r1"') }, { weight: 1, arbitrary: valueText });
const frameText = shaped({ type: fc.oneof({ weight: 12, arbitrary: fc.constant('"commit"') }, { weight: 1, arbitrary: valueText }), ref: refText, commit: commitText }, ['type', 'ref', 'commit']);

/** Same verdict as Zod where the quick check decides; returns whether it did. */
function agrees(raw: unknown): boolean {
  const quick = quickCommitFrame(raw);
  const zod = commitFrameSchema.safeParse(raw);
  if (quick === null) return false;
  expect(zod.success, JSON.stringify(raw)).toBe(true);
  expect(quick).toEqual(zod.data);
  return true;
}

describe('quickCommitFrame', () => {
  it('accepts only what Zod accepts, and hands back what Zod would (generated frames)', () => {
    let decided = 0;
    let zodAccepted = 0;
    fc.assert(
      fc.property(frameText, (text) => {
        let raw: unknown;
        try {
          raw = JSON.parse(text);
          // As the engine does first: depth, lone surrogates, `__proto__` keys.
          checkJson(raw, { what: 'Frame', envelope: JSON_ENVELOPE.frame });
        } catch {
          return;
        }
        if (agrees(raw)) decided++;
        if (commitFrameSchema.safeParse(raw).success) zodAccepted++;
      }),
      fuzzParams(3000, 20_000),
    );
    // Not vacuous: many frames Zod accepts are decided without it (those with `reads` never are).
    expect(decided).toBeGreaterThan(0);
    expect(decided).toBeGreaterThan(zodAccepted / 5);
  });

  it('leaves the edges to Zod', () => {
    const op = { op: 'update', model: 'tasks', id: 't1', data: { title: 'x' } };
    const frame = (commit: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'commit', ref: 'r', commit, ...extra });
    expect(agrees(frame({ operations: [op], idempotencyKey: 'k' }))).toBe(true);
    expect(agrees(frame({ operations: [op], idempotencyKey: 'k', ageMs: 1234 }))).toBe(true);
    expect(quickCommitFrame(frame({ operations: [op], idempotencyKey: 'k', ageMs: 0 }))).not.toBeNull();
    expect(agrees(frame({ operations: [{ op: 'create', model: 'tasks', data: {} }] }))).toBe(true);
    expect(agrees(frame({ operations: [{ op: 'delete', model: 'tasks', id: 'a:b.c_d-e', readAt: 3, onStale: 'notify' }] }))).toBe(true);
    for (const raw of [
      frame({ operations: [{ ...op, data: { constructor: 'x' } }] }),
      frame({ operations: [{ ...op, data: [] }] }),
      frame({ operations: [{ ...op, data: JSON.parse('{"__proto__":null}') }] }),
      frame({ operations: [{ ...op, data: null }] }),
      frame({ operations: [{ ...op, id: 'a b' }] }),
      frame({ operations: [{ ...op, id: 'x'.repeat(129) }] }),
      frame({ operations: [{ ...op, model: '' }] }),
      frame({ operations: [{ ...op, readAt: -1 }] }),
      frame({ operations: [{ ...op, readAt: 1.5 }] }),
      frame({ operations: [{ ...op, readAt: 2 ** 53 }] }),
      frame({ operations: [{ ...op, onStale: 'maybe' }] }),
      frame({ operations: [{ ...op, extra: 1 }] }),
      frame({ operations: [{ op: 'create', model: 'tasks', data: {}, readAt: 1 }] }),
      frame({ operations: [{ op: 'delete', model: 'tasks', id: 't1', data: {} }] }),
      frame({ operations: [{ op: 'update', model: 'tasks', data: {} }] }),
      frame({ operations: [{ op: 'upsert', model: 'tasks', id: 't1', data: {} }] }),
      frame({ operations: [] }),
      frame({ operations: [op], idempotencyKey: '' }),
      frame({ operations: [op], label: 'x'.repeat(201) }),
      frame({ operations: [op], ageMs: -1 }),
      frame({ operations: [op], ageMs: 1.5 }),
      frame({ operations: [op], ageMs: '5' }),
      frame({ operations: [op], reads: [] }),
      frame({ operations: [op], other: 1 }),
      frame({ operations: [op] }, { extra: true }),
      { type: 'commit', ref: '', commit: { operations: [op] } },
      { type: 'commit', ref: 'r' },
    ]) {
      expect(quickCommitFrame(raw), JSON.stringify(raw)).toBeNull();
    }
  });
});
