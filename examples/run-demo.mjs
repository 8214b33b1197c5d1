#!/usr/bin/env node
/**
 * The example project, end to end, as a new user runs it:
 *
 *   ablo init --template agents  →  ablo dev  →  two agents at once  →  ablo status / data export
 *
 * Works in a fresh temp directory whose node_modules/ablo points at this
 * repository (run `npm run build` first). Pass --keep to keep the directory.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(repo, 'bin/ablo.js');
const keep = process.argv.includes('--keep');

if (!existsSync(join(repo, 'dist/cli/main.js'))) {
  process.stderr.write('error: dist/ is missing\nfix: run `npm run build` first\n');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'ablo-demo-'));
mkdirSync(join(dir, 'node_modules'));
// What `npm install ablo` gives a project: ablo, and its dependencies hoisted next to it.
symlinkSync(repo, join(dir, 'node_modules/ablo'), 'dir');
symlinkSync(join(repo, 'node_modules/jiti'), join(dir, 'node_modules/jiti'), 'dir');

const env = { ...process.env };
for (const k of Object.keys(env)) if (k.startsWith('ABLO_')) delete env[k];

function step(text) {
  process.stdout.write(`\n\x1b[1m$ ${text}\x1b[0m\n`);
}

function run(args, { prefix = '' } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(args[0], args.slice(1), { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const relay = (d) => {
      out += d;
      for (const line of String(d).split('\n').filter(Boolean)) process.stdout.write(`${prefix}${line}\n`);
    };
    child.stdout.on('data', relay);
    child.stderr.on('data', relay);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

function envLocal() {
  const text = readFileSync(join(dir, '.env.local'), 'utf8');
  return Object.fromEntries(text.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

let dev;
try {
  step('npx ablo init --yes --template agents');
  await run([process.execPath, bin, 'init', '--yes', '--template', 'agents']);

  step('npx ablo dev --port 0 --no-watch   (in the background)');
  dev = spawn(process.execPath, [bin, 'dev', '--port', '0', '--no-watch'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`ablo dev did not get ready:\n${out}`)), 30_000);
    const onData = (d) => {
      out += d;
      for (const line of String(d).split('\n').filter(Boolean)) process.stdout.write(`  [dev] ${line}\n`);
      if (/ready in \d+ ms/.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    dev.stdout.on('data', onData);
    dev.stderr.on('data', onData);
    dev.on('exit', (code) => reject(new Error(`ablo dev exited ${code}:\n${out}`)));
  });
  const { ABLO_URL, ABLO_API_KEY } = envLocal();
  Object.assign(env, { ABLO_URL, ABLO_API_KEY });

  step('npm run agent & npm run agent   (two agents on one board, at the same time)');
  const agent = [process.execPath, '--env-file=.env.local', '--import', 'jiti/register', 'agent.ts'];
  await Promise.all([run(agent, { prefix: '  [agent 1] ' }), run(agent, { prefix: '  [agent 2] ' })]);

  step('npx ablo status');
  await run([process.execPath, bin, 'status']);

  step('npx ablo data export --out export');
  await run([process.execPath, bin, 'data', 'export', '--out', 'export']);
  const tasks = readFileSync(join(dir, 'export/tasks.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  process.stdout.write('\nThe board now:\n');
  for (const t of tasks) process.stdout.write(`  [${t.status}] ${t.title} — ${t.result ?? ''}\n`);
  const done = tasks.filter((t) => t.status === 'done').length;
  if (done !== tasks.length) throw new Error(`expected every task done, got ${done} of ${tasks.length}`);
  process.stdout.write(`\nEvery task was done exactly once by one of the two agents (${done} tasks).\n`);
} catch (err) {
  process.stderr.write(`\ndemo failed: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  if (dev && dev.exitCode === null) {
    dev.kill('SIGINT');
    await new Promise((r) => dev.once('exit', r));
  }
  if (keep) process.stdout.write(`\nProject kept in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}
