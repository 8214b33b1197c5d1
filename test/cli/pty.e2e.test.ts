/**
 * Interactive paths through a real pseudo-terminal (util-linux `script`): the
 * built bin sees a TTY exactly as in a person's terminal, reads the answers we
 * type, and draws the ink live view.
 */
import { describe, it, type TestContext } from 'vitest';
import { createTempProject, startCli, startCliInPty, type Background, type TempProject } from '../helpers/tempProject.js';

const schemaFile = (fields: string) => `import { defineSchema, model, z } from 'ablo/schema';

export const schema = defineSchema({
  tasks: model({
${fields}
  }),
});
`;
const V1 = schemaFile(`    title: z.string(),
    done: z.boolean().default(false),`);
const RENAMED = schemaFile(`    name: z.string(),
    done: z.boolean().default(false),`);
const DROP_TITLE = schemaFile(`    done: z.boolean().default(false),`);

function project(ctx: TestContext, files: Record<string, string> = {}): TempProject {
  const p = createTempProject({ files });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

function track(ctx: TestContext, b: Background): Background {
  ctx.onTestFinished(() => b.stop('SIGKILL').then(() => undefined));
  return b;
}

/** `ablo dev --no-watch` off a terminal, with `rows` tasks. */
async function engine(ctx: TestContext, p: TempProject, rows: number): Promise<{ url: string; key: string }> {
  const dev = track(ctx, startCli(['dev', '--port', '0', '--json', '--no-watch'], p.dir));
  const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000);
  const ready = JSON.parse(m[1]!) as { url: string; apiKey: string };
  for (let i = 0; i < rows; i++) {
    await fetch(`${ready.url}/v1/models/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ready.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: `t${i}`, data: { title: `Task ${i}` } }),
    });
  }
  return { url: ready.url, key: ready.apiKey };
}

async function row(e: { url: string; key: string }, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${e.url}/v1/models/tasks/${id}`, { headers: { authorization: `Bearer ${e.key}` } });
  return (await res.json()) as Record<string, unknown>;
}

describe.concurrent('on a terminal', () => {
  it('init asks for the template, then asks before replacing a changed file', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    let s = track(ctx, startCliInPty(['init'], p.dir));
    await s.waitFor(/Which template\?\n\s+1\) basic .*\n\s+2\) agents .*\nChoose 1-2 \[1\]: /);
    s.write('2\r');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(s.stdout()).toMatch(/ablo init \(agents template\)/);
    expect(p.read('ablo.schema.ts')).toContain('boards: model(');
    expect(p.read('agent.ts')).toContain('await using claim = await ablo.tasks.claim({ id: task.id, action:');

    // A changed agent.ts: asked, "no" keeps it. --template skips the template question.
    p.write('agent.ts', '// mine\n');
    s = track(ctx, startCliInPty(['init', '--template', 'agents'], p.dir));
    await s.waitFor(/agent\.ts exists and differs from the template\. Overwrite it\? \[y\/N\] /);
    s.write('n\r');
    expect((await s.exited).code).toBe(0);
    expect(s.stdout()).not.toContain('Which template?');
    expect(s.stdout()).toMatch(/kept\s+agent\.ts \(it exists; not overwritten\)/);
    expect(p.read('agent.ts')).toBe('// mine\n');

    // "yes" replaces it.
    s = track(ctx, startCliInPty(['init', '--template', 'agents'], p.dir));
    await s.waitFor(/Overwrite it\? \[y\/N\] /);
    s.write('y\r');
    expect((await s.exited).code).toBe(0);
    expect(s.stdout()).toMatch(/overwritten\s+agent\.ts/);
    expect(p.read('agent.ts')).toContain('ablo.tasks.claim');
  });

  it('push offers a rename for a dropped + added field of the same type, and the data survives', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': V1 });
    const e = await engine(ctx, p, 2);
    p.write('ablo.schema.ts', RENAMED);
    const s = track(ctx, startCliInPty(['push'], p.dir));
    await s.waitFor(/Did you rename tasks\.title to tasks\.name\? \(yes keeps its data; no drops it\) \[y\/N\] /);
    s.write('y\r');
    expect((await s.exited).code).toBe(0);
    expect(s.stdout()).toContain('[safe] Rename field tasks.title → tasks.name (string, required; 2 values kept)');
    expect(s.stdout()).toMatch(/Applied: schema version 2/);
    expect(await row(e, 't1')).toMatchObject({ name: 'Task 1' });
  });

  it('push asks before a destructive change (coloured plan); "n" applies nothing, "y" applies', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': V1 });
    const e = await engine(ctx, p, 1);
    p.write('ablo.schema.ts', DROP_TITLE);
    const colour = { NO_COLOR: undefined, FORCE_COLOR: undefined };
    let s = track(ctx, startCliInPty(['push'], p.dir, { env: colour }));
    await s.waitFor(/Apply 1 destructive change\? Stored data may be lost or need fixing\. \[y\/N\] /);
    // The destructive line is red on a terminal.
    expect(s.rawStdout()).toContain('\u001b[31m[destructive] Drop field tasks.title');
    s.write('n\r');
    expect((await s.exited).code).toBe(1);
    expect(s.stdout()).toMatch(/error: not confirmed; nothing was applied/);
    expect(await row(e, 't0')).toMatchObject({ title: 'Task 0' });

    s = track(ctx, startCliInPty(['push'], p.dir));
    await s.waitFor(/\[y\/N\] $/);
    expect(s.rawStdout()).not.toContain('\u001b[31m'); // NO_COLOR=1 (the default here)
    s.write('y\r');
    expect((await s.exited).code).toBe(0);
    expect(s.stdout()).toMatch(/Applied: schema version 2/);
    expect((await row(e, 't0')).title).toBeUndefined();
  });

  it('dev draws the live view: URL, key, MCP line, connections and recent commits; q stops it cleanly', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': V1 });
    const s = track(ctx, startCliInPty(['dev', '--port', '0'], p.dir, { cols: 110 }));
    const m = await s.waitFor(/ablo dev ready at (http:\/\/127\.0\.0\.1:\d+)/, 20_000);
    const url = m[1]!;
    await s.waitFor(/npx ablo mcp install claude/);
    await s.waitFor(/connections 0 · commits\/s 0\.0 · last sync id 0 · commits 0/);
    const key = /ABLO_API_KEY=(\S+)/.exec(p.read('.env.local'))![1]!;
    expect(s.stdout()).toContain(key);
    // Two commits show up in the view.
    for (const id of ['a', 'b']) {
      await fetch(`${url}/v1/models/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ id, data: { title: id } }),
      });
    }
    await s.waitFor(/last sync id 2 · commits 2/);
    await s.waitFor(/\d\d:\d\d:\d\d tasks \(1 change\) · sync id 2/);
    // A claim shows with its holder and action while it is held.
    const claim = await fetch(`${url}/v1/models/tasks/a/claim`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'ablo-participant': 'agent:bot' },
      body: JSON.stringify({ action: 'summarizing' }),
    });
    expect(claim.status).toBe(200);
    await s.waitFor(/claims \(1 held\)\n.*tasks\/a agent:bot "summarizing"/);
    // A saved schema change shows as applied.
    p.write('ablo.schema.ts', schemaFile(`    title: z.string(),
    done: z.boolean().default(false),
    note: z.string().optional(),`));
    await s.waitFor(/schema version 2 applied \(1 change: 1 safe\)/, 10_000);
    s.write('q');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(p.exists('.ablo/dev.lock')).toBe(false);
  });

  it('dev under CI on a terminal prints plain lines (no live view, no prompts)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': V1 });
    const s = track(ctx, startCliInPty(['dev', '--port', '0'], p.dir, { cols: 110, env: { CI: 'true' } }));
    const url = (await s.waitFor(/ready in \d+ ms at (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
    expect(s.stdout()).not.toMatch(/connections 0 · commits\/s/);
    const key = /ABLO_API_KEY=(\S+)/.exec(p.read('.env.local'))![1]!;
    await fetch(`${url}/v1/models/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'x', data: { title: 'keep me' } }),
    });
    // A destructive save is not asked about: it is left unapplied, with the way out.
    p.write('ablo.schema.ts', DROP_TITLE);
    await s.waitFor(/NOT applied[\s\S]*allow-destructive/, 10_000);
    expect(s.stdout()).not.toMatch(/\[y\/N\]/);
    s.write('\u0003');
    expect((await s.exited).code).toBe(0);
  });

  it('dev on a terminal: Ctrl-C stops it, and a destructive save is asked about in the view', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx, { 'ablo.schema.ts': V1 });
    const s = track(ctx, startCliInPty(['dev', '--port', '0'], p.dir, { cols: 110 }));
    const url = (await s.waitFor(/ablo dev ready at (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
    const key = /ABLO_API_KEY=(\S+)/.exec(p.read('.env.local'))![1]!;
    await fetch(`${url}/v1/models/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'x', data: { title: 'keep me' } }),
    });
    p.write('ablo.schema.ts', DROP_TITLE);
    await s.waitFor(/Apply 1 destructive change\? Stored data may be lost\. \[y\/N\]/, 10_000);
    s.write('n');
    await s.waitFor(/schema NOT applied \(1 destructive change\); serving version 1/);
    const res = await fetch(`${url}/v1/models/tasks/x`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await res.json()) as { title: string }).title).toBe('keep me');
    s.write('\u0003');
    expect(await s.exited).toEqual({ code: 0, signal: null });
  });
});
