/**
 * Temp projects for end-to-end tests: a fresh directory whose
 * `node_modules/ablo` is a symlink to this repository, so a user's
 * `import { defineSchema } from 'ablo/schema'` resolves to the built package,
 * and a runner that spawns the built CLI (`bin/ablo.js`) there as a user would.
 *
 * Each project is its own directory under the OS temp dir: safe to use from
 * tests running in parallel. Call `cleanup()` (or use `await using`).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_VARIABLES } from '../../cli/agent.js';
import { assertDistFresh } from '../setup/dist-stamp.mjs';

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
  /** More packages from this repo's node_modules to symlink (as npm would hoist ablo's dependencies), e.g. ['jiti']. */
  linkDeps?: string[];
}

/**
 * The environment a spawned CLI gets: the parent's, minus anything that would
 * change its behaviour (debug, colours, engine settings, CI markers, coding-agent
 * markers such as CLAUDECODE when the suite itself runs under an agent), plus `extra`.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  assertDistFresh(); // whatever runs with this env runs the built package: never a stale dist/
  const env: Record<string, string | undefined> = {
    ...process.env,
    ABLO_DEBUG: undefined,
    ABLO_URL: undefined,
    ABLO_API_KEY: undefined,
    FORCE_COLOR: '0',
    NO_COLOR: '1',
  };
  for (const [variable] of AGENT_VARIABLES) env[variable] = undefined;
  // CI markers make the CLI non-interactive (no prompts, no live view); tests opt in with `extra`.
  for (const k of Object.keys(env)) if (k === 'CI' || k === 'CONTINUOUS_INTEGRATION' || k.startsWith('CI_')) env[k] = undefined;
  Object.assign(env, extra);
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env as NodeJS.ProcessEnv;
}

/** Spawn `node <args>` with a timeout and capture everything. */
export function runNode(args: string[], cwd: string, options: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd ? join(cwd, options.cwd) : cwd,
      env: cleanEnv(options.env),
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

/** A package.json script of the project, run as npm would (`sh -c`) but without npm. */
export function runScript(p: TempProject, name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cmd = (JSON.parse(p.read('package.json')) as { scripts: Record<string, string> }).scripts[name];
  if (cmd === undefined) throw new Error(`package.json of ${p.dir} has no script "${name}"`);
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', cmd], { cwd: p.dir, env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
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
  for (const dep of options.linkDeps ?? []) {
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
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

/** Remove ANSI escape sequences (colours, cursor movement) from terminal output. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007|\u001b[()][A-Z0-9]|\r/g, '');
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A long-running process (e.g. `ablo dev`) whose output can be waited on. */
export interface Background {
  child: ChildProcessWithoutNullStreams;
  /** Everything written so far (ANSI stripped for pty sessions). */
  stdout(): string;
  /** stdout as written, escape sequences included. */
  rawStdout(): string;
  stderr(): string;
  /** Resolves when stdout matches (searching from the start). Rejects on timeout or exit. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  write(text: string): void;
  /** Resolves with the exit status. */
  exited: Promise<ExitInfo>;
  /** Send a signal (default SIGTERM) and wait for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
}

function background(child: ChildProcessWithoutNullStreams, clean: (s: string) => string): Background {
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    poke();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    poke();
  });
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolveExit) => {
    child.on('close', (code, signal) => {
      exitInfo = { code, signal };
      poke();
      resolveExit(exitInfo);
    });
  });
  const stdout = () => clean(out);
  return {
    child,
    stdout,
    rawStdout: () => out,
    stderr: () => clean(err),
    waitFor(re, timeoutMs = 15_000) {
      return new Promise((resolveWait, reject) => {
        const check = () => {
          const m = re.exec(stdout());
          if (m) {
            done();
            resolveWait(m);
          } else if (exitInfo) {
            done();
            reject(new Error(`process exited (${exitInfo.code ?? exitInfo.signal}) before ${re}\nstdout:\n${stdout()}\nstderr:\n${clean(err)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}\nstdout:\n${stdout()}\nstderr:\n${clean(err)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    write(text) {
      if (!child.stdin.destroyed) child.stdin.write(text);
    },
    exited,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (exitInfo) return exitInfo;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const info = await exited;
      clearTimeout(timer);
      return info;
    },
  };
}

/** Start the built CLI in the background (stdin, stdout, stderr are pipes: not a terminal). */
export function startCli(args: string[], cwd: string, options: { env?: Record<string, string | undefined> } = {}): Background {
  const child = spawn(process.execPath, [ablobin, ...args], { cwd, env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
  return background(child, (s) => s);
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Run the built CLI inside a real pseudo-terminal (util-linux `script`), so
 * `process.stdout.isTTY` is true and prompts / ink views run as for a person.
 * Output is the terminal's (stdout and stderr merged), ANSI stripped.
 * Colours stay off unless `env` turns them on.
 */
export function startCliInPty(
  args: string[],
  cwd: string,
  options: {
    env?: Record<string, string | undefined>;
    cols?: number;
    rows?: number;
    /** The CLI to run (default: this repository's bin/ablo.js), e.g. an installed package's `node_modules/.bin/ablo`. */
    bin?: string;
  } = {},
): Background {
  const cmd = `stty cols ${options.cols ?? 120} rows ${options.rows ?? 40} 2>/dev/null; exec ${[process.execPath, options.bin ?? ablobin, ...args].map(shellQuote).join(' ')}`;
  const child = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], {
    cwd,
    env: cleanEnv({ TERM: 'xterm-256color', ...options.env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return background(child, stripAnsi);
}
