#!/usr/bin/env node
/**
 * Benchmark dispatcher: `npm run bench -- <name> [args...]` runs `bench/<name>.js`;
 * with no name, runs every bench in this directory in turn.
 *
 * A bench module exports `default async function (args: string[]): Promise<number | void>`
 * (the exit code) and an optional `description`. It prints one JSON line per
 * measurement on stdout: `{"bench": "<name>", "case": "...", ...numbers}`.
 * Files starting with `_` are helpers, not benches.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function knownBenches() {
  return readdirSync(here)
    .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
    .map((f) => basename(f, '.js'))
    .sort();
}

async function runOne(name, args) {
  const mod = await import(pathToFileURL(join(here, `${name}.js`)).href);
  if (typeof mod.default !== 'function') {
    process.stderr.write(`bench/${name}.js has no default export function\n`);
    return 1;
  }
  const code = await mod.default(args);
  return typeof code === 'number' ? code : 0;
}

async function main(argv) {
  const [name, ...args] = argv;
  const known = knownBenches();
  if (name === '--help' || name === '-h') {
    process.stdout.write(`usage: npm run bench -- [name] [args...]\nbenches: ${known.join(', ')}\n`);
    return 0;
  }
  if (name) {
    if (!known.includes(name)) {
      process.stderr.write(`error: unknown bench "${name}"\nfix: use one of: ${known.join(', ')}\n`);
      return 2;
    }
    return runOne(name, args);
  }
  let worst = 0;
  for (const b of known) worst = Math.max(worst, await runOne(b, []));
  return worst;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`bench failed: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
