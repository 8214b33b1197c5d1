import { describe, expect, test } from 'vitest';
import {
  AbloSchemaError,
  belongsTo,
  canonicalJson,
  defineSchema,
  deserializeSchema,
  hasMany,
  model,
  parseSerializedSchema,
  serializeSchema,
  z,
} from '../../src/schema/index.js';
import { AbloValidationError } from '../../src/errors.js';

// One field per supported kind, each with values the Zod original accepts and rejects.
const cases: Record<string, { type: z.ZodType; values: unknown[] }> = {
  plain: { type: z.string(), values: ['', 'x', 1, null, undefined, true] },
  bounded: { type: z.string().min(2).max(4), values: ['a', 'ab', 'abcd', 'abcde', ''] },
  exact: { type: z.string().length(3), values: ['abc', 'ab', 'abcd'] },
  email: { type: z.email(), values: ['a@b.co', 'not-an-email', 'a@b', ''] },
  emailMethod: { type: z.string().email(), values: ['x.y@example.org', 'x@', '@x.org'] },
  url: { type: z.url(), values: ['https://example.com/x', 'mailto:a@b.c', 'not a url', ''] },
  httpsUrl: { type: z.url({ protocol: /^https$/ }), values: ['https://a.io', 'http://a.io'] },
  regex: { type: z.string().regex(/^ab+c$/i), values: ['abc', 'ABBC', 'ac', 'xabc'] },
  starts: { type: z.string().startsWith('sk_'), values: ['sk_1', 'pk_1'] },
  ends: { type: z.string().endsWith('.md'), values: ['a.md', 'a.txt'] },
  includes: { type: z.string().includes('@'), values: ['a@b', 'ab'] },
  lower: { type: z.string().lowercase(), values: ['abc', 'aBc'] },
  uuid: { type: z.uuid(), values: ['123e4567-e89b-42d3-a456-426614174000', 'nope', '123e4567e89b42d3a456426614174000'] },
  ulid: { type: z.ulid(), values: ['01ARZ3NDEKTSV4RRFFQ69G5FAV', '01ARZ3NDEKTSV4RRFFQ69G5FA', 'u1ARZ3NDEKTSV4RRFFQ69G5FAV'] },
  base64: { type: z.base64(), values: ['aGk=', 'aGk', 'a===', '!!'] },
  ipv6: { type: z.ipv6(), values: ['::1', '2001:db8::8a2e:370:7334', '1.2.3.4', ':::'] },
  uuidV4: { type: z.uuid({ version: 'v4' }), values: ['123e4567-e89b-42d3-a456-426614174000', '123e4567-e89b-12d3-a456-426614174000'] },
  time: { type: z.iso.time(), values: ['10:00', '10:00:00.5', '25:00'] },
  count: { type: z.number(), values: [0, -1.5, 1e9, '1', NaN, Infinity, null] },
  int: { type: z.number().int().min(0).max(10), values: [0, 10, 11, -1, 2.5, '3'] },
  zint: { type: z.int(), values: [3, 3.1, Number.MAX_SAFE_INTEGER + 2] },
  positive: { type: z.number().positive().lt(100), values: [0, 0.1, 99.9, 100] },
  multiple: { type: z.number().multipleOf(5), values: [10, 11, 0] },
  flag: { type: z.boolean(), values: [true, false, 'true', 0, null] },
  status: { type: z.enum(['todo', 'doing', 'done']), values: ['todo', 'done', 'Done', '', 1] },
  literal: { type: z.literal('only'), values: ['only', 'other'] },
  at: { type: z.iso.datetime(), values: ['2026-11-21T10:00:00Z', '2026-11-21T10:00:00.123Z', '2026-11-21T10:00:00+02:00', '2026-11-21', 'yesterday'] },
  atOffset: { type: z.iso.datetime({ offset: true }), values: ['2026-11-21T10:00:00+02:00', '2026-11-21T10:00:00Z', '2026-11-21T10:00'] },
  day: { type: z.iso.date(), values: ['2026-11-21', '2026-13-01', '2026-11-21T10:00:00Z'] },
  payload: { type: z.json(), values: [{ a: [1, 'x', null] }, [1, 2], 'text', 3, null, undefined] },
  tags: { type: z.array(z.string().min(1)).max(2), values: [[], ['a'], ['a', 'b', 'c'], [''], 'a', [1]] },
  matrix: { type: z.array(z.array(z.number())), values: [[[1], [2, 3]], [[1, 'x']], [1]] },
  address: {
    type: z.object({ city: z.string(), zip: z.string().length(5).optional() }),
    values: [{ city: 'Oslo' }, { city: 'Oslo', zip: '01234' }, { city: 'Oslo', zip: '1' }, { zip: '01234' }, { city: 'Oslo', extra: 1 }, 'Oslo'],
  },
  strictAddress: { type: z.strictObject({ city: z.string() }), values: [{ city: 'Oslo' }, { city: 'Oslo', extra: 1 }] },
  looseAddress: { type: z.looseObject({ city: z.string() }), values: [{ city: 'Oslo', extra: 1 }, { extra: 1 }] },
  scores: { type: z.record(z.string(), z.number().int()), values: [{}, { a: 1 }, { a: 1.5 }, { a: 'x' }, []] },
  maybe: { type: z.string().nullable(), values: ['x', null, undefined, 1] },
  optionalText: { type: z.string().optional(), values: ['x', undefined, null] },
  nullish: { type: z.number().nullish(), values: [1, null, undefined, 'x'] },
  defaulted: { type: z.enum(['a', 'b']).default('a'), values: ['a', 'b', undefined, 'c', null] },
  nullDefault: { type: z.string().nullable().default(null), values: [null, 'x', undefined, 5] },
  described: { type: z.string().max(3).describe('Short code'), values: ['abc', 'abcd'] },
};

const shape = Object.fromEntries(Object.entries(cases).map(([k, c]) => [k, c.type]));
const everything = defineSchema({ things: model(shape) });

describe('serialize → deserialize round trip', () => {
  const compiled = deserializeSchema(JSON.stringify(serializeSchema(everything)));
  const things = compiled.model('things');

  for (const [field, { type, values }] of Object.entries(cases)) {
    test(`field "${field}" accepts and rejects exactly what Zod does`, () => {
      const original = z.strictObject({ [field]: type });
      const agreed: Array<[unknown, boolean]> = [];
      for (const value of values) {
        const input = value === undefined ? {} : { [field]: value };
        const expected = original.safeParse(input).success;
        const actual = fieldAccepts(field, value);
        agreed.push([value, actual]);
        expect({ field, value, accepted: actual }).toEqual({ field, value, accepted: expected });
      }
      // Every table holds at least one accepted and one rejected value, so both paths are exercised.
      expect(agreed.some(([, ok]) => ok)).toBe(true);
      expect(agreed.some(([, ok]) => !ok)).toBe(true);
    });
  }

  /** Whether the deserialized validator accepts `value` for `field`, through a one-field model. */
  function fieldAccepts(field: string, value: unknown): boolean {
    const d = things.descriptor.fields[field]!;
    const single = deserializeSchema({
      formatVersion: 1,
      models: { probe: { fields: { [field]: d }, relations: {}, options: {} } },
    }).model('probe');
    try {
      single.parseCreate(value === undefined ? {} : { [field]: value });
      return true;
    } catch (err) {
      expect(err).toBeInstanceOf(AbloValidationError);
      return false;
    }
  }

  test('descriptions, defaults and flags survive', () => {
    expect(things.fields.described).toMatchObject({ type: 'string', description: 'Short code' });
    expect(things.fields.defaulted).toMatchObject({ type: 'enum', values: ['a', 'b'], default: 'a' });
    expect(things.fields.nullDefault).toMatchObject({ nullable: true, default: null });
    expect(things.fields.optionalText).toMatchObject({ optional: true });
    expect(things.fields.at).toMatchObject({ type: 'date', format: 'datetime' });
    expect(things.fields.payload).toEqual({ type: 'json' });
  });

  test('create fills defaults and rejects unknown and server-managed fields by name', () => {
    const probe = deserializeSchema(
      serializeSchema(defineSchema({ tasks: model({ title: z.string(), status: z.enum(['todo', 'done']).default('todo') }) })),
    ).model('tasks');
    expect(probe.parseCreate({ title: 'x' })).toEqual({ title: 'x', status: 'todo' });
    expect(() => probe.parseCreate({ title: 'x', titel: 'y' })).toThrowError(/titel/);
    expect(() => probe.parseCreate({ title: 'x', id: 'abc' })).toThrowError(/"id".*managed/);
    expect(() => probe.parseCreate({ status: 'todo' })).toThrowError(/tasks\.title/);
    try {
      probe.parseCreate({ title: 5 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AbloValidationError);
      expect((err as AbloValidationError).field).toBe('title');
      expect((err as AbloValidationError).model).toBe('tasks');
    }
    // Update takes any subset and never injects defaults.
    expect(probe.parseUpdate({})).toEqual({});
    expect(probe.parseUpdate({ status: 'done' })).toEqual({ status: 'done' });
    expect(() => probe.parseUpdate({ status: 'nope' })).toThrowError(/tasks\.status/);
  });

  test('relations and options round-trip', () => {
    const s = defineSchema({
      projects: model({ name: z.string() }, { tasks: hasMany('tasks', 'projectId') }, { idPrefix: 'proj', description: 'Projects' }),
      tasks: model({ projectId: z.string() }, { project: belongsTo('projects', 'projectId') }, { syncGroupFormat: ['project:{projectId}', 'all'] }),
    });
    const back = deserializeSchema(JSON.parse(JSON.stringify(s.serialized)));
    expect(back.hash).toBe(s.serialized.hash);
    expect(back.model('projects').descriptor.relations).toEqual({ tasks: { kind: 'hasMany', model: 'tasks', foreignKey: 'projectId' } });
    expect(back.model('projects').idPrefix).toBe('proj');
    expect(back.model('tasks').idPrefix).toBe('task');
    expect(back.model('tasks').syncGroups({ projectId: 'p1' })).toEqual(['project:p1', 'all']);
    expect(back.model('projects').syncGroups({ name: 'x' })).toEqual(['default']);
  });
});

describe('hash', () => {
  test('ignores key order of models and fields', () => {
    const a = defineSchema({
      a: model({ x: z.string(), y: z.number() }),
      b: model({ z: z.boolean() }),
    });
    const b = defineSchema({
      b: model({ z: z.boolean() }),
      a: model({ y: z.number(), x: z.string() }),
    });
    expect(a.serialized.hash).toBe(b.serialized.hash);
    expect(canonicalJson(a.serialized)).toBe(canonicalJson(b.serialized));
    expect(a.serialized.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('changes when content changes', () => {
    const a = defineSchema({ a: model({ x: z.string() }) });
    const b = defineSchema({ a: model({ x: z.string().min(1) }) });
    expect(a.serialized.hash).not.toBe(b.serialized.hash);
  });

  test('is a real sha256 of the canonical document', async () => {
    const { createHash } = await import('node:crypto');
    const s = defineSchema({ a: model({ x: z.string() }) });
    const expected = createHash('sha256')
      .update(canonicalJson({ formatVersion: 1, models: s.serialized.models }))
      .digest('hex');
    expect(s.serialized.hash).toBe(expected);
  });
});

describe('unsupported constructs name model and field', () => {
  const bad: Array<[string, z.ZodType, RegExp]> = [
    ['z.date()', z.date(), /z\.iso\.datetime/],
    ['refine', z.string().refine((v) => v.length > 1), /refine/],
    ['transform', z.string().transform((v) => v.length), /transform/],
    ['union', z.union([z.string(), z.number()]), /union/],
    ['any', z.any(), /z\.json\(\)/],
    ['trim', z.string().trim(), /trim/],
    ['function default', z.string().default(() => Math.random().toString()), /constant default/],
    ['bigint', z.bigint(), /bigint/],
    ['number enum', z.literal(3), /non-string literal/],
  ];
  for (const [name, type, message] of bad) {
    test(name, () => {
      try {
        defineSchema({ things: model({ ok: z.string(), weird: type }) });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(AbloSchemaError);
        const e = err as AbloSchemaError;
        expect(e.model).toBe('things');
        expect(e.field).toBe('weird');
        expect(e.message).toMatch(/Model "things", field "weird"/);
        expect(e.message).toMatch(message);
      }
    });
  }

  test('nested unsupported types name the path', () => {
    expect(() => defineSchema({ t: model({ meta: z.object({ at: z.date() }) }) })).toThrowError(/field "meta\.at"/);
  });
});

describe('schema structure', () => {
  test('reserved, invalid and case-colliding names are refused', () => {
    expect(() => defineSchema({ t: model({ id: z.string() }) })).toThrowError(/"id": this name is managed/);
    // Column names are case-insensitive in SQL, so a case variant of a system field is refused too.
    expect(() => defineSchema({ t: model({ CreatedAt: z.string() }) })).toThrowError(/"CreatedAt": this name is managed/);
    expect(() => defineSchema({ t: model({ 'bad-name': z.string() }) })).toThrowError(/not a valid identifier/);
    expect(() => defineSchema({ 'drop table': model({ x: z.string() }) })).toThrowError(/not a valid identifier/);
    expect(() => defineSchema({ t: model({ title: z.string(), Title: z.string() }) })).toThrowError(/differ only in case/);
    expect(() => defineSchema({ t: model({ x: z.string() }), T: model({ x: z.string() }) })).toThrowError(/differ only in case/);
  });

  test('relations must point at real models and string keys', () => {
    expect(() => defineSchema({ t: model({ pid: z.string() }, { p: belongsTo('projects', 'pid') }) })).toThrowError(/model "projects"/);
    expect(() =>
      defineSchema({ p: model({}), t: model({ pid: z.number() }, { p: belongsTo('p', 'pid') }) }),
    ).toThrowError(/must be a string field/);
    expect(() => defineSchema({ p: model({}), t: model({}, { p: belongsTo('p', 'pid') }) })).toThrowError(/foreign key "pid"/);
  });

  test('sync group templates must name fields', () => {
    expect(() => defineSchema({ t: model({ a: z.string() }, {}, { syncGroupFormat: 'x:{b}' }) })).toThrowError(/\{b\}/);
  });
});

describe('parseSerializedSchema on untrusted input', () => {
  const good = defineSchema({ tasks: model({ title: z.string() }) }).serialized;

  test('accepts its own output, as text or object', () => {
    expect(parseSerializedSchema(JSON.stringify(good)).hash).toBe(good.hash);
    expect(parseSerializedSchema(good).hash).toBe(good.hash);
  });

  test('refuses malformed JSON, wrong shapes, edited content and future versions', () => {
    expect(() => parseSerializedSchema('{ nope')).toThrowError(/does not parse/);
    expect(() => parseSerializedSchema({ formatVersion: 1, models: { t: { fields: { a: { type: 'blob' } }, relations: {}, options: {} } } })).toThrowError(
      /models\.t\.fields\.a/,
    );
    const edited = JSON.parse(JSON.stringify(good));
    edited.models.tasks.fields.title.checks = [{ kind: 'min_length', value: 3 }];
    expect(() => parseSerializedSchema(edited)).toThrowError(/hash does not match/);
    expect(() => parseSerializedSchema({ ...good, formatVersion: 99 })).toThrowError(/version 99/);
    try {
      parseSerializedSchema('[]');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AbloSchemaError);
    }
  });
});
