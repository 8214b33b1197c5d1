import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Every bare package a built module reaches through static and dynamic imports. */
function reachablePackages(entry: string, dynamic: boolean): Set<string> {
  return reach(entry, dynamic).packages;
}

/** The built files and the bare packages a built module reaches. */
function reach(entry: string, dynamic: boolean): { files: Set<string>; packages: Set<string> } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const patterns = [/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm];
    if (dynamic) patterns.push(/import\(\s*['"]([^'"]+)['"]\s*\)/g);
    for (const re of patterns) {
      for (const m of source.matchAll(re)) {
        const spec = m[1]!;
        // Bundled code may quote an import in a comment or string (React's docs do): only built files count.
        if (spec.startsWith('.')) {
          if (existsSync(resolve(dirname(file), spec))) visit(resolve(dirname(file), spec));
        }
        else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
  };
  visit(entry);
  return { files: seen, packages };
}

describe('package.json', () => {
  test('is the ablo package with a bin, node >=20.6 (for node --env-file) and every published subpath', () => {
    expect(pkg.name).toBe('ablo');
    expect(pkg.type).toBe('module');
    expect(pkg.bin).toEqual({ ablo: 'bin/ablo.js' });
    expect(pkg.engines.node).toBe('>=20.6');
    for (const sub of ['.', './schema', './react', './source', './engine', './mcp', './testing']) {
      expect(pkg.exports[sub], sub).toMatchObject({ types: expect.stringMatching(/\.d\.ts$/), import: expect.stringMatching(/\.js$/) });
    }
    expect(readFileSync(join(root, 'bin/ablo.js'), 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
  });

  test("react is an optional peer (>=18, the app's one copy), never a dependency: a second copy breaks hooks", () => {
    expect(pkg.dependencies?.react).toBeUndefined();
    expect(pkg.peerDependencies?.react).toBe('>=18');
    // Optional: an app without React (an agent, a server) installs none; the CLI brings its own for its view.
    expect(pkg.peerDependenciesMeta?.react).toEqual({ optional: true });
    expect(pkg.devDependencies?.react).toBeDefined();
  });

  test('ink is bundled into the CLI, so it is a devDependency, not a dependency that would pull in a React', () => {
    expect(pkg.dependencies?.ink).toBeUndefined();
    expect(pkg.devDependencies?.ink).toBeDefined();
    for (const name of ['react-reconciler', 'scheduler', 'yoga-layout', 'react-dom']) expect(pkg.dependencies?.[name], name).toBeUndefined();
  });
});

describe('published entry points', () => {
  for (const [sub, target] of Object.entries(pkg.exports as Record<string, { import?: string; types?: string }>)) {
    if (!target.import) continue;
    test(`${sub} resolves to a built module and its types`, async () => {
      const file = join(root, target.import!);
      expect(existsSync(file), `${file} exists`).toBe(true);
      expect(existsSync(join(root, target.types!)), `${target.types} exists`).toBe(true);
      await import(pathToFileURL(file).href);
    });
  }

  test('ablo and ablo/schema load no engine, SQLite, ink or React', () => {
    const forbidden = ['better-sqlite3', 'pg', 'ink', 'react', '@modelcontextprotocol/sdk', 'commander', 'jiti'];
    for (const sub of ['.', './schema']) {
      const reached = reachablePackages(join(root, pkg.exports[sub].import), true);
      for (const name of forbidden) expect(reached.has(name), `${sub} reaches ${name}`).toBe(false);
      // `ws` is loaded lazily, and only in Node when a socket is opened (browsers have WebSocket).
      expect(reachablePackages(join(root, pkg.exports[sub].import), false).has('ws'), `${sub} imports ws statically`).toBe(false);
    }
    // Nothing of the engine either.
    expect(readFileSync(join(root, pkg.exports['.'].import), 'utf8')).not.toMatch(/createEngine|better-sqlite3/);
    // And the check is real: the CLI does reach commander.
    expect(reachablePackages(join(root, 'dist/cli/main.js'), true).has('commander')).toBe(true);
  });

  test('ablo/source loads no engine, SQLite, Postgres, ink, React, commander or MCP SDK, and ws only when a connector dials', () => {
    const forbidden = ['better-sqlite3', 'pg', 'ink', 'react', '@modelcontextprotocol/sdk', 'commander', 'jiti'];
    const reached = reachablePackages(join(root, pkg.exports['./source'].import), true);
    for (const name of forbidden) expect(reached.has(name), `./source reaches ${name}`).toBe(false);
    // The check is real: the connector does reach ws, lazily.
    expect(reached.has('ws')).toBe(true);
    expect(reachablePackages(join(root, pkg.exports['./source'].import), false).has('ws'), './source imports ws statically').toBe(false);
    expect(readFileSync(join(root, pkg.exports['./source'].import), 'utf8')).not.toMatch(/createEngine/);
  });

  test("the CLI (its ink view included) imports no ink or React: it runs on its own bundled copy, never the app's", () => {
    const cli = reach(join(root, 'dist/cli/main.js'), true);
    for (const name of ['ink', 'react', 'react-dom', 'react-reconciler', 'scheduler', 'yoga-layout']) {
      expect(cli.packages.has(name), `the CLI imports ${name}`).toBe(false);
    }
    // The check is real: the lazily loaded view chunk is reached, and it holds ink's renderer and React.
    const views = [...cli.files].filter((f) => /\/DevView-[^/]+\.js$/.test(f));
    expect(views).toHaveLength(1);
    const view = readFileSync(views[0]!, 'utf8');
    expect(view).toContain('node_modules/ink/build/render.js');
    expect(view).toContain('node_modules/react/cjs/react.');
    expect(view).toContain('node_modules/react-reconciler/');
  });

  test('ablo/react imports the app\'s react and bundles none', () => {
    const reactEntry = reach(join(root, pkg.exports['./react'].import), true);
    expect(reactEntry.packages.has('react')).toBe(true);
    for (const file of reactEntry.files) expect(readFileSync(file, 'utf8'), file).not.toContain('node_modules/react/');
  });

  test('no built module calls a require() shim (bundled CommonJS reaching a Node builtin throws in ES modules)', () => {
    const dist = join(root, 'dist');
    const shimmed = readdirSync(dist, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.js'))
      .filter((f) => /\b__require\(\s*["']/.test(readFileSync(join(dist, f), 'utf8')));
    expect(shimmed).toEqual([]);
  });

  test('ablo/source exports the handler, the adapters, the connector and the signature helpers', async () => {
    const mod = await import(pathToFileURL(join(root, pkg.exports['./source'].import)).href);
    for (const name of [
      'dataSource',
      'SourceError',
      'toNodeHandler',
      'createSourceConnector',
      'signAbloSourceRequest',
      'verifyAbloSourceRequest',
      'generateSigningSecret',
      'ReplayGuard',
      'SourceSignatureError',
      'SOURCE_SUBPROTOCOL',
      'sourceRequestSchema',
    ]) {
      expect(mod[name], name).toBeDefined();
    }
  });

  test('ablo has a default export Ablo, the errors and the protocol schemas', async () => {
    const mod = await import(pathToFileURL(join(root, pkg.exports['.'].import)).href);
    expect(typeof mod.default).toBe('function');
    expect(mod.default).toBe(mod.Ablo);
    for (const name of ['AbloError', 'AbloValidationError', 'AbloStaleContextError', 'AbloClaimedError', 'staleNotificationSchema', 'readDependencySchema', 'writeOptionsSchema']) {
      expect(mod[name], name).toBeDefined();
    }
  });

  test('ablo/schema exports the DSL', async () => {
    const mod = await import(pathToFileURL(join(root, pkg.exports['./schema'].import)).href);
    for (const name of ['defineSchema', 'model', 'z', 'belongsTo', 'hasMany', 'serializeSchema', 'deserializeSchema']) {
      expect(mod[name], name).toBeDefined();
    }
  });
});
