/**
 * The TypeScript examples of README.md and docs/*.md are true: in a fresh
 * `ablo init --template agents` project (node_modules/ablo linked to this
 * repository's build, as npm would install it), every `ts`/`tsx` block
 * type-checks as a module with the tsconfig.json init writes (plus `jsx` for
 * the React block), in ONE `tsc` run; and every block marked `runnable` runs,
 * one after another, against ONE `ablo dev` engine in that project, through
 * the loader the templates use (`node --env-file=.env.local --import
 * jiti/register file.ts`), exits 0 with nothing on stderr, and prints what
 * its `text output` block says. The canonical schema the pages use is the
 * agents template's. Block conventions: test/docs/blocks.ts.
 *
 * Nothing is skipped silently: a block is runnable (marked in the markdown),
 * or listed below as type-check only (with the reason), or marked `fragment`
 * and listed below.
 */
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createTempProject, repoRoot, runNode, startCli, type Background, type TempProject } from '../helpers/tempProject.js';
import { docPages, extractBlocks, outputMatches, type DocBlock } from './blocks.js';

/** Blocks marked `fragment`: not modules on their own. */
const FRAGMENTS: Record<string, string> = {};

/** Blocks that type-check but are not run, and why. */
const TYPECHECK_ONLY: Record<string, string> = {};

/**
 * Type errors in blocks of pages this test cannot change (other owners).
 * Their diagnostics are printed, not failed on; the list says what to fix.
 */
const KNOWN_TYPE_ERRORS: Record<string, string> = {};

/** The pages whose examples use the app's schema: it must be the agents template's. */
const CANONICAL_PAGES = ['README.md', 'docs/sdk.md', 'docs/react.md', 'docs/mcp.md', 'docs/coordination.md', 'docs/testing.md', 'docs/schema.md'];

const TSC = join(repoRoot, 'node_modules/typescript/bin/tsc');
const templateSchema = readFileSync(join(repoRoot, 'templates/agents/ablo.schema.ts'), 'utf8');
const blocks: DocBlock[] = docPages(repoRoot).flatMap((page) => extractBlocks(repoRoot, page));
const checked = blocks.filter((b) => !b.fragment);

let project: TempProject;
let dev: Background | undefined;

/** What `npm install ablo` puts next to ablo (its dependencies, hoisted) that the examples import or type-check against. */
const HOISTED = ['jiti', 'react', '@types/react', '@modelcontextprotocol/sdk'];

beforeAll(async () => {
  project = createTempProject({ prefix: 'ablo-docs-' });
  for (const dep of HOISTED) {
    mkdirSync(dirname(project.path(`node_modules/${dep}`)), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules', dep), project.path(`node_modules/${dep}`), 'dir');
  }
  const init = await project.run(['init', '--template', 'agents', '--yes']);
  expect(init.code, init.stderr).toBe(0);
  const names = new Set<string>(['ablo.schema.ts', 'agent.ts']);
  for (const b of checked) {
    if (names.has(b.file)) throw new Error(`${b.id}: another block or file is already named ${b.file}`);
    names.add(b.file);
    project.write(b.file, b.code);
  }
  // What a Vite app's `vite/client` types declare; the React example reads its key from import.meta.env.
  project.write('vite-env.d.ts', 'interface ImportMetaEnv { readonly [key: string]: string | undefined }\ninterface ImportMeta { readonly env: ImportMetaEnv }\n');
  project.write(
    'tsconfig.docs.json',
    JSON.stringify({ extends: './tsconfig.json', compilerOptions: { jsx: 'react-jsx' }, include: ['*.ts', '*.tsx'] }, null, 2),
  );
}, 60_000);

afterAll(async () => {
  await dev?.stop('SIGTERM');
  project?.cleanup();
});

describe('docs examples', () => {
  test('every block is runnable, listed as type-check only, or a listed fragment', () => {
    expect(blocks.length).toBeGreaterThan(20);
    const ids = blocks.map((b) => b.id);
    expect(new Set(ids).size, 'block ids are unique').toBe(ids.length);
    expect(blocks.filter((b) => b.fragment).map((b) => b.id).sort()).toEqual(Object.keys(FRAGMENTS).sort());
    expect(blocks.filter((b) => !b.fragment && !b.runnable).map((b) => b.id).sort()).toEqual(Object.keys(TYPECHECK_ONLY).sort());
    for (const id of Object.keys(KNOWN_TYPE_ERRORS)) expect(ids, `KNOWN_TYPE_ERRORS names ${id}`).toContain(id);
  });

  test("the pages' schema is the agents template's, and its tasks fan out per board", () => {
    expect(templateSchema).toContain("syncGroupFormat: 'board:{boardId}'");
    const shown = blocks.filter((b) => CANONICAL_PAGES.includes(b.page) && /defineSchema\(/.test(b.code));
    expect(shown.map((b) => b.id)).not.toEqual([]);
    for (const b of shown) expect(b.code.replace(/^\/\/ ablo\.schema\.ts.*\n/, ''), b.id).toBe(templateSchema);
  });

  test('every non-fragment block type-checks in a fresh `ablo init --template agents` project (one tsc run)', async () => {
    const r = await runNode([TSC, '-p', 'tsconfig.docs.json', '--pretty', 'false'], project.dir, { timeoutMs: 180_000 });
    const byFile = new Map(checked.map((b) => [b.file, b]));
    const failures: string[] = [];
    const known: string[] = [];
    for (const line of (r.stdout + r.stderr).split('\n').filter(Boolean)) {
      const m = /^([^(]+)\((\d+),\d+\): (.*)$/.exec(line);
      const block = m ? byFile.get(m[1]!) : undefined;
      const where = block ? `${block.id} (${block.page}:${block.line + Number(m![2])}): ${m![3]}` : line;
      if (block && KNOWN_TYPE_ERRORS[block.id]) known.push(where);
      else failures.push(where);
    }
    if (known.length) console.warn(`known type errors in docs this branch does not own:\n${known.join('\n')}`);
    expect(failures).toEqual([]);
    expect(r.code === 0 || known.length > 0).toBe(true);
  }, 200_000);

  test('every runnable block runs against `ablo dev` and prints what the page says', async () => {
    dev = startCli(['dev', '--port', '0', '--json', '--no-watch'], project.dir);
    await dev.waitFor(/^\{"event":"ready".*\}$/m, 30_000);
    const results: string[] = [];
    for (const b of blocks.filter((x) => x.runnable)) {
      const r = await runNode(['--env-file=.env.local', '--import', 'jiti/register', b.file], project.dir, { timeoutMs: 30_000 });
      const problems: string[] = [];
      if (r.timedOut) problems.push('timed out');
      if (r.code !== 0) problems.push(`exit ${r.code}`);
      if (r.stderr !== '') problems.push(`stderr:\n${r.stderr}`);
      if (b.output !== undefined && !outputMatches(b.output, r.stdout)) problems.push(`printed:\n${r.stdout}\nthe page says:\n${b.output}`);
      if (problems.length) results.push(`${b.id} (${b.page}:${b.line}): ${problems.join('; ')}`);
    }
    expect(results).toEqual([]);
  }, 600_000);
});
