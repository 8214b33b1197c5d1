/**
 * Temp projects for end-to-end tests: a fresh directory whose
 * `node_modules/ablo` is a symlink to this repository, so a user's
 * `import { defineSchema } from 'ablo/schema'` resolves to the built package,
 * and a runner that spawns the built CLI (`bin/ablo.js`) there as a user would.
 *
 * Each project is its own directory under the OS temp dir: safe to use from
 * tests running in parallel. Call `cleanup()` (or use `await using`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is test/helpers/tempProject.ts). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const ablobin = join(repoRoot, 'bin/ablo.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time in ms. */
  ms: number;
  timedOut: boolean;
}

export interface RunOptions {
  /** Extra environment (merged over process.env). */
  env?: Record<string, string | undefined>;
  /** Kill after this many ms (default 20 s). */
  timeoutMs?: number;
  /** Text written to stdin (stdin is closed after). */
  input?: string;
  /** Working directory, relative to the project (default: the project root). */
  cwd?: string;
}

export interface TempProject {
  dir: string;
  /** Absolute path of a file in the project. */
  path(rel: string): string;
  write(rel: string, content: string): string;
  read(rel: string): string;
  exists(rel: string): boolean;
  /** Run `node bin/ablo.js ...args` in the project. */
  run(args: string[], options?: RunOptions): Promise<RunResult>;
  cleanup(): void;
  [Symbol.dispose](): void;
}

export interface TempProjectOptions {
  /** Files to create: relative path → content. */
  files?: Record<string, string>;
  /** Symlink node_modules/ablo to the repo (default true). */
  linkAblo?: boolean;
  /** Prefix of the temp directory name. */
  prefix?: string;
}

/** Spawn `node <args>` with a timeout and capture everything. */
export function runNode(args: string[], cwd: string, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd ? join(cwd, options.cwd) : cwd,
      env: {
        ...process.env,
        // A parent's debug or color settings must not leak into the child.
        ABLO_DEBUG: undefined,
        FORCE_COLOR: '0',
        NO_COLOR: '1',
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr, ms: performance.now() - started, timedOut });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Run the built CLI with `args` in `cwd`. */
export function runCli(args: string[], cwd: string, options: RunOptions = {}): Promise<RunResult> {
  return runNode([ablobin, ...args], cwd, options);
}

export function createTempProject(options: TempProjectOptions = {}): TempProject {
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'ablo-test-'));
  if (options.linkAblo !== false) {
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    symlinkSync(repoRoot, join(dir, 'node_modules/ablo'), 'dir');
  }
  const project: TempProject = {
    dir,
    path: (rel) => join(dir, rel),
    write(rel, content) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
      return p;
    },
    read: (rel) => readFileSync(join(dir, rel), 'utf8'),
    exists: (rel) => existsSync(join(dir, rel)),
    run: (args, runOptions) => runCli(args, dir, runOptions),
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
    [Symbol.dispose]() {
      project.cleanup();
    },
  };
  for (const [rel, content] of Object.entries(options.files ?? {})) project.write(rel, content);
  return project;
}

/** Lines of a stack trace (`    at fn (file:1:2)`). */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((l) => /^\s+at\s/.test(l));
}
