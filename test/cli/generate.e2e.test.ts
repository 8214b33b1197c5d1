/**
 * `ablo generate` end to end: the built bin spawned in a temp project whose
 * `ablo.schema.ts` imports `ablo/schema` from its own node_modules, as a user's would.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { describe, it, type ExpectStatic, type TestContext } from 'vitest';
import { ablobin, createTempProject, repoRoot, runNode, stackLines, type TempProject } from '../helpers/tempProject.js';

const VALID_SCHEMA = `import { defineSchema, model, z, belongsTo, hasMany } from 'ablo/schema';

export const schema = defineSchema({
  projects: model({ name: z.string().describe('Display name') }, { tasks: hasMany('tasks', 'projectId') }),
  tasks: model(
    {
      title: z.string().min(1),
      status: z.enum(['todo', 'doing', 'done']).default('todo'),
      assigneeId: z.string().nullable().default(null),
      projectId: z.string(),
      estimate: z.number().int().optional(),
    },
    { project: belongsTo('projects', 'projectId') },
    { syncGroupFormat: 'project:{projectId}' },
  ),
});
`;

/** A temp project removed when the test ends (tests here run concurrently). */
function project(ctx: TestContext, files: Record<string, string> = {}, linkAblo = true): TempProject {
  const p = createTempProject({ files, linkAblo });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

function expectNoStack(expect: ExpectStatic, text: string): void {
  expect(stackLines(text)).toEqual([]);
}

describe.concurrent('ablo generate writes files', () => {
  it('writes openapi.json, json-schema/<model>.json and client.ts by default', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': VALID_SCHEMA });
    const r = await p.run(['generate']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'wrote ablo-generated/openapi.json',
      'wrote ablo-generated/json-schema/projects.json',
      'wrote ablo-generated/json-schema/tasks.json',
      'wrote ablo-generated/client.ts',
    ]);

    const openapi = JSON.parse(p.read('ablo-generated/openapi.json')) as { openapi: string; paths: Record<string, unknown> };
    expect(openapi.openapi).toMatch(/^3\.1/);
    const paths = Object.keys(openapi.paths);
    expect(paths.some((k) => k.includes('/tasks'))).toBe(true);
    expect(paths.some((k) => k.includes('/projects'))).toBe(true);

    for (const model of ['projects', 'tasks']) {
      const doc = JSON.parse(p.read(`ablo-generated/json-schema/${model}.json`)) as Record<string, unknown>;
      expect(Object.keys(doc).sort()).toEqual(['create', 'row', 'update']);
    }
    const tasks = JSON.parse(p.read('ablo-generated/json-schema/tasks.json')) as { row: { properties: Record<string, unknown> } };
    expect(Object.keys(tasks.row.properties)).toEqual(expect.arrayContaining(['id', 'title', 'status', 'projectId']));

    const client = p.read('ablo-generated/client.ts');
    expect(client).toMatch(/interface\s+\w*Task\w*/i);
    expect(client).toMatch(/interface\s+\w*Project\w*/i);
    expect(client).toContain('title');
    // No temp files left behind by the atomic writes.
    expect(readdirDeep(p.path('ablo-generated')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('--out writes elsewhere; --openapi / --json-schema / --client write only that kind', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': VALID_SCHEMA });
    let r = await p.run(['generate', '--out', 'gen/api', '--openapi']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('wrote gen/api/openapi.json');
    expect(p.exists('gen/api/client.ts')).toBe(false);
    expect(p.exists('ablo-generated')).toBe(false);

    r = await p.run(['generate', '-o', 'gen/c', '--client']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('wrote gen/c/client.ts');

    r = await p.run(['generate', '--out', 'gen/js', '--json-schema']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['wrote gen/js/json-schema/projects.json', 'wrote gen/js/json-schema/tasks.json']);

    r = await p.run(['generate', '--out', 'gen/two', '--client', '--openapi']);
    expect(r.stdout.trim().split('\n')).toEqual(['wrote gen/two/openapi.json', 'wrote gen/two/client.ts']);
  });

  it('--json prints a summary { files, schemaHash } and nothing else', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': VALID_SCHEMA });
    const r = await p.run(['generate', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { files: string[]; schemaHash: string; out: string; schema: string };
    expect(out.files).toEqual([
      'ablo-generated/openapi.json',
      'ablo-generated/json-schema/projects.json',
      'ablo-generated/json-schema/tasks.json',
      'ablo-generated/client.ts',
    ]);
    expect(out.schemaHash).toMatch(/^[0-9a-f]{64}$/);
    expect(out.schema).toBe('ablo.schema.ts');
    expect(out.out).toBe('ablo-generated');
    // Global flag before the command works too.
    const r2 = await p.run(['--json', 'generate', '--client']);
    expect((JSON.parse(r2.stdout) as { files: string[] }).files).toEqual(['ablo-generated/client.ts']);
  });

  it('reads schema path and out dir from ablo.config.json; flags win over it', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'schema/app.schema.ts': VALID_SCHEMA,
      'ablo.config.json': JSON.stringify({ schema: 'schema/app.schema.ts', generate: { out: 'src/generated' } }),
    });
    let r = await p.run(['generate', '--client']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('wrote src/generated/client.ts');
    r = await p.run(['generate', '--client', '--out', 'elsewhere']);
    expect(r.stdout.trim()).toBe('wrote elsewhere/client.ts');
  });

  it('accepts the schema as the default export and via --schema', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'defs/my-schema.ts': VALID_SCHEMA.replace('export const schema =', 'const schema =') + '\nexport default schema;\n',
    });
    const r = await p.run(['generate', '--schema', 'defs/my-schema.ts', '--client']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(p.read('ablo-generated/client.ts')).toContain('title');
  });

  it('removes JSON Schema files of models that left the schema', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': VALID_SCHEMA });
    expect((await p.run(['generate', '--json-schema'])).code).toBe(0);
    p.write('ablo-generated/json-schema/notes.txt', 'mine');
    p.write('ablo.schema.ts', `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ tasks: model({ title: z.string() }) });\n`);
    const r = await p.run(['generate', '--json-schema']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('removed ablo-generated/json-schema/projects.json');
    expect(p.exists('ablo-generated/json-schema/projects.json')).toBe(false);
    expect(p.exists('ablo-generated/json-schema/notes.txt')).toBe(true);
  });
});

describe.concurrent('ablo generate failures: exit 1, cause and fix, no stack trace', () => {
  it('missing schema file', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: schema file not found: ablo\.schema\.ts\n/);
    expect(r.stderr).toMatch(/^fix: .*ablo init.*--schema/m);
    expectNoStack(expect, r.stderr);

    const r2 = await p.run(['generate', '--schema', 'nope/x.ts']);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('nope/x.ts');
  });

  it('a file with no schema export lists what it exports', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': `import { z } from 'ablo/schema';\nexport const tasks = z.string();\nexport const version = 2;\n` });
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: ablo\.schema\.ts has no "schema" export.*it exports: tasks, version/);
    expect(r.stderr).toMatch(/^fix: .*export const schema = defineSchema/m);
    expectNoStack(expect, r.stderr);
  });

  it('an export that is not a schema says to wrap it with defineSchema', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { model, z } from 'ablo/schema';\nexport const schema = { tasks: model({ title: z.string() }) };\n`,
    });
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: ablo\.schema\.ts: the "schema" export is not an Ablo schema/);
    expect(r.stderr).toMatch(/^fix: .*defineSchema/m);
    expectNoStack(expect, r.stderr);
  });

  it('a syntax error names file, line and column', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\n\nexport const schema = defineSchema({\n  tasks: model({ title: z.string( }),\n});\n`,
    });
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: syntax error in ablo\.schema\.ts:4:\d+/);
    expect(r.stderr).toMatch(/^fix: /m);
    expectNoStack(expect, r.stderr);
  });

  it('an unsupported Zod type (z.date()) names file, model and field', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({\n  events: model({ title: z.string(), happenedAt: z.date() }),\n});\n`,
    });
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    const first = r.stderr.split('\n')[0]!;
    expect(first).toMatch(/^error: ablo\.schema\.ts: /);
    expect(first).toContain('"events"');
    expect(first).toContain('"happenedAt"');
    expect(first).toContain('z.date()');
    expect(r.stderr).toMatch(/^fix: .*field "happenedAt" of model "events"/m);
    expectNoStack(expect, r.stderr);
    expect(p.exists('ablo-generated')).toBe(false);
  });

  it('an unsupported .refine() names file, model and field', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({\n  tasks: model({ title: z.string().refine((s) => s.length > 2) }),\n});\n`,
    });
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: ablo\.schema\.ts: .*"tasks".*"title".*refine/);
    expectNoStack(expect, r.stderr);
  });

  it('an error thrown by the module names where it was thrown', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': `const settings: any = undefined;\nexport const schema = settings.models;\n` });
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: ablo\.schema\.ts threw while loading at ablo\.schema\.ts:2:\d+: TypeError: /);
    expectNoStack(expect, r.stderr);
  });

  it('a project without ablo installed says to install it', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': VALID_SCHEMA }, false);
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: ablo\.schema\.ts: cannot load "ablo\/schema"/);
    expect(r.stderr).toMatch(/^fix: Install ablo in this project/m);
  });

  it('a broken ablo.config.json names the file and the position', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': VALID_SCHEMA, 'ablo.config.json': '{\n  "schema": "ablo.schema.ts",\n}\n' });
    const r = await p.run(['generate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: ablo\.config\.json: not valid JSON at line 3, column 1/);
    expectNoStack(expect, r.stderr);
  });

  it('--debug shows the stack trace', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ events: model({ at: z.date() }) });\n`,
    });
    const r = await p.run(['generate', '--debug']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: /);
    expect(stackLines(r.stderr).length).toBeGreaterThan(0);
    expect(r.stderr).toContain('AbloSchemaError');
  });

  it('--json prints the error envelope on stdout', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, {
      'ablo.schema.ts': `import { defineSchema, model, z } from 'ablo/schema';\nexport const schema = defineSchema({ events: model({ at: z.date() }) });\n`,
    });
    const r = await p.run(['generate', '--json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const body = JSON.parse(r.stdout) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'schema_error', code: 'unsupported_type', model: 'events', field: 'at' });
    expect(body.error.message).toContain('ablo.schema.ts');
    expect(typeof body.error.fix).toBe('string');
    expect(body.error.file).toBe(p.path('ablo.schema.ts'));
  });

  it('an unwritable output location exits 1 naming it', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': VALID_SCHEMA, 'blocker': 'a file, not a directory' });
    const r = await p.run(['generate', '--out', 'blocker/out', '--client']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot write blocker\/out\/client\.ts/);
    expect(r.stderr).toMatch(/^fix: .*--out/m);
    expectNoStack(expect, r.stderr);
  });
});

describe.concurrent('bad usage exits 2 with one error line and a pointer to --help', () => {
  const cases: Array<[string, string[], RegExp, string]> = [
    ['unknown option', ['generate', '--frobnicate'], /^error: unknown option '--frobnicate'/, 'ablo generate --help'],
    ['unknown command', ['genrate'], /^error: unknown command 'genrate'.*Did you mean generate\?/, 'ablo --help'],
    ['option missing its value', ['generate', '--out'], /^error: option '-o, --out <dir>' argument missing/, 'ablo generate --help'],
    ['extra argument', ['generate', 'extra'], /^error: too many arguments/, 'ablo generate --help'],
  ];
  for (const [name, args, message, help] of cases) {
    it(name, async (ctx) => {
      const { expect } = ctx;
      const p = project(ctx);
      const r = await p.run(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toBe(`fix: Run "${help}" to see the usage and examples.`);
    });
  }

  it('with --json the usage error is a JSON envelope', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const r = await p.run(['--json', 'generate', '--nope']);
    expect(r.code).toBe(2);
    const body = JSON.parse(r.stdout) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'usage_error', code: 'unknownOption', message: "unknown option '--nope'" });
  });

  it('no command prints help on stderr and exits 2', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const r = await p.run([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('generate');
  });
});

describe.concurrent('ablo --version and --help', () => {
  it('--version prints the package.json version', async (ctx) => {
    const { expect } = ctx;
    const pkg = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { version: string };
    const p = project(ctx);
    const r = await p.run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${pkg.version}\n`);
    expect((await p.run(['-v'])).stdout).toBe(`${pkg.version}\n`);
  });

  it('--help lists generate, the global flags and the exit codes', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const r = await p.run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+generate\s/m);
    expect(r.stdout).toContain('--json');
    expect(r.stdout).toContain('--debug');
    expect(r.stdout).toContain('Exit codes');
    expect((await p.run(['help'])).code).toBe(0);
  });

  it('generate --help shows every flag and examples', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    const r = await p.run(['generate', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--schema', '--out', '--openapi', '--json-schema', '--client', '--json', '--debug']) expect(r.stdout).toContain(flag);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('$ ablo generate');
  });

  it('--version and --help load neither zod, jiti, ink nor react (--version not even commander)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    // A resolve hook that records every module URL the CLI loads.
    p.write(
      'trace-hooks.mjs',
      `import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  writeSync(2, 'LOADED ' + r.url + '\\n');
  return r;
}
`,
    );
    p.write(
      'trace.mjs',
      `import { register } from 'node:module';\nimport { pathToFileURL } from 'node:url';\nregister('./trace-hooks.mjs', pathToFileURL('./'));\n`,
    );
    for (const flag of ['--version', '--help']) {
      const r = await runNode(['--import', './trace.mjs', ablobin, flag], p.dir);
      expect(r.code).toBe(0);
      const loaded = r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')).map((l) => l.slice(7));
      expect(loaded.some((u) => u.includes('/dist/cli/main.js'))).toBe(true);
      expect(loaded.filter((u) => /[/\\](zod|jiti|ink|react|better-sqlite3)[/\\]/.test(u))).toEqual([]);
      // The bare --version path does not even load commander.
      if (flag === '--version') expect(loaded.filter((u) => u.includes('/commander/'))).toEqual([]);
    }
  });
});

function readdirDeep(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const full = `${dir}/${e}`;
    if (statSync(full).isDirectory()) out.push(...readdirDeep(full));
    else out.push(full);
  }
  return out;
}
