/**
 * The SDK and `ablo/react` in a browser bundle: Vite builds an app entry that
 * imports `ablo`, `ablo/schema` and `ablo/react` from the built package (as a
 * user's app resolves it, through node_modules), and the test fails when the
 * bundler reached anything that only runs in Node: a `node:` module or other
 * builtin (Vite swaps those for empty stubs that throw), `ws`, SQLite,
 * Postgres, ink, or any code of the engine, the CLI or MCP.
 *
 * What is inspected is the module graph (every specifier the bundler
 * resolved, before tree-shaking) and, for ablo's own built chunks, the source
 * files their source maps name.
 */
import { isBuiltin } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { build as esbuild } from 'esbuild';
import { build, type Plugin, type Rollup } from 'vite';
import { describe, expect, test, type TestContext } from 'vitest';
import { createTempProject, repoRoot } from '../helpers/tempProject.js';
import { assertDistFresh } from '../setup/dist-stamp.mjs';

/** Packages that never belong in a browser bundle. */
const NODE_ONLY_PACKAGES = ['ws', 'better-sqlite3', 'pg', 'pg-native', 'ink', 'react-reconciler', 'yoga-layout', 'jiti', 'commander', '@modelcontextprotocol/sdk'];
/** ablo sources that are server or terminal code. */
const NODE_ONLY_SOURCES = ['src/engine/', 'src/source/', 'src/testing/', 'cli/', 'mcp/'];

interface BundleReport {
  /** Every import the bundler resolved: specifier, importer (repo- or project-relative). */
  imports: Array<{ specifier: string; importer: string }>;
  /** Every module in the graph. */
  modules: string[];
  /** ablo sources inside the bundle (from the built chunks' source maps). */
  abloSources: string[];
  code: string;
}

/** Build `entry` (the content of the app's entry module) for the browser with Vite; nothing is written. */
async function bundle(ctx: TestContext, entry: string): Promise<BundleReport> {
  // The app's own React (as `npm install react` would give it), which ablo/react must share.
  const app = createTempProject({ prefix: 'ablo-browser-', files: { 'src/main.js': entry }, linkDeps: ['react'] });
  ctx.onTestFinished(() => app.cleanup());
  const imports: BundleReport['imports'] = [];
  const modules: string[] = [];
  const name = (id: string) => (id.startsWith(app.dir) ? relative(app.dir, id) : id.startsWith(repoRoot) ? relative(repoRoot, id) : id);
  const observer: Plugin = {
    name: 'observe-module-graph',
    enforce: 'pre',
    resolveId(specifier, importer) {
      if (importer && !specifier.startsWith('\0')) imports.push({ specifier, importer: name(importer) });
      return null; // observe only: Vite resolves as it would for the app
    },
    generateBundle() {
      for (const id of this.getModuleIds()) modules.push(id);
    },
  };
  const result = (await build({
    root: app.dir,
    configFile: false,
    envFile: false,
    logLevel: 'silent',
    plugins: [observer],
    build: { write: false, minify: false, rollupOptions: { input: app.path('src/main.js') } },
  })) as Rollup.RollupOutput | Rollup.RollupOutput[];
  const outputs = (Array.isArray(result) ? result : [result]).flatMap((r) => r.output);
  const code = outputs.map((o) => (o.type === 'chunk' ? o.code : '')).join('\n');
  const abloSources = new Set<string>();
  for (const id of modules) {
    const file = id.split('?')[0]!;
    if (!file.startsWith(`${repoRoot}/dist/`) || !existsSync(`${file}.map`)) continue;
    const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    for (const s of map.sources) abloSources.add(s.replace(/^(\.\.\/)+/, ''));
  }
  return { imports, modules: modules.map(name), abloSources: [...abloSources].sort(), code };
}

/** What in a bundle only runs in Node, as readable lines (empty: none). */
function nodeOnlyReaches(report: BundleReport): string[] {
  const found = new Set<string>();
  for (const { specifier, importer } of report.imports) {
    const bare = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
    if (isBuiltin(specifier)) found.add(`Node builtin ${specifier} (imported by ${importer})`);
    if (NODE_ONLY_PACKAGES.includes(bare)) found.add(`${bare} (imported by ${importer})`);
  }
  for (const id of report.modules) {
    if (id.includes('__vite-browser-external')) found.add(`a Node builtin stubbed by Vite: ${id}`);
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(id)?.[1];
    if (pkg && NODE_ONLY_PACKAGES.includes(pkg)) found.add(`${pkg} module ${id}`);
  }
  for (const source of report.abloSources) {
    if (NODE_ONLY_SOURCES.some((dir) => source.startsWith(dir))) found.add(`ablo source ${source}`);
  }
  return [...found].sort();
}

const APP = `import Ablo from 'ablo';
import { defineSchema, model, z } from 'ablo/schema';
import { AbloProvider, useAblo, useAbloClient, useSyncStatus, useClaim } from 'ablo/react';
import { createElement } from 'react';

const schema = defineSchema({ tasks: model({ title: z.string(), done: z.boolean().default(false) }) });
export const ablo = Ablo({ schema, url: 'https://engine.example', apiKey: 'pk_browser' });

function Titles() {
  const titles = useAblo((a) => a.tasks.getAll().map((t) => t.title));
  const sync = useSyncStatus();
  useAbloClient();
  void useClaim;
  return createElement('ul', { 'data-status': sync.status }, titles.map((t) => createElement('li', { key: t }, t)));
}

export const app = createElement(AbloProvider, { client: ablo }, createElement(Titles));
`;

describe('browser bundle (Vite)', () => {
  test('an app importing ablo, ablo/schema and ablo/react bundles with nothing Node-only reached', { timeout: 60_000 }, async (ctx) => {
    assertDistFresh();
    const report = await bundle(ctx, APP);
    expect(nodeOnlyReaches(report)).toEqual([]);
    // The bundle is the real thing: the SDK client, the React bindings and React itself (the app's copy) are in it.
    expect(report.modules).toEqual(expect.arrayContaining(['dist/src/index.js', 'dist/src/react/index.js', 'dist/src/schema/index.js']));
    expect(report.modules.filter((m) => /node_modules\/react\/index\.js$/.test(m))).toHaveLength(1);
    expect(report.abloSources).toEqual(expect.arrayContaining(['src/client/client.ts', 'src/client/connection.ts', 'src/react/useAblo.ts', 'src/react/provider.ts']));
    expect(report.code).toContain('globalThis.WebSocket');
    // Node's fallback stays in the code, as a specifier bundlers are told not to follow.
    expect(report.code).toMatch(/NODE_WEBSOCKET_PACKAGE = "ws"/);
    expect(report.imports.filter((i) => i.specifier === 'ws')).toEqual([]);
  });

  test('esbuild (platform browser, which refuses Node builtins) bundles the same app without an error or warning', { timeout: 60_000 }, async (ctx) => {
    assertDistFresh();
    const app = createTempProject({ prefix: 'ablo-esbuild-', files: { 'src/main.js': APP }, linkDeps: ['react'] });
    ctx.onTestFinished(() => app.cleanup());
    const result = await esbuild({
      entryPoints: [app.path('src/main.js')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((w) => w.text)).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    const nodeOnly = inputs.filter((i) => NODE_ONLY_PACKAGES.some((p) => i.includes(`node_modules/${p}/`)));
    expect(nodeOnly).toEqual([]);
    expect(inputs.filter((i) => /node_modules\/react\/index\.js$/.test(i))).toHaveLength(1);
    expect(inputs.some((i) => i.endsWith('dist/src/react/index.js'))).toBe(true);
  });

  test('the check is real: an entry reaching the Data Source connector (ws) and the engine is flagged', { timeout: 60_000 }, async (ctx) => {
    const report = await bundle(ctx, `export * as source from 'ablo/source';\nexport * as engine from 'ablo/engine';\n`);
    const reaches = nodeOnlyReaches(report);
    expect(reaches).toEqual(
      expect.arrayContaining([
        'ws (imported by dist/src/source/index.js)',
        expect.stringMatching(/^better-sqlite3 \(imported by dist\/.+\.js\)$/),
        expect.stringMatching(/^Node builtin (node:)?fs \(imported by dist\//),
        expect.stringMatching(/^a Node builtin stubbed by Vite: __vite-browser-external:(node:)?fs$/),
        expect.stringMatching(/^ablo source src\/engine\/storage\/sqlite\.ts$/),
      ]),
    );
  });
});
