/**
 * src/protocol/json.ts: the one check every JSON input goes through, and the
 * writers that cannot overflow the stack. Property tests compare them with
 * the native/Zod behaviour they replace.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { AbloValidationError } from '../../src/errors.js';
import {
  MAX_JSON_DEPTH,
  canonicalJsonIterative,
  checkJson,
  cloneJson,
  hasLoneSurrogate,
  jsonDepth,
  jsonValueIssue,
  parseJson,
  stringifyJson,
} from '../../src/protocol/json.js';
import { canonicalJson, defineSchema, deserializeSchema, model, serializeSchema } from '../../src/schema/index.js';

const seed = Number(process.env.FUZZ_SEED) || undefined;
const params = { numRuns: 500, ...(seed ? { seed } : {}) };

/** The recursive canonical JSON this module replaced (for values it handled: no `__proto__` keys). */
function oldCanonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(v).sort()) {
        const x = (v as Record<string, unknown>)[key];
        if (x !== undefined) out[key] = sort(x);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

function deep(depth: number, leaf: unknown = 1): unknown {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v };
  return v;
}

const hasProtoKey = (v: unknown): boolean => JSON.stringify(v)?.includes('"__proto__"') ?? false;

describe('writers', () => {
  test('canonicalJson gives the same text as before (schema and request hashes do not change)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(fc.oneof(fc.string(), fc.nat().map(String)), fc.jsonValue({ maxDepth: 2 }))), (v) => {
        fc.pre(!hasProtoKey(v));
        expect(canonicalJson(v)).toBe(oldCanonical(v));
      }),
      params,
    );
    const s = defineSchema({ tasks: model({ title: z.string(), meta: z.json().optional() }) });
    expect(serializeSchema(s).hash).toBe(s.serialized.hash);
  });

  test('the fast and the iterative path of canonicalJson write the same text', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true, withNullPrototype: true, withBoxedValues: true, withSparseArray: true, withObjectString: true }), (v) => {
        let fast: string;
        try {
          fast = canonicalJson(v);
        } catch {
          return; // BigInt: both throw
        }
        expect(canonicalJsonIterative(v)).toBe(fast);
      }),
      params,
    );
    const v = JSON.parse('{"__proto__":{"b":1,"a":[2,{"10":1,"9":2,"x":3}]}}');
    expect(canonicalJson(v)).toBe('{"__proto__":{"a":[2,{"9":2,"10":1,"x":3}],"b":1}}');
    expect(canonicalJsonIterative(v)).toBe(canonicalJson(v));
  });

  test('stringifyJson gives exactly what JSON.stringify gives, undefined, NaN, toJSON and all', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true, withNullPrototype: true, withBoxedValues: true, withSparseArray: true, withObjectString: true }), (v) => {
        let expected: string | undefined;
        try {
          expected = JSON.stringify(v);
        } catch {
          return; // BigInt: both throw
        }
        expect(stringifyJson(v)).toBe(expected);
      }),
      params,
    );
  });

  test('at 100,000 levels: canonicalJson and stringifyJson write, JSON.parse reads back', () => {
    const v = deep(100_000, 'leaf');
    expect(() => JSON.stringify(v)).toThrow(RangeError);
    const text = stringifyJson(v);
    expect(canonicalJson(v)).toBe(text);
    expect(jsonDepth(JSON.parse(text))).toBe(100_000);
    expect(text.length).toBeGreaterThan(200_000);
  });

  test('circular values throw as JSON.stringify does', () => {
    const a: Record<string, unknown> = {};
    a.self = { a };
    expect(() => canonicalJson(a)).toThrow(/circular/i);
  });
});

describe('checkJson: one walk, iterative', () => {
  test('depth: a value gets exactly maxDepth levels inside the envelope', () => {
    const body = (d: number) => ({ data: { f: deep(d) } });
    expect(() => checkJson(body(MAX_JSON_DEPTH), { envelope: 2 })).not.toThrow();
    let err: AbloValidationError | undefined;
    try {
      checkJson(body(MAX_JSON_DEPTH + 1), { envelope: 2, what: 'Request body' });
    } catch (e) {
      err = e as AbloValidationError;
    }
    expect(err).toBeInstanceOf(AbloValidationError);
    expect(err!.code).toBe('invalid_json');
    expect(err!.field).toBe('data.f');
    expect(err!.details.maxDepth).toBe(64);
    expect(err!.message).toMatch(/^Request body nests deeper than 64 levels at "data\.f\.k\.0\.k…"/);
    expect(() => checkJson(deep(3), { maxDepth: 2 })).toThrow(/deeper than 2 levels/);
    expect(() => checkJson(deep(2), { maxDepth: 2 })).not.toThrow();
  });

  test('a million-level document is refused at once, without recursion', () => {
    const text = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    expect(() => parseJson(text, { envelope: 4 })).toThrow(/deeper than 64/);
  });

  test('a "__proto__" key is refused anywhere as an unknown field', () => {
    expect(() => checkJson(JSON.parse('{"a":[{"__proto__":1}]}'))).toThrow(/"__proto__" at "a\.0\.__proto__"/);
    expect(() => checkJson(JSON.parse('{"a":{"constructor":{"prototype":1}}}'))).not.toThrow();
  });

  test('lone surrogates in values and keys are refused with the path; pairs pass', () => {
    const cases: Array<[unknown, string]> = [
      [{ a: 'x\ud800' }, 'a'],
      [{ a: ['ok', '\udfff'] }, 'a.1'],
      [{ 'k\udc00': 1 }, 'k\\udc00'],
      [{ a: { b: '\udbff\udbff\udfff' } }, 'a.b'],
    ];
    for (const [v, field] of cases) {
      expect(() => checkJson(v), field).toThrow(AbloValidationError);
      try {
        checkJson(v);
      } catch (e) {
        expect((e as AbloValidationError).code).toBe('invalid_field');
        expect((e as AbloValidationError).field).toBe(field);
      }
    }
    expect(() => checkJson({ '\u{1F600}': ['a\u{1F600}b'] })).not.toThrow();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
        expect(hasLoneSurrogate(s)).toBe(lone);
        // fast-check generates "__proto__" on purpose: that key is refused too.
        if (lone || s === '__proto__') expect(() => checkJson({ [s]: s })).toThrow(AbloValidationError);
        else expect(() => checkJson({ [s]: s })).not.toThrow();
      }),
      { ...params, numRuns: 2000 },
    );
  });
});

describe('the json field type', () => {
  test('accepts and rejects exactly what z.json() does', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true }), (v) => {
        expect(jsonValueIssue(v) === null).toBe(z.json().safeParse(v).success);
      }),
      params,
    );
  });

  test('a 5,000-level value validates (Zod’s z.json() overflows the stack near 1,700)', () => {
    const probe = deserializeSchema(serializeSchema(defineSchema({ notes: model({ meta: z.json() }) }))).model('notes');
    const value = deep(5000);
    const parsed = probe.parseCreate({ meta: value });
    expect(canonicalJson(parsed.meta)).toBe(canonicalJson(value));
    expect(parsed.meta === value).toBe(false); // a copy, as z.json() made
  });

  test('__proto__ keys stay data through the copy', () => {
    const v = JSON.parse('{"__proto__":{"x":1},"a":[{"__proto__":2}]}');
    const c = cloneJson(v);
    expect(Object.keys(c)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
    expect(stringifyJson(c)).toBe('{"__proto__":{"x":1},"a":[{"__proto__":2}]}');
  });
});
