/**
 * What `ablo init` writes works: the agents template's agent claims tasks so
 * that two agents running at once do every task exactly once; both templates'
 * scripts typecheck against the SDK; init keeps what a project already has.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'vitest';
import { cleanEnv, createTempProject, runScript, repoRoot, runNode, startCli, type TempProject } from '../helpers/tempProject.js';

function project(ctx: TestContext, files: Record<string, string> = {}): TempProject {
  const p = createTempProject({ files, linkDeps: ['jiti'] });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}


describe.concurrent('templates', () => {
  it('agents: two agents at once do every task exactly once (claims)', async (ctx) => {
    const { expect } = ctx;
    const p = project(ctx);
    expect((await p.run(['init', '--template', 'agents', '--yes'])).code).toBe(0);
    const dev = startCli(['dev', '--port', '0', '--json'], p.dir);
    ctx.onTestFinished(() => dev.stop('SIGKILL').then(() => undefined));
    const ready = JSON.parse((await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000))[1]!) as { url: string; apiKey: string };

    // Two agents start on an empty engine at the same moment.
    let [a, b] = await Promise.all([runScript(p, 'agent'), runScript(p, 'agent')]);
    for (const r of [a, b]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const doneLines = (out: string) => out.split('\n').filter((l) => l.startsWith('done: '));
    let done = [...doneLines(a.stdout), ...doneLines(b.stdout)].sort();
    expect(done).toEqual(['done: "Check the changelog"', 'done: "Draft the announcement"', 'done: "Summarize the user feedback"']);
    // ablo dev reported the claims (one JSON line per event off a terminal).
    expect(dev.stdout()).toMatch(/^\{"event":"claim",.*"row":"tasks\/launch-1","holder":"\w+:[^"]+","action":"working on it"/m);
    expect(dev.stdout()).toMatch(/^\{"event":"claim",.*"row":"tasks\/launch-1","holder":null\}$/m);

    // More work arrives; two agents share it, each task once.
    const headers = { authorization: `Bearer ${ready.apiKey}`, 'content-type': 'application/json' };
    const titles = Array.from({ length: 6 }, (_, i) => `Extra ${i + 1}`);
    for (const title of titles) {
      await fetch(`${ready.url}/v1/models/tasks`, { method: 'POST', headers, body: JSON.stringify({ data: { title, boardId: 'launch' } }) });
    }
    [a, b] = await Promise.all([runScript(p, 'agent'), runScript(p, 'agent')]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    done = [...doneLines(a.stdout), ...doneLines(b.stdout)].sort();
    expect(done).toEqual(titles.map((t) => `done: "${t}"`));
    const rows = (await (await fetch(`${ready.url}/v1/models/tasks?limit=100`, { headers })).json()) as { data: Array<{ status: string; result: string | null }> };
    expect(rows.data).toHaveLength(9);
    expect(rows.data.every((t) => t.status === 'done' && t.result?.startsWith('Notes on'))).toBe(true);
  }, 60_000);

  it("both templates' scripts typecheck against the SDK", async (ctx) => {
    const { expect } = ctx;
    const dir = mkdtempSync(join(tmpdir(), 'ablo-templates-tsc-'));
    ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(repoRoot, 'templates'), dir, { recursive: true });
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023', 'DOM', 'ESNext.Disposable'],
          module: 'ESNext',
          moduleResolution: 'Bundler',
          strict: true,
          skipLibCheck: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(repoRoot, 'node_modules/@types')],
          paths: { ablo: [join(repoRoot, 'src/index.ts')], 'ablo/schema': [join(repoRoot, 'src/schema/index.ts')] },
        },
        files: ['basic/agent.ts', 'agents/agent.ts'],
      }),
    );
    const r = await runNode([join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', dir], dir, { timeoutMs: 60_000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  it('init off a terminal keeps what the project has and adds only what is missing', async (ctx) => {
    const { expect } = ctx;
    const pkg = { name: 'mine', version: '1.2.3', scripts: { build: 'tsc', agent: 'node my-agent.js' }, dependencies: { ablo: '^0.1.0' } };
    const p = project(ctx, {
      'package.json': `${JSON.stringify(pkg, null, 4)}\n`,
      '.env.local': 'DATABASE_URL=postgres://x\n',
      '.gitignore': 'node_modules\n.env*.local\n',
      'ablo.schema.ts': '// my schema\n',
    });
    const r = await p.run(['init']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('No terminal to ask on: using the basic template');
    expect(r.stdout).toMatch(/kept\s+ablo\.schema\.ts \(it exists; not overwritten\)/);
    expect(r.stdout).toMatch(/updated\s+\.env\.local \(added ABLO_URL, ABLO_API_KEY\)/);
    // A CommonJS package (no "type": "module") stays one: the agent is an .mts file; the existing schema is used.
    expect(r.stdout).toMatch(/created\s+agent\.mts/);
    expect(r.stdout).toMatch(/updated\s+package\.json \(added scripts ablo:dev, ablo:push; kept your script agent; CommonJS package: "type" left as is; agent\.mts is an ES module by extension\)/);
    expect(r.stdout).toMatch(/updated\s+\.gitignore \(added \.ablo\/, ablo-data\/\)/);
    expect(p.read('ablo.schema.ts')).toBe('// my schema\n');
    expect(p.read('.env.local')).toMatch(/^DATABASE_URL=postgres:\/\/x\nABLO_URL=http:\/\/127\.0\.0\.1:4100\nABLO_API_KEY=sk_test_\w{32}\n$/);
    const written = p.read('package.json');
    expect(written.split('\n')[1]).toBe('    "name": "mine",'); // indentation kept
    expect(JSON.parse(written)).toEqual({ ...pkg, scripts: { build: 'tsc', agent: 'node my-agent.js', 'ablo:dev': 'ablo dev', 'ablo:push': 'ablo push' } });
    expect(p.read('.gitignore')).toBe('node_modules\n.env*.local\n.ablo/\nablo-data/\n');
    // --json lists what happened to each file.
    const again = await p.run(['init', '--yes', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ template: 'basic', files: expect.arrayContaining([{ path: 'agent.mts', action: 'unchanged' }]) });
  });
});
