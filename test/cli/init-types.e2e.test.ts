/**
 * What `ablo init` writes type-checks as a user's project would: `tsc` (this
 * repository's TypeScript) on a fresh init, with `ablo` resolved through
 * node_modules to the built package, under the tsconfig.json init writes and
 * under the unmodified output of `tsc --init` (TypeScript 5.9: `"types": []`,
 * `exactOptionalPropertyTypes`, `module: nodenext`, `verbatimModuleSyntax`).
 * An existing CommonJS package is never switched to ESM: init writes `.mts`
 * files instead, and they compile and run.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type ExpectStatic, type TestContext } from 'vitest';
import { cleanEnv, createTempProject, runScript, repoRoot, runNode, startCli, type TempProject } from '../helpers/tempProject.js';

const TSC = join(repoRoot, 'node_modules/typescript/bin/tsc');

function project(ctx: TestContext, files: Record<string, string> = {}): TempProject {
  const p = createTempProject({ files, linkDeps: ['jiti'] });
  ctx.onTestFinished(() => p.cleanup());
  return p;
}

/** `tsc -p tsconfig.json` in the project: no diagnostics, exit 0. */
async function expectCompiles(expect: ExpectStatic, p: TempProject, label: string): Promise<void> {
  const r = await runNode([TSC, '-p', 'tsconfig.json'], p.dir, { timeoutMs: 90_000 });
  expect(r.stdout + r.stderr, label).toBe('');
  expect(r.code, label).toBe(0);
}

/** Replace init's tsconfig.json with what `tsc --init` writes, unmodified. */
async function useTscInit(expect: ExpectStatic, p: TempProject): Promise<void> {
  renameSync(p.path('tsconfig.json'), p.path('tsconfig.ablo.json'));
  const r = await runNode([TSC, '--init'], p.dir, { timeoutMs: 60_000 });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  const text = p.read('tsconfig.json');
  // The settings that broke the templates are really there.
  for (const setting of ['"types": []', '"exactOptionalPropertyTypes": true', '"module": "nodenext"', '"verbatimModuleSyntax": true']) expect(text).toContain(setting);
}

/**
 * A user's own script passing settings from the environment: `process.env.X` is
 * `string | undefined` (declared here as @types/node declares it, which
 * `"types": []` leaves out), accepted by the options under exactOptionalPropertyTypes.
 */
const USER_OPTIONS = (schemaImport: string) => `import Ablo from 'ablo';
import { schema } from '${schemaImport}';

declare const process: { env: Record<string, string | undefined> };
const ablo = Ablo({
  schema,
  apiKey: process.env.ABLO_API_KEY,
  baseURL: process.env.ABLO_URL,
  participant: undefined,
  syncGroups: undefined,
  webSocket: undefined,
  fetch: undefined,
  reconnect: { baseMs: undefined, maxMs: undefined },
});
await ablo.dispose();
`;


describe.concurrent('ablo init: types', () => {
  for (const template of ['basic', 'agents']) {
    it(`${template}: compiles under the tsconfig.json init writes and under an unmodified \`tsc --init\``, async (ctx) => {
      const { expect } = ctx;
      const p = project(ctx);
      const r = await p.run(['init', '--yes', '--template', template]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/created\s+tsconfig\.json/);
      expect(JSON.parse(p.read('package.json'))).toMatchObject({ type: 'module' });
      p.write('options.ts', USER_OPTIONS('./ablo.schema.js'));
      await expectCompiles(expect, p, `${template} with init's tsconfig.json`);

      await useTscInit(expect, p);
      await expectCompiles(expect, p, `${template} with tsc --init's tsconfig.json`);

      // init again keeps the user's tsconfig.json.
      const again = await p.run(['init', '--yes', '--template', template]);
      expect(again.stdout).toMatch(/unchanged\s+tsconfig\.json \(it exists; kept as is\)/);
      expect(p.read('tsconfig.json')).toContain('"exactOptionalPropertyTypes": true');
    }, 120_000);
  }

  it('a CommonJS package stays CommonJS: ablo.schema.mts and agent.mts, which compile and run', async (ctx) => {
    const { expect } = ctx;
    const pkg = { name: 'legacy', version: '1.0.0', scripts: { start: 'node index.js' } };
    const p = project(ctx, { 'package.json': `${JSON.stringify(pkg, null, 2)}\n`, 'index.js': "module.exports = 1;\n" });
    const r = await p.run(['init', '--yes', '--template', 'basic']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/created\s+ablo\.schema\.mts/);
    expect(r.stdout).toMatch(/created\s+agent\.mts/);
    expect(r.stdout).toMatch(/updated\s+package\.json \(added scripts ablo:dev, ablo:push, agent; CommonJS package: "type" left as is; agent\.mts and ablo\.schema\.mts are ES modules by extension\)/);
    expect(p.exists('agent.ts')).toBe(false);
    expect(p.exists('ablo.schema.ts')).toBe(false);
    const written = JSON.parse(p.read('package.json')) as Record<string, unknown>;
    expect(written).not.toHaveProperty('type');
    expect(written.scripts).toEqual({ start: 'node index.js', 'ablo:dev': 'ablo dev', 'ablo:push': 'ablo push', agent: 'node --env-file=.env.local --import jiti/register agent.mts' });
    expect(JSON.parse(p.read('ablo.config.json'))).toMatchObject({ schema: 'ablo.schema.mts' });
    expect(p.read('agent.mts')).toContain("import { schema } from './ablo.schema.mjs';");
    p.write('options.mts', USER_OPTIONS('./ablo.schema.mjs'));
    await expectCompiles(expect, p, "CommonJS package with init's tsconfig.json");

    // It runs: ablo dev loads ablo.schema.mts, the agent script runs agent.mts.
    const dev = startCli(['dev', '--port', '0', '--json', '--no-watch'], p.dir);
    ctx.onTestFinished(() => dev.stop('SIGKILL').then(() => undefined));
    await dev.waitFor(/^\{"event":"ready".*"file":"ablo\.schema\.mts"/m, 20_000);
    const agent = await runScript(p, 'agent');
    expect(agent.stderr).toBe('');
    expect(agent.code).toBe(0);
    expect(agent.stdout).toMatch(/^Project "Launch" \(\w+\) has 2 open tasks:/);
    expect(await dev.stop('SIGTERM')).toEqual({ code: 0, signal: null });

    await useTscInit(expect, p);
    await expectCompiles(expect, p, "CommonJS package with tsc --init's tsconfig.json");

    // "type": "commonjs" is CommonJS too; an existing ablo.schema.ts is kept and imported as it is.
    const explicit = project(ctx, { 'package.json': '{ "name": "cjs", "type": "commonjs" }\n', 'ablo.schema.ts': "export { schema } from './src/schema.js';\n" });
    const e = await explicit.run(['init', '--yes', '--template', 'agents']);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/kept\s+ablo\.schema\.ts/);
    expect(explicit.read('agent.mts')).toContain("import { schema } from './ablo.schema.js';");
    expect(JSON.parse(explicit.read('package.json'))).toMatchObject({ type: 'commonjs', scripts: { agent: 'node --env-file=.env.local --import jiti/register agent.mts' } });
  }, 120_000);
});
