/**
 * The engine and MCP do not depend on each other's insides: nothing the
 * engine's sources reach (src/engine/**, through static and dynamic imports,
 * type imports included) is under mcp/, and mcp/ reaches the engine only
 * through its public entry (src/engine/index.ts). `/mcp` is mounted from
 * outside (`createEngine({ routes: [mcpRoutes()] })`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.tsx?$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Relative imports of a TypeScript source (static, `import type`, `export … from`, dynamic), resolved to .ts files. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specs = [
    ...source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/gm),
    ...source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
    ...source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
  return specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')).replace(/\.tsx$/, '.ts'));
}

/** Every source file reachable from `entries`, with the chain that reached it. */
function reach(entries: string[]): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string, chain: string[]): void => {
    if (seen.has(file)) return;
    seen.set(file, chain);
    for (const next of importsOf(file)) visit(next, [...chain, relative(root, next)]);
  };
  for (const e of entries) visit(e, [relative(root, e)]);
  return seen;
}

const engineFiles = sources(join(root, 'src/engine'));
const mcpDir = join(root, 'mcp') + '/';
const engineDir = join(root, 'src/engine') + '/';

describe('layers', () => {
  test('the check sees the engine: its sources reach routes, storage and the protocol', () => {
    const reached = [...reach(engineFiles).keys()].map((f) => relative(root, f));
    expect(reached).toContain('src/engine/http.ts');
    expect(reached).toContain('src/engine/storage/sqlite.ts');
    expect(reached).toContain('src/protocol/sync.ts');
  });

  test('nothing the engine imports (directly or through other modules) is under mcp/', () => {
    const intoMcp = [...reach(engineFiles)].filter(([file]) => file.startsWith(mcpDir)).map(([, chain]) => chain.join(' → '));
    expect(intoMcp).toEqual([]);
  });

  test('mcp/ imports the engine only through its public entry (src/engine/index.ts)', () => {
    const offenders: string[] = [];
    for (const file of sources(join(root, 'mcp'))) {
      for (const target of importsOf(file)) {
        if (target.startsWith(engineDir) && target !== join(engineDir, 'index.ts')) offenders.push(`${relative(root, file)} → ${relative(root, target)}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe('one HTTP client of the engine API', () => {
  const users = ['src/client/client.ts', 'cli/api.ts', 'mcp/engineApi.ts'];

  test('the SDK, the CLI and MCP all use src/client/engineApi.ts', () => {
    for (const user of users) expect(importsOf(join(root, user)), user).toContain(join(root, 'src/client/engineApi.ts'));
  });

  test('no other module of the SDK, the CLI, MCP or ablo/testing calls fetch', () => {
    const callers: string[] = [];
    for (const dir of ['src/client', 'src/react', 'src/testing', 'cli', 'mcp']) {
      for (const file of sources(join(root, dir))) {
        const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
        if (/\bfetch\s*\(|globalThis\.fetch/.test(code)) callers.push(relative(root, file));
      }
    }
    expect(callers).toEqual(['src/client/engineApi.ts']);
  });
});

describe('the browser side: ablo, ablo/schema and ablo/react', () => {
  /** Value imports (`import type` and `export type` left out: they vanish in the build) of a source, relative and bare. */
  function valueImportsOf(file: string): { relative: string[]; bare: string[] } {
    const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    const specs = [
      ...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'"]*?from\s*['"]([^'"]+)['"]/gm),
      ...source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
      ...source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!);
    return {
      relative: specs.filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts'))),
      bare: specs.filter((s) => !s.startsWith('.')),
    };
  }

  function browserReach(): Map<string, string[]> {
    const seen = new Map<string, string[]>();
    const visit = (file: string, chain: string[]): void => {
      if (seen.has(file)) return;
      seen.set(file, chain);
      for (const next of valueImportsOf(file).relative) visit(next, [...chain, relative(root, next)]);
    };
    for (const e of ['src/index.ts', 'src/schema/index.ts', 'src/react/index.ts']) visit(join(root, e), [e]);
    return seen;
  }

  const NODE_ONLY = new Set(['ws', 'better-sqlite3', 'pg', 'ink', 'jiti', 'commander', '@modelcontextprotocol/sdk']);

  test('the check sees the SDK: the client, its connection and the React hooks are reached', () => {
    const reached = [...browserReach().keys()].map((f) => relative(root, f));
    expect(reached).toEqual(expect.arrayContaining(['src/client/client.ts', 'src/client/connection.ts', 'src/react/index.ts', 'src/protocol/sync.ts']));
  });

  test('no module they reach imports a Node builtin, a Node-only package, or the engine, the CLI, MCP or ablo/source', () => {
    const offenders: string[] = [];
    for (const [file, chain] of browserReach()) {
      const rel = relative(root, file);
      if (/^(src\/(engine|source|testing)|cli|mcp)\//.test(rel)) offenders.push(chain.join(' → '));
      for (const spec of valueImportsOf(file).bare) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
        if (isBuiltin(spec) || NODE_ONLY.has(pkg)) offenders.push(`${chain.join(' → ')} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
