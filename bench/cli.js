/**
 * CLI startup: wall time of `node bin/ablo.js --version`, `--help`, and
 * `ablo dev` time-to-ready (spawn → its ready line) against `node -e 0` (bare
 * Node startup), all measured in the same run, interleaved so machine noise
 * hits every case alike.
 *
 *   npm run bench -- cli [--runs N] [--warmup N]
 *
 * `ablo dev` runs in a temp project (node_modules/ablo → this repo, the basic
 * template's schema) on a free port, warm: the database already holds the
 * schema after the warmup runs, as on a developer's machine after the first
 * start. Each run is stopped with SIGTERM once ready. Its case also reports
 * `engine_ready_ms`: the time the command itself reports (startup inside the
 * process, without Node's own start).
 *
 * Prints one JSON line per case:
 *   {"bench":"cli","case":"--version","runs":15,"median_ms":..,"p50_ms":..,"p99_ms":..,
 *    "min_ms":..,"baseline_median_ms":..,"ratio":..,"overhead_ms":..}
 * `ratio` = case median / baseline median; `overhead_ms` = the difference.
 * Needs the build (`npm run build`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const description = 'ablo --version / --help / dev time-to-ready vs node -e 0';

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

/** A temp project for `ablo dev`. */
function devProject() {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-bench-cli-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules/ablo'), 'dir');
  copyFileSync(join(root, 'templates/basic/ablo.schema.ts'), join(dir, 'ablo.schema.ts'));
  return dir;
}

/** Spawn `ablo dev`, resolve with { ms, engineMs } at its ready line, then stop it and wait for the exit. */
function timeDev(dir) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [bin, 'dev', '--port', '0', '--json'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ABLO_DEBUG: '', ABLO_URL: '', ABLO_API_KEY: '' },
    });
    let out = '';
    let err = '';
    let result;
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      if (result) return;
      const m = /^(\{"event":"ready".*\})$/m.exec(out);
      if (!m) return;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      result = { ms, engineMs: JSON.parse(m[1]).ms };
      child.kill('SIGTERM');
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    child.on('close', (code) => {
      if (result && code === 0) resolve(result);
      else reject(new Error(`ablo dev ${result ? `exited ${code} after ready` : `exited ${code} before ready`}: ${err.trim() || out.trim()}`));
    });
  });
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
  const dir = devProject();
  const engineMs = [];
  const samples = new Map([...cases.map((c) => [c.name, []]), ['dev', []]]);
  try {
    for (let i = 0; i < warmup; i++) {
      for (const c of cases) timeOnce(c.argv);
      await timeDev(dir);
    }
    for (let i = 0; i < runs; i++) {
      for (const c of cases) samples.get(c.name).push(timeOnce(c.argv));
      const d = await timeDev(dir);
      samples.get('dev').push(d.ms);
      engineMs.push(d.engineMs);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  cases.push({ name: 'dev', label: 'dev (time to ready)' });

  const stats = (name) => {
    const s = [...samples.get(name)].sort((a, b) => a - b);
    return { median: quantile(s, 0.5), p99: quantile(s, 0.99), min: s[0] };
  };
  const base = stats('baseline');
  process.stdout.write(
    `${JSON.stringify({ bench: 'cli', case: 'node -e 0', runs, median_ms: round(base.median), p50_ms: round(base.median), p99_ms: round(base.p99), min_ms: round(base.min) })}\n`,
  );
  const engineSorted = [...engineMs].sort((x, y) => x - y);
  for (const c of cases.slice(1)) {
    const s = stats(c.name);
    process.stdout.write(
      `${JSON.stringify({
        bench: 'cli',
        case: c.label ?? c.name,
        runs,
        median_ms: round(s.median),
        p50_ms: round(s.median),
        p99_ms: round(s.p99),
        min_ms: round(s.min),
        baseline_median_ms: round(base.median),
        ratio: round(s.median / base.median),
        overhead_ms: round(s.median - base.median),
        ...(c.name === 'dev' ? { engine_ready_ms: round(quantile(engineSorted, 0.5)), engine_ready_p99_ms: round(quantile(engineSorted, 0.99)) } : {}),
      })}\n`,
    );
  }
  return 0;
}
