import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { fieldJsonSchema, modelJsonSchemas, modelTypeNames, type JSONSchema } from '../../src/codegen/index.js';
import { compileSchema } from '../../src/schema/index.js';
import { schema as example } from '../fixtures/example.schema.js';
import { schema as kitchen } from './kitchen.schema.js';

// ajv ships CommonJS; take the class / plugin whichever way the loader hands it over.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as typeof addFormatsModule.default;

function makeAjv() {
  // Strict mode: unknown keywords are errors, so the vendor annotations are declared.
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  for (const keyword of ['x-ablo-flags', 'x-ablo-format', 'x-ablo-url-hostname', 'x-ablo-url-protocol']) ajv.addKeyword(keyword);
  return ajv;
}

const schemas = modelJsonSchemas(kitchen.serialized);
const things = schemas.things!;
const props = (s: JSONSchema) => s.properties as Record<string, JSONSchema>;

describe('fieldJsonSchema / modelJsonSchemas shapes', () => {
  it('maps string checks and formats', () => {
    const p = props(things.create);
    expect(p.name).toEqual({ type: 'string', minLength: 2, maxLength: 20, description: 'Display name' });
    expect(p.code).toEqual({ type: 'string', minLength: 4, maxLength: 4, pattern: '^[A-Z]+$' });
    expect(p.slug).toEqual({ type: 'string', pattern: '^s-', allOf: [{ pattern: '-x$' }, { pattern: 'mid' }] });
    expect(p.greeting).toEqual({ type: 'string', pattern: '^hello', 'x-ablo-flags': 'i' });
    expect(p.lower).toEqual({ type: 'string', pattern: '^[^A-Z]*$' });
    expect(p.email).toMatchObject({ type: 'string', format: 'email' });
    expect(typeof p.email!.pattern).toBe('string');
    expect(p.site).toEqual({ type: 'string', format: 'uri' });
    expect(p.secureSite).toEqual({ type: 'string', format: 'uri', 'x-ablo-url-protocol': { pattern: '^https$', flags: '' } });
    expect(p.uuid).toMatchObject({ type: 'string', format: 'uuid' });
    expect(p.dueAt).toMatchObject({ type: ['string', 'null'], format: 'date-time' });
    expect(p.day).toMatchObject({ type: 'string', format: 'date' });
  });

  it('maps numbers, booleans, enums and defaults', () => {
    const p = props(things.create);
    expect(p.count).toEqual({ type: 'integer', minimum: 0, maximum: 100 });
    expect(p.ratio).toEqual({ type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.5 });
    expect(p.step).toEqual({ type: 'number', multipleOf: 5, default: 10 });
    expect(p.small).toEqual({ type: 'integer', minimum: -2147483648, maximum: 2147483647 });
    expect(p.done).toEqual({ type: 'boolean', default: false });
    expect(p.status).toEqual({ type: 'string', enum: ['todo', 'doing', 'done'], default: 'todo' });
    expect(p.meta).toEqual({});
  });

  it('maps arrays, objects and records', () => {
    const p = props(things.create);
    expect(p.tags).toEqual({ type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 3 });
    expect(p.scores).toMatchObject({ type: 'array', items: { type: ['integer', 'null'] }, maxItems: 5, default: [] });
    expect(p.address).toMatchObject({ type: ['object', 'null'], required: ['street'] });
    expect(props(p.address!)['weird-key']).toEqual({ type: 'boolean' });
    expect(props(p.address!).country).toEqual({ type: 'string', default: 'NL' });
    expect(p.address!.additionalProperties).toBeUndefined();
    expect(p.box).toEqual({ type: 'object', properties: { a: { type: 'number' } }, required: ['a'], additionalProperties: false });
    expect(p.labels).toEqual({ type: 'object', additionalProperties: { type: 'string', maxLength: 10 } });
    // A stored row has nested defaults filled in.
    expect(props(things.row).address!.required).toEqual(['country', 'street']);
  });

  it('marks nullability per mode', () => {
    const d = kitchen.serialized.models.things!.fields.greeting!;
    expect(fieldJsonSchema(d, 'create').type).toBe('string');
    expect(fieldJsonSchema(d, 'update').type).toEqual(['string', 'null']);
    expect(fieldJsonSchema(d, 'row').type).toEqual(['string', 'null']);
    expect(fieldJsonSchema({ type: 'enum', values: ['a'], nullable: true }, 'create')).toEqual({ type: ['string', 'null'], enum: ['a', null] });
    expect(fieldJsonSchema({ type: 'json', nullable: true }, 'create')).toEqual({});
  });

  it('builds row, create and update documents', () => {
    const tasks = modelJsonSchemas(example.serialized).tasks!;
    for (const s of [tasks.row, tasks.create, tasks.update]) expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(tasks.row.title).toBe('Task');
    expect(tasks.create.title).toBe('TaskCreate');
    expect(tasks.update.title).toBe('TaskUpdate');
    expect(tasks.row.required).toEqual(['id', 'createdAt', 'updatedAt', 'syncId', 'assigneeId', 'estimate', 'projectId', 'status', 'title']);
    expect(props(tasks.row).createdAt).toMatchObject({ type: 'string', format: 'date-time' });
    expect(props(tasks.row).syncId).toMatchObject({ type: 'integer' });
    expect(props(tasks.row).estimate!.type).toEqual(['integer', 'null']);
    expect(tasks.create.required).toEqual(['projectId', 'title']);
    expect(props(tasks.create).id).toMatchObject({ type: 'string' });
    expect(tasks.create.additionalProperties).toBe(false);
    expect(tasks.update.required).toBeUndefined();
    expect(tasks.update.additionalProperties).toBe(false);
    expect(JSON.stringify(modelJsonSchemas(example.serialized))).not.toContain('$id');
  });

  it('names models PascalCase and singular, uniquely', () => {
    expect(modelTypeNames(kitchen.serialized)).toEqual({ categories: 'Category', status: 'Status', things: 'Thing' });
    const names = modelTypeNames({
      models: { task: {}, tasks: {}, errors: {}, task_items: {}, taskItems: {} } as never,
    });
    expect(names).toEqual({ errors: 'Errors', task: 'Task', taskItems: 'TaskItem', task_items: 'TaskItems', tasks: 'Tasks' });
  });

  it('every generated schema compiles in strict Ajv (2020-12)', () => {
    const ajv = makeAjv();
    for (const set of [schemas, modelJsonSchemas(example.serialized)]) {
      for (const model of Object.values(set)) {
        for (const s of [model.row, model.create, model.update]) expect(() => ajv.compile(s)).not.toThrow();
      }
    }
  });

  it('is deterministic', () => {
    expect(JSON.stringify(modelJsonSchemas(kitchen.serialized))).toBe(JSON.stringify(modelJsonSchemas(kitchen.serialized)));
  });
});

// ---------------------------------------------------------------------------
// The generated JSON Schema accepts and rejects exactly what the compiled Zod
// validator does.

const compiled = compileSchema(kitchen).model('things');
const ajv = makeAjv();
const validateCreate = ajv.compile(things.create);
const validateUpdate = ajv.compile(things.update);
const validateRow = ajv.compile(things.row);

const baseCreate: Record<string, unknown> = {
  name: 'Widget',
  code: 'ABCD',
  slug: 's-mid-x',
  email: 'a@b.co',
  site: 'https://example.com',
  count: 5,
  dueAt: null,
  tags: ['x'],
  address: { street: 'Main' },
  labels: {},
};

const OMIT = Symbol('omit');

interface Case {
  field: string;
  value: unknown;
  valid: boolean;
  /** Why the JSON Schema cannot agree on this value; such cases assert the known disagreement. */
  skip?: string;
}

const REGEX_FLAG = 'regex flag `i` cannot be expressed in a JSON Schema pattern (kept as x-ablo-flags)';

const createCases: Case[] = [
  { field: 'name', value: 'ab', valid: true },
  { field: 'name', value: 'a', valid: false },
  { field: 'name', value: 'x'.repeat(21), valid: false },
  { field: 'name', value: 42, valid: false },
  { field: 'name', value: null, valid: false },
  { field: 'name', value: OMIT, valid: false },
  { field: 'code', value: 'WXYZ', valid: true },
  { field: 'code', value: 'ABC', valid: false },
  { field: 'code', value: 'abcd', valid: false },
  { field: 'slug', value: 's-amidb-x', valid: true },
  { field: 'slug', value: 's-x', valid: false },
  { field: 'slug', value: 'a-mid-x', valid: false },
  { field: 'slug', value: 's-mid-y', valid: false },
  { field: 'greeting', value: 'hello you', valid: true },
  { field: 'greeting', value: 'bye', valid: false },
  { field: 'greeting', value: null, valid: false },
  { field: 'greeting', value: 'HELLO you', valid: true, skip: REGEX_FLAG },
  { field: 'lower', value: 'abc-1', valid: true },
  { field: 'lower', value: 'aBc', valid: false },
  { field: 'email', value: 'first.last+tag@example.co.uk', valid: true },
  { field: 'email', value: 'not-an-email', valid: false },
  { field: 'email', value: 'a@b', valid: false },
  { field: 'email', value: 'a..b@example.com', valid: false },
  { field: 'site', value: 'https://example.com/x?y=1#z', valid: true },
  { field: 'site', value: 'mailto:someone@example.com', valid: true },
  { field: 'site', value: 'not a url', valid: false },
  { field: 'site', value: '/relative/path', valid: false },
  { field: 'secureSite', value: 'https://example.com', valid: true },
  { field: 'secureSite', value: 'http://example.com', valid: false, skip: 'a URL protocol rule cannot be expressed in JSON Schema (kept as x-ablo-url-protocol)' },
  { field: 'uuid', value: 'f47ac10b-58cc-4372-a567-0e02b2c3d479', valid: true },
  { field: 'uuid', value: 'F47AC10B-58CC-4372-A567-0E02B2C3D479', valid: true },
  { field: 'uuid', value: 'f47ac10b-58cc-4372-c567-0e02b2c3d479', valid: false },
  { field: 'uuid', value: 'not-a-uuid', valid: false },
  { field: 'count', value: 0, valid: true },
  { field: 'count', value: 100, valid: true },
  { field: 'count', value: 101, valid: false },
  { field: 'count', value: -1, valid: false },
  { field: 'count', value: 1.5, valid: false },
  { field: 'count', value: '5', valid: false },
  { field: 'ratio', value: 0.999, valid: true },
  { field: 'ratio', value: 0, valid: false },
  { field: 'ratio', value: 1, valid: false },
  { field: 'ratio', value: OMIT, valid: true },
  { field: 'step', value: 15, valid: true },
  { field: 'step', value: 0, valid: true },
  { field: 'step', value: 12, valid: false },
  { field: 'step', value: 12.5, valid: false },
  { field: 'small', value: 2147483647, valid: true },
  { field: 'small', value: -2147483648, valid: true },
  { field: 'small', value: 2147483648, valid: false },
  { field: 'small', value: 3.5, valid: false },
  { field: 'done', value: true, valid: true },
  { field: 'done', value: 'yes', valid: false },
  { field: 'status', value: 'doing', valid: true },
  { field: 'status', value: 'later', valid: false },
  { field: 'status', value: null, valid: false },
  { field: 'dueAt', value: '2024-01-01T10:00:00Z', valid: true },
  { field: 'dueAt', value: '2024-01-01T10:00:00.123Z', valid: true },
  { field: 'dueAt', value: '2024-01-01T10:00:00+02:00', valid: false },
  { field: 'dueAt', value: '2024-02-30T10:00:00Z', valid: false },
  { field: 'dueAt', value: '2024-01-01', valid: false },
  { field: 'dueAt', value: OMIT, valid: false },
  { field: 'day', value: '2024-02-29', valid: true },
  { field: 'day', value: '2023-02-29', valid: false },
  { field: 'day', value: '2024-1-1', valid: false },
  { field: 'meta', value: { a: [1, null, 'x'], b: { c: true } }, valid: true },
  { field: 'meta', value: 'text', valid: true },
  { field: 'meta', value: null, valid: true },
  { field: 'tags', value: ['a', 'b', 'c'], valid: true },
  { field: 'tags', value: [], valid: false },
  { field: 'tags', value: ['a', 'b', 'c', 'd'], valid: false },
  { field: 'tags', value: [''], valid: false },
  { field: 'tags', value: 'a', valid: false },
  { field: 'scores', value: [1, null, 3], valid: true },
  { field: 'scores', value: [1.5], valid: false },
  { field: 'scores', value: [1, 2, 3, 4, 5, 6], valid: false },
  { field: 'address', value: null, valid: true },
  { field: 'address', value: { street: 'x', zip: '12345', country: 'DE' }, valid: true },
  { field: 'address', value: { street: 'x', 'weird-key': true }, valid: true },
  { field: 'address', value: { street: 'x', extra: 1 }, valid: true },
  { field: 'address', value: { street: 'x', zip: '1234' }, valid: false },
  { field: 'address', value: { zip: '12345' }, valid: false },
  { field: 'address', value: { street: 'x', country: null }, valid: false },
  { field: 'box', value: { a: 1 }, valid: true },
  { field: 'box', value: { a: 1, b: 2 }, valid: false },
  { field: 'box', value: {}, valid: false },
  { field: 'loose', value: { b: 'x', c: 1 }, valid: true },
  { field: 'loose', value: { c: 1 }, valid: false },
  { field: 'labels', value: { a: 'short', b: '' }, valid: true },
  { field: 'labels', value: { a: 'waytoolongvalue' }, valid: false },
  { field: 'labels', value: { a: 1 }, valid: false },
  { field: 'note', value: null, valid: true },
  { field: 'note', value: 'x', valid: true },
  { field: 'note', value: 5, valid: false },
  { field: 'nope', value: 1, valid: false },
  // Both count string length in code points, not UTF-16 units.
  { field: 'name', value: '😀', valid: false },
  { field: 'name', value: '😀😀', valid: true },
  { field: 'name', value: '😀'.repeat(20), valid: true },
  { field: 'name', value: '😀'.repeat(21), valid: false },
];

function withField(base: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const out = { ...base };
  if (value === OMIT) delete out[field];
  else out[field] = value;
  return out;
}

function zodAccepts(parse: (data: unknown) => unknown, data: unknown): boolean {
  try {
    parse(data);
    return true;
  } catch {
    return false;
  }
}

const label = (c: Case) => `${c.field} = ${c.value === OMIT ? '(left out)' : JSON.stringify(c.value)} → ${c.valid ? 'valid' : 'invalid'}`;

describe('create JSON Schema agrees with parseCreate', () => {
  it('the base payload is valid for both', () => {
    expect(validateCreate(baseCreate), JSON.stringify(validateCreate.errors)).toBe(true);
    expect(zodAccepts(compiled.parseCreate, baseCreate)).toBe(true);
  });
  for (const c of createCases) {
    it(`${label(c)}${c.skip ? ` (known limit: ${c.skip})` : ''}`, () => {
      const data = withField(baseCreate, c.field, c.value);
      expect(zodAccepts(compiled.parseCreate, data), 'zod').toBe(c.valid);
      // Where JSON Schema cannot express the rule, the document is knowingly looser than the engine.
      const expected = c.skip ? !c.valid : c.valid;
      expect(validateCreate(data), `json schema: ${JSON.stringify(validateCreate.errors)}`).toBe(expected);
    });
  }
});

const updateCases: Array<{ data: Record<string, unknown>; valid: boolean }> = [
  { data: {}, valid: true },
  { data: { greeting: null }, valid: true },
  { data: { dueAt: null }, valid: true },
  { data: { name: 'New name' }, valid: true },
  { data: { name: null }, valid: false },
  { data: { status: null }, valid: false },
  { data: { count: 101 }, valid: false },
  { data: { ratio: 2 }, valid: false },
  { data: { address: { street: 'x' } }, valid: true },
  { data: { tags: [] }, valid: false },
  { data: { nope: 1 }, valid: false },
];

describe('update JSON Schema agrees with parseUpdate', () => {
  for (const c of updateCases) {
    it(`${JSON.stringify(c.data)} → ${c.valid ? 'valid' : 'invalid'}`, () => {
      expect(zodAccepts(compiled.parseUpdate, c.data), 'zod').toBe(c.valid);
      expect(validateUpdate(c.data), `json schema: ${JSON.stringify(validateUpdate.errors)}`).toBe(c.valid);
    });
  }
});

const fullRow: Record<string, unknown> = {
  id: 'thing_01',
  createdAt: '2024-01-01T10:00:00.000Z',
  updatedAt: '2024-01-01T10:00:00.000Z',
  syncId: 7,
  ...compiled.parseCreate(baseCreate),
  greeting: null,
  lower: null,
  secureSite: null,
  uuid: null,
  small: null,
  day: null,
  meta: null,
  box: null,
  loose: null,
  note: null,
};

const rowCases: Case[] = [
  { field: 'greeting', value: null, valid: true },
  { field: 'greeting', value: OMIT, valid: false },
  { field: 'note', value: OMIT, valid: false },
  { field: 'count', value: null, valid: false },
  { field: 'address', value: { street: 'x', country: 'NL' }, valid: true },
  { field: 'status', value: 'later', valid: false },
];

describe('row JSON Schema agrees with parseRow', () => {
  it('a full stored row is valid for both', () => {
    expect(zodAccepts(compiled.parseRow, fullRow)).toBe(true);
    expect(validateRow(fullRow), JSON.stringify(validateRow.errors)).toBe(true);
  });
  for (const c of rowCases) {
    it(label(c), () => {
      const data = withField(fullRow, c.field, c.value);
      expect(zodAccepts(compiled.parseRow, data), 'zod').toBe(c.valid);
      expect(validateRow(data), `json schema: ${JSON.stringify(validateRow.errors)}`).toBe(c.valid);
    });
  }
});
