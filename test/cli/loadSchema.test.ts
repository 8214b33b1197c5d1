/**
 * Schema loading and error classification, called directly (no spawn).
 */
import { describe, it, type TestContext } from 'vitest';
import { CliError } from '../../cli/errors.js';
import { classifyLoadError, isSchemaObject, loadSchema, pickSchemaExport } from '../../cli/loadSchema.js';
import { AbloSchemaError } from '../../src/errors.js';
import { defineSchema, model, serializeSchema, z } from '../../src/schema/index.js';
import { createTempProject, type TempProject } from '../helpers/tempProject.js';

function project(ctx: TestContext, files: Record<string, string> = {}): TempProject {
  const p = createTempProject({ files });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

async function loadError(p: TempProject, file = 'ablo.schema.ts'): Promise<CliError> {
  try {
    await loadSchema(file, { cwd: p.dir });
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected loadSchema to fail');
}

describe.concurrent('loadSchema', () => {
  it('loads a TypeScript schema that imports ablo/schema from the project', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';
interface Unused { a: string }
export const schema = defineSchema({ tasks: model({ title: z.string(), done: z.boolean().default(false) }) });
`,
    });
    const loaded = await loadSchema('ablo.schema.ts', { cwd: p.dir });
    expect(loaded.exportName).toBe('schema');
    expect(loaded.file).toBe('ablo.schema.ts');
    expect(loaded.path).toBe(p.path('ablo.schema.ts'));
    expect(Object.keys(loaded.serialized.models)).toEqual(['tasks']);
    expect(loaded.serialized.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('sees an edited file on the next load (no module cache)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ a: model({ x: z.string() }) });\n`,
    });
    const first = await loadSchema('ablo.schema.ts', { cwd: p.dir });
    p.write('ablo.schema.ts', `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ b: model({ x: z.string() }) });\n`);
    const second = await loadSchema('ablo.schema.ts', { cwd: p.dir });
    expect(Object.keys(first.serialized.models)).toEqual(['a']);
    expect(Object.keys(second.serialized.models)).toEqual(['b']);
  });

  it('reads a serialized .json schema', async (ctx) => {
    const { expect } = ctx;
    const s = defineSchema({ notes: model({ body: z.string() }) });
    const p = project(ctx, { 'schema.json': JSON.stringify(serializeSchema(s)) });
    const loaded = await loadSchema('schema.json', { cwd: p.dir });
    expect(loaded.exportName).toBe('json');
    expect(loaded.serialized.hash).toBe(s.serialized.hash);
  });

  it('does not write a jiti cache into the project', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ a: model({ x: z.string() }) });\n`,
    });
    await loadSchema('ablo.schema.ts', { cwd: p.dir });
    expect(p.exists('node_modules/.cache')).toBe(false);
  });

  it('classifies a missing file', async (ctx) => {
    const { expect } = ctx;
    const err = await loadError(project(ctx));
    expect(err.code).toBe('schema_not_found');
    expect(err.message).toBe('schema file not found: ablo.schema.ts');
    expect(err.fix).toContain('ablo init');
    expect(err.exitCode).toBe(1);
  });

  it('classifies a directory passed as the schema', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'dir/x.txt': '' });
    expect((await loadError(p, 'dir')).code).toBe('schema_not_a_file');
  });

  it('classifies a syntax error with line and column', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': `export const schema = {\n  a: 1,,\n};\n` });
    const err = await loadError(p);
    expect(err.code).toBe('schema_syntax_error');
    expect(err.message).toMatch(/^syntax error in ablo\.schema\.ts:2:\d+: /);
    expect(err.details).toMatchObject({ file: p.path('ablo.schema.ts'), line: 2 });
  });

  it('names the imported file that has the syntax error', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': `import { x } from './fields';\nexport const schema = x;\n`, 'fields.ts': `export const x = ;\n` });
    const err = await loadError(p);
    expect(err.message).toMatch(/^syntax error in fields\.ts:1:\d+ \(imported by ablo\.schema\.ts\)/);
  });

  it('classifies a missing import', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': `import { x } from 'left-pad-not-installed';\nexport const schema = x;\n` });
    const err = await loadError(p);
    expect(err.code).toBe('schema_import_not_found');
    expect(err.message).toContain('"left-pad-not-installed"');
    expect(err.fix).toContain('npm install left-pad-not-installed');
  });

  it('classifies an AbloSchemaError with model and field', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ tasks: model({ due: z.date() }) });\n`,
    });
    const err = await loadError(p);
    expect(err.type).toBe('schema_error');
    expect(err.code).toBe('unsupported_type');
    expect(err.details).toMatchObject({ model: 'tasks', field: 'due' });
    expect(err.message).toMatch(/^ablo\.schema\.ts: .*"tasks".*"due"/);
    expect(err.fix).toContain('field "due" of model "tasks"');
  });
});

describe('pickSchemaExport', () => {
  const schema = defineSchema({ a: model({ x: z.string() }) });
  const path = '/p/ablo.schema.ts';

  it('prefers the named export over the default', ({ expect }) => {
    const other = defineSchema({ b: model({ x: z.string() }) });
    expect(pickSchemaExport({ schema, default: other }, path, '/p').exportName).toBe('schema');
    expect(pickSchemaExport({ default: other }, path, '/p').exportName).toBe('default');
  });

  it('lists the exports when there is no schema', ({ expect }) => {
    expect(() => pickSchemaExport({ a: 1, b: 2 }, path, '/p')).toThrow(/has no "schema" export and no default export \(it exports: a, b\)/);
    expect(() => pickSchemaExport({}, path, '/p')).toThrow(/it exports nothing/);
  });

  it('says to wrap a models map with defineSchema', ({ expect }) => {
    try {
      pickSchemaExport({ schema: { a: model({ x: z.string() }) } }, path, '/p');
      expect.unreachable();
    } catch (err) {
      expect((err as CliError).code).toBe('schema_not_a_schema');
      expect((err as CliError).fix).toMatch(/Wrap the models with defineSchema/);
    }
    expect(() => pickSchemaExport({ default: 'nope' }, path, '/p')).toThrow(/the default export is not an Ablo schema \(it is a string\)/);
  });

  it('recognises schemas by shape, not class', ({ expect }) => {
    expect(isSchemaObject({ kind: 'ablo.schema', serialized: { models: {}, hash: 'x', formatVersion: 1 } })).toBe(true);
    expect(isSchemaObject({ kind: 'ablo.schema' })).toBe(false);
    expect(isSchemaObject(schema)).toBe(true);
  });
});

describe('classifyLoadError', () => {
  it('maps an AbloSchemaError without a field', ({ expect }) => {
    const err = classifyLoadError(new AbloSchemaError('Model "x": bad.', { model: 'x' }), '/p/s.ts', '/p');
    expect(err.message).toBe('s.ts: Model "x": bad.');
    expect(err.details).toMatchObject({ model: 'x', file: '/p/s.ts' });
  });

  it('recognises an AbloSchemaError from another copy of the library by shape', ({ expect }) => {
    const foreign = Object.assign(new Error('Model "t", field "f": z.any() is not supported.'), {
      name: 'AbloSchemaError',
      type: 'schema_error',
      code: 'unsupported_type',
      model: 't',
      field: 'f',
    });
    const err = classifyLoadError(foreign, '/p/s.ts', '/p');
    expect(err.code).toBe('unsupported_type');
    expect(err.details).toMatchObject({ model: 't', field: 'f' });
  });

  it('reports where a runtime error was thrown, skipping node internals', ({ expect }) => {
    const e = new TypeError('boom');
    e.stack = 'TypeError: boom\n    at x (node:internal/modules/esm/resolve:1:2)\n    at /p/node_modules/dep/index.js:3:4\n    at /p/s.ts:7:9';
    const err = classifyLoadError(e, '/p/s.ts', '/p');
    expect(err.message).toBe('s.ts threw while loading at s.ts:7:9: TypeError: boom');
  });
});
