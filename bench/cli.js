/**
 * CLI startup: wall time of `node bin/ablo.js --version` and `--help` against
 * `node -e 0` (bare Node startup) measured in the same run, interleaved so
 * machine noise hits every case alike.
 *
 *   npm run bench -- cli [--runs N] [--warmup N]
 *
 * Prints one JSON line per case:
 *   {"bench":"cli","case":"--version","runs":15,"median_ms":..,"p50_ms":..,"p99_ms":..,
 *    "min_ms":..,"baseline_median_ms":..,"ratio":..,"overhead_ms":..}
 * `ratio` = case median / baseline median; `overhead_ms` = the difference.
 * Needs the build (`npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const description = 'ablo --version / --help startup vs node -e 0';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin/ablo.js');

function option(args, name, fallback) {
  const i = args.indexOf(name);
  const v = i === -1 ? undefined : Number(args[i + 1]);
  return v && Number.isFinite(v) && v > 0 ? Math.floor(v) : fallback;
}

function timeOnce(argv) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ABLO_DEBUG: '' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}: ${String(r.stderr).trim()}`);
  return ms;
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const round = (n) => Math.round(n * 100) / 100;

export default async function run(args = []) {
  if (!existsSync(join(root, 'dist/cli/main.js'))) {
    process.stderr.write('error: dist/cli/main.js is missing; the CLI bench runs the built CLI.\nfix: run "npm run build" first.\n');
    return 1;
  }
  const runs = option(args, '--runs', 15);
  const warmup = option(args, '--warmup', 2);
  const cases = [
    { name: 'baseline', argv: ['-e', '0'] },
    { name: '--version', argv: [bin, '--version'] },
    { name: '--help', argv: [bin, '--help'] },
  ];
  for (let i = 0; i < warmup; i++) for (const c of cases) timeOnce(c.argv);
  const samples = new Map(cases.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) for (const c of cases) samples.get(c.name).push(timeOnce(c.argv));

  const stats = (name) => {
    const s = [...samples.get(name)].sort((a, b) => a - b);
    return { median: quantile(s, 0.5), p99: quantile(s, 0.99), min: s[0] };
  };
  const base = stats('baseline');
  process.stdout.write(
    `${JSON.stringify({ bench: 'cli', case: 'node -e 0', runs, median_ms: round(base.median), p50_ms: round(base.median), p99_ms: round(base.p99), min_ms: round(base.min) })}\n`,
  );
  for (const c of cases.slice(1)) {
    const s = stats(c.name);
    process.stdout.write(
      `${JSON.stringify({
        bench: 'cli',
        case: c.name,
        runs,
        median_ms: round(s.median),
        p50_ms: round(s.median),
        p99_ms: round(s.p99),
        min_ms: round(s.min),
        baseline_median_ms: round(base.median),
        ratio: round(s.median / base.median),
        overhead_ms: round(s.median - base.median),
      })}\n`,
    );
  }
  return 0;
}
