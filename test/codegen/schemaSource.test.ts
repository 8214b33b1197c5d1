/**
 * `schemaSource`: a serialized schema back to DSL source. The generated file,
 * loaded as a user's `ablo.schema.ts` would be, must serialize to the same
 * document and hash.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import { afterAll, describe, it } from 'vitest';
import { schemaSource } from '../../src/codegen/schemaSource.js';
import { belongsTo, defineSchema, hasMany, model, z } from '../../src/schema/index.js';
import type { SerializedSchema } from '../../src/schema/index.js';
import { schema as kitchen } from './kitchen.schema.js';

const schemaModule = fileURLToPath(new URL('../../src/schema/index.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ablo-schema-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const jiti = createJiti(import.meta.url, { fsCache: false, moduleCache: false });

let n = 0;
async function roundTrip(serialized: SerializedSchema): Promise<{ source: string; back: SerializedSchema }> {
  const source = schemaSource(serialized, { importFrom: schemaModule, header: ['Generated for a test */ with a comment end.'] });
  const file = join(dir, `s${n++}.ts`);
  writeFileSync(file, source);
  const mod = (await jiti.import(file)) as { schema: { serialized: SerializedSchema } };
  return { source, back: mod.schema.serialized };
}

const formats = defineSchema({
  people: model(
    {
      email: z.email().max(100),
      workEmail: z.string().min(3).check(z.email({ pattern: /^[a-z]+@corp\.example$/ })).optional(),
      home: z.url({ hostname: /^example\.(com|org)$/ }).nullable(),
      id4: z.uuidv4(),
      anyId: z.string().uuid().optional(),
      ulid: z.ulid().optional(),
      ip: z.ipv4().optional(),
      hex: z.hex().optional(),
      at: z.iso.time({ precision: 2 }).optional(),
      since: z.iso.datetime({ offset: true, precision: 3 }),
      local: z.iso.datetime({ local: true }).optional(),
      age: z.number().min(0).int().lte(150).optional(),
      small: z.number().gte(-5).check(z.int32()).default(0),
      unsigned: z.uint32().optional(),
      path: z.string().regex(/^a\/b[\]]+$/gi).optional(),
      up: z.string().uppercase().length(3).optional(),
      kind: z.literal('person').default('person'),
      settings: z.object({ theme: z.enum(['dark', 'light']).default('light'), 'x-y': z.array(z.string()).length(2).optional() }).default({ theme: 'light' }),
      both: z.string().optional().nullable().default('a'),
      orgId: z.string().nullable().default(null),
      neg: z.number().lt(-0.5).optional(),
    },
    { org: belongsTo('orgs', 'orgId') },
    { syncGroupFormat: ['org:{orgId}', 'all'], idPrefix: 'per', description: 'People "quoted"' },
  ),
  orgs: model({ name: z.string() }, { people: hasMany('people', 'orgId') }),
  empty: model({}),
});

describe('schemaSource round-trips through defineSchema', () => {
  it('the every-kind schema (test/codegen/kitchen.schema.ts) gives the same hash', async ({ expect }) => {
    const { source, back } = await roundTrip(kitchen.serialized);
    expect(back.hash).toBe(kitchen.serialized.hash);
    expect(back).toEqual(kitchen.serialized);
    expect(source).toContain("from '");
    expect(source).toContain('export const schema = defineSchema({');
    // The header comment cannot be closed early by its text.
    expect(source.split('\n').slice(0, 3)).toEqual(['/**', ' * Generated for a test *\\/ with a comment end.', ' */']);
  });

  it('formats, custom patterns, date options, int formats, relations and options', async ({ expect }) => {
    const { source, back } = await roundTrip(formats.serialized);
    expect(back).toEqual(formats.serialized);
    expect(back.hash).toBe(formats.serialized.hash);
    // Readable where it can be: factories for built-in formats, options kept.
    expect(source).toContain('email: z.email().max(100)');
    expect(source).toContain("belongsTo('orgs', 'orgId')");
    expect(source).toContain("syncGroupFormat: ['org:{orgId}', 'all']");
    expect(source).toContain(`description: 'People "quoted"'`);
    expect(source).toMatch(/import \{ belongsTo, defineSchema, hasMany, model, z \}/);
  });

  it('the README / init template schema', async ({ expect }) => {
    const mod = (await jiti.import(fileURLToPath(new URL('../../test/fixtures/example.schema.ts', import.meta.url)))) as { schema: { serialized: SerializedSchema } };
    const { back } = await roundTrip(mod.schema.serialized);
    expect(back.hash).toBe(mod.schema.serialized.hash);
  });

  it('imports ablo/schema by default and only what it uses', ({ expect }) => {
    const source = schemaSource(defineSchema({ notes: model({ body: z.string() }) }).serialized);
    expect(source.split('\n')[0]).toBe("import { defineSchema, model, z } from 'ablo/schema';");
    expect(source).toContain('notes: model({\n    body: z.string(),\n  }),');
  });
});
