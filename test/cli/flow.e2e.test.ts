/**
 * The whole CLI as a user meets it, in one temp project, with the built bin:
 * init → dev in the background → a script writes rows → edit the schema →
 * push shows and applies the plan → status → export, wipe, import round-trips
 * the data → a revoked key is refused.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, createTempProject, runNode, startCli, stackLines, type Background, type TempProject } from '../helpers/tempProject.js';

const running: Background[] = [];
let project: TempProject | undefined;
afterAll(async () => {
  await Promise.all(running.map((b) => b.stop('SIGKILL')));
  project?.cleanup();
});

interface Ready {
  event: 'ready';
  url: string;
  apiKey: string;
  ms: number;
}

async function startDev(p: TempProject): Promise<{ dev: Background; ready: Ready }> {
  const dev = startCli(['dev', '--port', '0', '--no-watch', '--json'], p.dir);
  running.push(dev);
  const m = await dev.waitFor(/^(\{"event":"ready".*\})$/m, 20_000);
  return { dev, ready: JSON.parse(m[1]!) as Ready };
}

/** Rows without the fields the engine sets (they differ after an import). */
function userFields(jsonl: string): unknown[] {
  return jsonl
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const { createdAt: _c, updatedAt: _u, syncId: _s, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    })
    .sort((a, b) => String((a as { id: string }).id).localeCompare(String((b as { id: string }).id)));
}

/** A user's script: the SDK (`import Ablo from 'ablo'`) writes a project and tasks. */
const SEED_SCRIPT = `import Ablo from 'ablo';
import { schema } from './ablo.schema';

const ablo = Ablo({ schema }); // ABLO_URL and ABLO_API_KEY from .env.local
await ablo.ready();
const project = await ablo.projects.create({ id: 'launch', data: { name: 'Launch' } });
for (let i = 1; i <= 7; i++) await ablo.tasks.create({ data: { title: 'Task ' + i, projectId: project.id, estimate: i } });
await ablo.commits.create({
  operations: [1, 2, 3].map((i) => ({ op: 'create' as const, model: 'tasks' as const, data: { title: 'Batch ' + i, projectId: project.id, status: 'doing' as const } })),
});
console.log('seeded');
await ablo.dispose();
`;

/** Run a package.json script the way npm would (sh -c), without npm itself. */
function runScript(p: TempProject, name: string) {
  const cmd = (JSON.parse(p.read('package.json')) as { scripts: Record<string, string> }).scripts[name]!;
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('sh', ['-c', cmd], { cwd: p.dir, env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('ablo, end to end', () => {
  it('init → dev → rows → schema edit → push → status → export / wipe / import → revoked key', async () => {
    const p = (project = createTempProject({ linkDeps: ['jiti'] }));

    // init, twice: the second run changes nothing.
    let r = await p.run(['init', '--yes', '--template', 'basic']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/created\s+ablo\.schema\.ts/);
    for (const f of ['ablo.schema.ts', 'agent.ts', 'ablo.config.json', '.env.local', 'package.json', '.gitignore']) expect(p.exists(f), f).toBe(true);
    const snapshot = () => Object.fromEntries(['ablo.schema.ts', 'agent.ts', 'ablo.config.json', '.env.local', 'package.json', '.gitignore'].map((f) => [f, p.read(f)]));
    const first = snapshot();
    expect(first['.env.local']).toMatch(/^ABLO_API_KEY=sk_test_[0-9A-Za-z]{32}$/m);
    expect(JSON.parse(first['package.json']!).scripts).toMatchObject({ 'ablo:dev': 'ablo dev', 'ablo:push': 'ablo push', agent: expect.stringContaining('agent.ts') });
    r = await p.run(['init', '--yes', '--template', 'basic']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/created|updated|overwritten/);
    expect(snapshot()).toEqual(first);

    // dev in the background, on a free port.
    let { dev, ready } = await startDev(p);
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const key = /^ABLO_API_KEY=(.*)$/m.exec(first['.env.local']!)![1]!;
    expect(ready.apiKey).toBe(key);
    // .env.local now points at this engine, so every later command (and script) finds it.
    expect(p.read('.env.local')).toContain(`ABLO_URL=${ready.url}`);
    expect(readFileSync(p.path('.ablo/dev.lock'), 'utf8')).toContain(ready.url);

    // Scripts write rows with the SDK: ours, and the template's agent.ts through its package.json script.
    p.write('seed.ts', SEED_SCRIPT);
    r = await runNode(['--env-file=.env.local', '--import', 'jiti/register', 'seed.ts'], p.dir);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('seeded');
    const agent = await runScript(p, 'agent');
    expect(agent.stderr).toBe('');
    expect(agent.code).toBe(0);
    expect(agent.stdout).toMatch(/Project "Launch" \(\w+\) has 2 open tasks:\n {2}\[todo\] Record a demo\n {2}\[todo\] Write the announcement/);

    // Edit the schema (a safe change); push shows and applies the plan.
    const schema = p.read('ablo.schema.ts');
    p.write('ablo.schema.ts', schema.replace("projectId: z.string(),", "projectId: z.string(),\n      priority: z.number().int().optional(),"));
    r = await p.run(['push']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('[safe] Add field tasks.priority');
    expect(r.stdout).toMatch(/Applied: schema version 2/);
    r = await p.run(['diff']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^No differences/);

    // status
    r = await p.run(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const status = JSON.parse(r.stdout) as { url: string; schemaVersion: number; lastSyncId: number; apiKey: { state: string }; local: { matches: boolean } };
    expect(status).toMatchObject({ url: ready.url, schemaVersion: 2, apiKey: { state: 'accepted' }, local: { matches: true } });
    expect(status.lastSyncId).toBe(14);

    // export
    r = await p.run(['data', 'export', '--out', 'backup']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('wrote backup/tasks.jsonl (12 rows)');
    expect(r.stdout).toContain('wrote backup/projects.jsonl (2 rows)');
    const exported = { tasks: p.read('backup/tasks.jsonl'), projects: p.read('backup/projects.jsonl') };

    // wipe: stop dev (clean exit), delete the database, start again.
    const exit = await dev.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(dev.stdout()).toMatch(/"event":"stopped"/);
    expect(p.exists('.ablo/dev.lock')).toBe(false);
    for (const f of readdirSync(p.path('.ablo'))) if (f.startsWith('dev.db')) rmSync(p.path(`.ablo/${f}`));
    ({ dev, ready } = await startDev(p));
    r = await p.run(['status', '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ lastSyncId: 0, schemaVersion: 1 });

    // import round-trips the data.
    r = await p.run(['data', 'import', 'backup']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/imported 14 rows \(2 into projects, 12 into tasks\) in 1 commit/);
    r = await p.run(['data', 'export', '--out', 'again']);
    expect(r.code).toBe(0);
    expect(userFields(p.read('again/tasks.jsonl'))).toEqual(userFields(exported.tasks));
    expect(userFields(p.read('again/projects.jsonl'))).toEqual(userFields(exported.projects));

    // A key is created, works, is revoked, and is then refused.
    r = await p.run(['keys', 'create', '--name', 'temp', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const created = JSON.parse(r.stdout) as { id: string; key: string; prefix: string };
    expect(created.key).toMatch(/^sk_test_/);
    r = await p.run(['keys', 'list', '--api-key', created.key]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${created.id}\\s+temp\\s+${created.prefix}`));
    r = await p.run(['keys', 'revoke', created.id]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`Revoked ${created.id}`);
    r = await p.run(['keys', 'list', '--api-key', created.key]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the engine at http:\/\/127\.0\.0\.1:\d+ refused the API key from --api-key: .*revoked/m);
    expect(r.stderr).toMatch(/^fix: check ABLO_API_KEY \/ \.env\.local/m);
    expect(stackLines(r.stderr)).toEqual([]);
    // The revoked key also fails status (exit 1); the dev key still works.
    expect((await p.run(['status', '--api-key', created.key])).code).toBe(1);
    expect((await p.run(['status'])).code).toBe(0);

    expect(await dev.stop('SIGINT')).toEqual({ code: 0, signal: null });
  }, 120_000);
});
