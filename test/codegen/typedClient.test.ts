/**
 * The generated typed client is checked the way a user would use it: written
 * into a fresh project next to a usage file, with `ablo` linked in as a
 * package (so `ablo/schema` resolves to the built `dist/`), and compiled by
 * the real `tsc`. Needs `dist/` (built by the vitest global setup).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTypedClient, modelTypeNames } from '../../src/codegen/index.js';
import type { SerializedSchema } from '../../src/schema/index.js';
import { schema as example } from '../fixtures/example.schema.js';
import { schema as kitchen } from './kitchen.schema.js';

const root = new URL('../..', import.meta.url).pathname;
const tscBin = join(root, 'node_modules/typescript/bin/tsc');
const tempDirs: string[] = [];

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  // Another process may be rebuilding dist/ (tsup cleans it first): give it a moment.
  const built = () => existsSync(join(root, 'dist/src/schema/index.d.ts')) && existsSync(join(root, 'dist/src/schema/index.js'));
  for (let waited = 0; !built() && waited < 90_000; waited += 1000) await new Promise((r) => setTimeout(r, 1000));
  if (!built()) throw new Error('dist/ is missing: run `npx tsup` (the vitest global setup normally builds it).');
}, 120_000);

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  },
  include: ['*.ts'],
};

/** A fresh project dir with `node_modules/ablo` linked to this repo. */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-codegen-'));
  tempDirs.push(dir);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'ablo'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'codegen-check', private: true, type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  const exact = { ...TSCONFIG, compilerOptions: { ...TSCONFIG.compilerOptions, exactOptionalPropertyTypes: true } };
  writeFileSync(join(dir, 'tsconfig.exact.json'), JSON.stringify(exact, null, 2));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function tsc(dir: string, config = 'tsconfig.json'): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [tscBin, '--noEmit', '-p', join(dir, config)], { cwd: dir, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** A schema source file with its import pointed at the published package. */
function sourceAsPackageUser(relativePath: string): string {
  const text = readFileSync(join(root, relativePath), 'utf8');
  const out = text.replace(/(['"])\.\.\/\.\.\/src\/schema\/index\.js\1/g, "'ablo/schema'");
  if (out === text) throw new Error(`${relativePath}: expected an import of ../../src/schema/index.js`);
  return out;
}

/** Type-level checks that the generated types equal `InferModel/InferCreate/InferUpdate` of the source. */
function equalityChecks(serialized: SerializedSchema, clientModule: string, sourceModule: string): string {
  const lines = [
    "import type { InferCreate, InferModel, InferUpdate, SchemaLike, SchemaTypes } from 'ablo/schema';",
    `import { schema, serializedSchema, type AbloModels, type ModelName } from './${clientModule}';`,
    `import { schema as source } from './${sourceModule}';`,
    '',
    'type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;',
    'type Assert<T extends true> = T;',
    'type Source = typeof source;',
    '',
    'export type SameModelNames = Assert<Equal<ModelName, keyof SchemaTypes<Source>>>;',
  ];
  const names = modelTypeNames(serialized);
  for (const model of Object.keys(serialized.models)) {
    const key = JSON.stringify(model);
    const T = names[model]!;
    lines.push(
      `export type Row_${model} = Assert<Equal<AbloModels[${key}]['row'], InferModel<Source, ${key}>>>;`,
      `export type Create_${model} = Assert<Equal<AbloModels[${key}]['create'], InferCreate<Source, ${key}>>>;`,
      `export type Update_${model} = Assert<Equal<AbloModels[${key}]['update'], InferUpdate<Source, ${key}>>>;`,
      `export type Named_${model} = Assert<Equal<AbloModels[${key}]['row'], import('./${clientModule}').${T}>>;`,
    );
  }
  lines.push(
    '',
    'export const typed: SchemaLike<AbloModels> = schema;',
    'export const sourceTyped: SchemaLike<AbloModels> = source;',
    'export const hash: string = serializedSchema.hash;',
    '',
  );
  return lines.join('\n');
}

const EXAMPLE_USAGE = `import type { JsonValue } from 'ablo/schema';
import type { ModelName, Project, ProjectCreate, Task, TaskCreate, TaskUpdate } from './example.client.js';

export const row: Task = {
  id: 't1',
  createdAt: '2024-01-01T00:00:00.000Z',
  updatedAt: '2024-01-01T00:00:00.000Z',
  syncId: 1,
  title: 'Ship',
  status: 'todo',
  assigneeId: null,
  projectId: 'p1',
  estimate: null,
};
// A field left out on create reads back as null: every row has every key.
export const estimate: number | null = row.estimate;
export const create: TaskCreate = { title: 'Ship', projectId: 'p1' };
export const createFull: TaskCreate = { title: 'Ship', projectId: 'p1', status: 'doing', assigneeId: 'u1', estimate: 3 };
export const update: TaskUpdate = { status: 'done', estimate: null, assigneeId: null };
export const emptyUpdate: TaskUpdate = {};
export const project: ProjectCreate = { name: 'Apollo' };
export const projectName: Project['name'] = 'Apollo';
export const model: ModelName = 'tasks';
export const json: JsonValue = { ok: true };

// @ts-expect-error: wrong field name
export const wrongName: TaskCreate = { title: 'Ship', projectId: 'p1', titel: 'x' };
// @ts-expect-error: wrong enum value
export const wrongEnum: TaskCreate = { title: 'Ship', projectId: 'p1', status: 'later' };
// @ts-expect-error: projectId is required on create
export const missing: TaskCreate = { title: 'Ship' };
// @ts-expect-error: a required field cannot be cleared with null
export const clearRequired: TaskUpdate = { title: null };
// @ts-expect-error: estimate is a number
export const wrongType: TaskUpdate = { estimate: 'three' };
// @ts-expect-error: not a model
export const notModel: ModelName = 'users';
// @ts-expect-error: a row has every system field
export const noSystemFields: Task = { title: 'Ship', status: 'todo', assigneeId: null, projectId: 'p1' };
`;

const KITCHEN_USAGE = `import type { Category, Status, Thing, ThingCreate, ThingUpdate } from './kitchen.client.js';

export const create: ThingCreate = {
  name: 'Widget',
  code: 'ABCD',
  slug: 's-mid-x',
  email: 'a@b.co',
  site: 'https://example.com',
  count: 5,
  dueAt: null,
  tags: ['x'],
  address: { street: 'Main', 'weird-key': true },
  labels: { a: 'b' },
  meta: { nested: [1, 'two', null, { three: false }] },
  loose: { b: 'x', extra: 1 },
  scores: [1, null],
};
export const update: ThingUpdate = { note: null, greeting: null, address: null, status: 'done' };
export const weird: boolean | undefined = ({} as Thing).address?.['weird-key'];
export const category: Category['parentId'] = null;
export const status: Status['value'] = 'a';

// @ts-expect-error: wrong nested field type
export const badNested: ThingCreate = { ...create, address: { street: 1 } };
// @ts-expect-error: strict nested object has no extra keys
export const badBox: ThingCreate = { ...create, box: { a: 1, b: 2 } };
// @ts-expect-error: wrong enum value
export const badStatus: Status = { id: 's', createdAt: '', updatedAt: '', syncId: 1, value: 'c' };
// @ts-expect-error: tags is required on create
export const noTags: ThingCreate = { ...create, tags: undefined };
`;

describe('generateTypedClient', () => {
  it('writes a header, the model types, the model map and the embedded schema', () => {
    const text = generateTypedClient(example.serialized);
    expect(text).toMatch(/^\/\*\*\n \* Generated by `ablo generate`/);
    expect(text).toContain(`Schema hash: ${example.serialized.hash}`);
    expect(text).toContain("import { deserializeSchema } from \"ablo/schema\";");
    for (const name of ['Task', 'TaskCreate', 'TaskUpdate', 'Project', 'ProjectCreate', 'ProjectUpdate']) {
      expect(text).toContain(`export interface ${name} {`);
    }
    expect(text).toContain('export type AbloModels = {');
    expect(text).toContain('  tasks: { row: Task; create: TaskCreate; update: TaskUpdate };');
    expect(text).toContain('export type ModelName = keyof AbloModels;');
    expect(text).toContain('export const schema = deserializeSchema<AbloModels>(serializedSchema);');
    expect(text).toContain('/** Display name */\n  name: string;');
    const literal = text.slice(text.indexOf('export const serializedSchema = ') + 'export const serializedSchema = '.length, text.indexOf(' as const;'));
    expect(JSON.parse(literal)).toEqual(example.serialized);
  });

  it('quotes keys that are not identifiers, escapes comment ends and honours importFrom', () => {
    const text = generateTypedClient(kitchen.serialized, { importFrom: '../lib/ablo-schema.js' });
    expect(text).toContain('"weird-key"?: boolean | undefined;');
    expect(text).toContain('A note *\\/ with a comment end');
    expect(text).toContain('import { deserializeSchema, type JsonValue } from "../lib/ablo-schema.js";');
  });

  it('is deterministic', () => {
    expect(generateTypedClient(kitchen.serialized)).toBe(generateTypedClient(kitchen.serialized));
    expect(generateTypedClient(example.serialized)).toBe(generateTypedClient(JSON.parse(JSON.stringify(example.serialized))));
  });

  it('compiles with tsc and its types equal the ones inferred from the Zod source', async () => {
    const dir = project({
      'example.client.ts': generateTypedClient(example.serialized),
      'example.source.ts': sourceAsPackageUser('test/fixtures/example.schema.ts'),
      'example.checks.ts': equalityChecks(example.serialized, 'example.client.js', 'example.source.js'),
      'example.usage.ts': EXAMPLE_USAGE,
      'kitchen.client.ts': generateTypedClient(kitchen.serialized),
      'kitchen.source.ts': sourceAsPackageUser('test/codegen/kitchen.schema.ts'),
      'kitchen.checks.ts': equalityChecks(kitchen.serialized, 'kitchen.client.js', 'kitchen.source.js'),
      'kitchen.usage.ts': KITCHEN_USAGE,
    });
    const [plain, exact] = await Promise.all([tsc(dir), tsc(dir, 'tsconfig.exact.json')]);
    expect(plain.output).toBe('');
    expect(plain.code).toBe(0);
    expect(exact.output).toBe('');
    expect(exact.code).toBe(0);
  });

  it('the type check is real: an unexpected error and an unused @ts-expect-error both fail', async () => {
    const dir = project({
      'example.client.ts': generateTypedClient(example.serialized),
      'bad.ts': [
        "import type { TaskCreate } from './example.client.js';",
        "export const wrongEnum: TaskCreate = { title: 'Ship', projectId: 'p1', status: 'later' };",
        '// @ts-expect-error: this line is fine, so the directive is unused',
        "export const fine: TaskCreate = { title: 'Ship', projectId: 'p1' };",
        '',
      ].join('\n'),
    });
    const result = await tsc(dir);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('bad.ts(2,');
    expect(result.output).toContain('"later"');
    expect(result.output).toContain('bad.ts(3,');
    expect(result.output).toContain('TS2578');
  });

  it('the generated module runs: its schema validates like the source', async () => {
    const dir = project({ 'client.ts': generateTypedClient(example.serialized) });
    const mod = (await import(/* @vite-ignore */ pathToFileURL(join(dir, 'client.ts')).href)) as {
      schema: { hash: string; model(name: string): { parseCreate(data: unknown): Record<string, unknown> } };
    };
    expect(mod.schema.hash).toBe(example.serialized.hash);
    expect(mod.schema.model('tasks').parseCreate({ title: 'Ship', projectId: 'p1' })).toEqual({
      title: 'Ship',
      projectId: 'p1',
      status: 'todo',
      assigneeId: null,
    });
    expect(() => mod.schema.model('tasks').parseCreate({ title: '', projectId: 'p1' })).toThrow(/title/);
  });
});
