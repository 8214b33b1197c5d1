/**
 * `ablo push`, `diff`, `pull`, `data import` and `dev`'s push-on-save against
 * a real `ablo dev` (the built bin) in temp projects. Off a terminal, data is
 * never dropped without `--allow-destructive`; a coding agent's `--yes` is not
 * enough.
 */
import { describe, it, type TestContext } from 'vitest';
import { createTempProject, stackLines, startCli, type TempProject } from '../helpers/tempProject.js';

const schemaFile = (fields: string) => `import { defineSchema, model, z } from 'ablo/schema';

export const schema = defineSchema({
  tasks: model({
${fields}
  }),
});
`;
const V1 = schemaFile(`    title: z.string(),
    done: z.boolean().default(false),`);
const DROP_TITLE = schemaFile(`    done: z.boolean().default(false),`);
const RENAMED = schemaFile(`    name: z.string(),
    done: z.boolean().default(false),`);
const SAFE_ADD = schemaFile(`    title: z.string(),
    done: z.boolean().default(false),
    note: z.string().optional(),`);

interface Engine {
  p: TempProject;
  url: string;
  key: string;
  http(method: string, path: string, body?: unknown): Promise<any>;
}

/** A temp project with ablo.schema.ts = V1, `ablo dev` running on a free port, and `rows` tasks. */
async function engine(ctx: TestContext, options: { rows?: number; watch?: boolean } = {}): Promise<Engine & { devOut(): string }> {
  const p = createTempProject({ files: { 'ablo.schema.ts': V1 } });
  const dev = startCli(['dev', '--port', '0', '--json', ...(options.watch ? [] : ['--no-watch'])], p.dir);
  ctx.onTestFinished(async () => {
    await dev.stop('SIGKILL');
    p.cleanup();
  });
  const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000);
  const ready = JSON.parse(m[1]!) as { url: string; apiKey: string };
  const http = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(ready.url + path, {
      method,
      headers: { authorization: `Bearer ${ready.apiKey}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res.json();
  };
  for (let i = 0; i < (options.rows ?? 0); i++) await http('POST', '/v1/models/tasks', { id: `t${i}`, data: { title: `Task ${i}` } });
  return { p, url: ready.url, key: ready.apiKey, http, devOut: () => dev.stdout() };
}

describe.concurrent('ablo push off a terminal', () => {
  it('refuses a destructive change without --allow-destructive, lists it, and keeps the data', async (ctx) => {
    const { expect } = ctx;
    const e = await engine(ctx, { rows: 2 });
    // `ablo dev` wrote the key and URL it made to .env.local: push finds them.
    expect(e.p.read('.env.local')).toContain(`ABLO_API_KEY=${e.key}`);
    e.p.write('ablo.schema.ts', DROP_TITLE);
    let r = await e.p.run(['push']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('[destructive] Drop field tasks.title (string, required; 2 of 2 rows have a value)');
    expect(r.stderr).toBe(
      'error: the plan has 1 destructive change (listed above); nothing was applied\n' +
        'fix: If that is intended, rerun with --allow-destructive; if a field was renamed, pass --rename model.old=model.new to keep its data.\n',
    );
    expect((await e.http('GET', '/v1/models/tasks/t0')).title).toBe('Task 0');

    // --json: the error envelope carries the plan.
    r = await e.p.run(['push', '--json']);
    expect(r.code).toBe(1);
    const err = JSON.parse(r.stdout) as { error: { code: string; plan: { changes: Array<{ kind: string; class: string; field: string }> } } };
    expect(err.error.code).toBe('needs_allow_destructive');
    expect(err.error.plan.changes).toEqual([expect.objectContaining({ kind: 'drop_field', class: 'destructive', field: 'title' })]);

    // --dry-run shows the plan and applies nothing (exit 0).
    r = await e.p.run(['push', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Dry run: nothing was applied.');

    r = await e.p.run(['push', '--allow-destructive']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Applied: schema version 2/);
    expect((await e.http('GET', '/v1/models/tasks/t0')).title).toBeUndefined();
  });

  it('--rename keeps the data of a renamed field', async (ctx) => {
    const { expect } = ctx;
    const e = await engine(ctx, { rows: 3 });
    e.p.write('ablo.schema.ts', RENAMED);
    let r = await e.p.run(['push', '--dry-run']);
    expect(r.stdout).toContain('[needs-data] Add field tasks.name');
    expect(r.stdout).toContain('[destructive] Drop field tasks.title');
    r = await e.p.run(['push', '--rename', 'tasks.title=tasks.name']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('[safe] Rename field tasks.title → tasks.name (string, required; 3 values kept)');
    const list = (await e.http('GET', '/v1/models/tasks')) as { data: Array<{ id: string; name: string; title?: string }> };
    expect(list.data.map((t) => [t.id, t.name, t.title])).toEqual([
      ['t0', 'Task 0', undefined],
      ['t1', 'Task 1', undefined],
      ['t2', 'Task 2', undefined],
    ]);
    // A malformed --rename is bad usage.
    r = await e.p.run(['push', '--rename', 'tasks.title']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: --rename expects old=new/);
  });

  it('with CLAUDECODE=1 (or another agent), --yes alone does not drop data; --allow-destructive does', async (ctx) => {
    const { expect } = ctx;
    const e = await engine(ctx, { rows: 1 });
    e.p.write('ablo.schema.ts', DROP_TITLE);
    for (const env of [{ CLAUDECODE: '1' }, { CURSOR_AGENT: '1' }, { GEMINI_CLI: '1' }, { CODEX_SANDBOX: 'seatbelt' }]) {
      const r = await e.p.run(['push', '--yes'], { env });
      expect(r.code, JSON.stringify(env)).toBe(1);
      expect(r.stderr).toMatch(/^error: .+ detected \((CLAUDECODE|CURSOR_AGENT|GEMINI_CLI|CODEX_SANDBOX)\): the plan has 1 destructive change and --yes does not confirm those; nothing was applied$/m);
      expect(r.stderr).toMatch(/^fix: .*--allow-destructive/m);
      expect(stackLines(r.stderr)).toEqual([]);
    }
    expect((await e.http('GET', '/v1/models/tasks/t0')).title).toBe('Task 0');
    const r = await e.p.run(['push', '--allow-destructive'], { env: { CLAUDECODE: '1' } });
    expect(r.code, r.stderr).toBe(0);
    expect((await e.http('GET', '/v1/models/tasks/t0')).title).toBeUndefined();
  });

  it('without an agent, --yes confirms a destructive plan', async (ctx) => {
    const { expect } = ctx;
    const e = await engine(ctx, { rows: 1 });
    e.p.write('ablo.schema.ts', DROP_TITLE);
    const r = await e.p.run(['push', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Applied: schema version 2/);
  });
});

describe.concurrent('ablo diff, pull, data import, dev on save', () => {
  it('diff exits 1 when the schema differs and 0 when it matches', async (ctx) => {
    const { expect } = ctx;
    const e = await engine(ctx);
    let r = await e.p.run(['diff']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^No differences/);
    e.p.write('ablo.schema.ts', SAFE_ADD);
    r = await e.p.run(['diff']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('[safe] Add field tasks.note (string, optional)');
    r = await e.p.run(['diff', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ differences: true, safe: true });
    // diff never applies.
    expect((await e.p.run(['diff'])).code).toBe(1);
  });

  it("pull writes the engine's schema as JSON and as an ablo.schema.ts with the same hash", async (ctx) => {
    const { expect } = ctx;
    const e = await engine(ctx);
    let r = await e.p.run(['pull', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const pulled = JSON.parse(r.stdout) as { hash: string; schema: { hash: string } };
    r = await e.p.run(['pull', '--out', 'engine.schema.ts']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^wrote engine\.schema\.ts \(schema version 1, hash [0-9a-f]{12}, ts\)/);
    expect(e.p.read('engine.schema.ts')).toContain("from 'ablo/schema'");
    r = await e.p.run(['generate', '--schema', 'engine.schema.ts', '--client', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { schemaHash: string }).schemaHash).toBe(pulled.hash);
    // An existing file is not replaced off a terminal without --yes.
    r = await e.p.run(['pull', '--out', 'engine.schema.ts']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: engine\.schema\.ts exists; it was not replaced$/m);
    r = await e.p.run(['pull', '--out', 'engine.schema.json', '--yes']);
    expect(r.code).toBe(0);
    expect(JSON.parse(e.p.read('engine.schema.json'))).toMatchObject({ hash: pulled.hash });
  });

  it('data import validates every row first: a bad one names file and line, and nothing is written', async (ctx) => {
    const { expect } = ctx;
    const e = await engine(ctx);
    e.p.write('seed/tasks.jsonl', ['{"id":"a","title":"A"}', '', '{"id":"b","title":"B","done":true}', '{"id":"c","done":"yes"}', '{"id":"d","title":"D"}'].join('\n'));
    let r = await e.p.run(['data', 'import', 'seed']);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(/^error: seed\/tasks\.jsonl:4: Invalid tasks\.(title|done): .*; nothing was imported$/);
    expect(r.stderr).toMatch(/^fix: Fix line 4 of seed\/tasks\.jsonl/m);
    expect(((await e.http('GET', '/v1/models/tasks')) as { data: unknown[] }).data).toEqual([]);
    e.p.write('seed/tasks.jsonl', '{"id":"a","title":"A"}\nnot json\n');
    r = await e.p.run(['data', 'import', 'seed/tasks.jsonl']);
    expect(r.stderr).toMatch(/^error: seed\/tasks\.jsonl:2: not valid JSON/);
    e.p.write('seed/tasks.jsonl', '{"id":"a","title":"A"}\n{"id":"b","title":"B","createdAt":"2020-01-01T00:00:00.000Z","syncId":9}\n');
    r = await e.p.run(['data', 'import', 'seed']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported 2 rows \(2 into tasks\) in 1 commit/);
    // The same import again is recognised and not applied twice.
    r = await e.p.run(['data', 'import', 'seed']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('already imported');
    expect(((await e.http('GET', '/v1/models/tasks')) as { data: unknown[] }).data).toHaveLength(2);
    // More than 500 rows go in several commits.
    e.p.write('big/tasks.jsonl', Array.from({ length: 1203 }, (_, i) => JSON.stringify({ title: `row ${i}` })).join('\n'));
    r = await e.p.run(['data', 'import', 'big']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported 1203 rows \(1203 into tasks\) in 3 commits/);
    r = await e.p.run(['data', 'export', '--models', 'tasks', '--out', 'out']);
    expect(r.stdout).toContain('wrote out/tasks.jsonl (1205 rows)');
  });

  it('dev pushes on save: a safe change applies, a destructive one is held off a terminal', async (ctx) => {
    const { expect } = ctx;
    const e = await engine(ctx, { rows: 1, watch: true });
    const events = () =>
      e
        .devOut()
        .split('\n')
        .filter((l) => l.startsWith('{"event":"schema"'))
        .map((l) => JSON.parse(l) as { status: string; version?: number; initial: boolean })
        .filter((ev) => !ev.initial);
    e.p.write('ablo.schema.ts', SAFE_ADD);
    await expect.poll(() => events().map((ev) => ev.status), { timeout: 10_000 }).toEqual(['applied']);
    expect(events()[0]!.version).toBe(2);
    e.p.write('ablo.schema.ts', DROP_TITLE);
    await expect.poll(() => events().map((ev) => ev.status), { timeout: 10_000 }).toEqual(['applied', 'blocked']);
    const r = await e.p.run(['status', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ schemaVersion: 2 });
    expect((await e.http('GET', '/v1/models/tasks/t0')).title).toBe('Task 0');
    // A broken save is reported and the engine keeps serving.
    e.p.write('ablo.schema.ts', 'export const schema = defineSchema({ oops');
    await expect.poll(() => events().map((ev) => ev.status), { timeout: 10_000 }).toEqual(['applied', 'blocked', 'error']);
    expect((await e.http('GET', '/v1/models/tasks/t0')).title).toBe('Task 0');
  });
});
