/**
 * Hardening (issue 10): load figures for the defects a red-team pass found.
 * Each case is a module in bench/lib/hardening/ (one per item):
 *
 *   npm run bench -- hardening [--only bootstrap,slow-readers,mcp-sessions] [case options...]
 *
 * A case module exports `name` and `default async function run({ emit, progress, args })`;
 * `emit(obj)` prints `{"bench":"hardening","case":name,...obj}` as one JSON line.
 * Needs the build (`npx tsup`).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { onlyCases, withSignalCleanup } from './lib/scope.js';

export const description = 'hardening: bootstrap isolation under 1,000 fresh clients, slow readers memory, MCP session caps';

const here = join(dirname(fileURLToPath(import.meta.url)), 'lib/hardening');

async function loadCases() {
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.js'))
    .sort();
  const cases = [];
  for (const f of files) {
    const mod = await import(pathToFileURL(join(here, f)).href);
    if (typeof mod.default === 'function' && typeof mod.name === 'string') cases.push(mod);
  }
  return cases;
}

export default async function hardening(args) {
  const cases = await loadCases();
  const selected = onlyCases(
    args,
    cases.map((c) => c.name),
  );
  if (!selected) return 2;
  return withSignalCleanup('hardening', async () => {
    for (const c of cases) {
      if (!selected.includes(c.name)) continue;
      const emit = (obj) => process.stdout.write(`${JSON.stringify({ bench: 'hardening', case: c.name, ...obj })}\n`);
      const progress = (text) => process.stderr.write(`[bench hardening ${c.name}] ${text}\n`);
      await c.default({ emit, progress, args });
    }
  });
}
