/**
 * What a command gets to talk to the world: where it runs, the global flags,
 * and the two output channels. Commands never touch `process.stdout` or
 * `process.exit` directly, so tests can run them in-process.
 *
 * Conventions:
 * - `ctx.line()` is human output on stdout; it is dropped under `--json`.
 * - `ctx.result(value)` is the one JSON document a command prints under `--json`.
 * - `ctx.note()` is a human side note on stderr (progress, warnings), also under `--json`.
 *
 * Loaded on every run: no imports beyond types.
 */

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  cwd: string;
  env: Record<string, string | undefined>;
  /** stdout is an interactive terminal (ink views and prompts only then). */
  isTTY: boolean;
}

export interface GlobalOptions {
  json: boolean;
  debug: boolean;
}

export interface CliContext extends GlobalOptions {
  io: CliIO;
  cwd: string;
  env: Record<string, string | undefined>;
  isTTY: boolean;
  /** A human line on stdout (suppressed with --json). */
  line(text?: string): void;
  /** The machine result, printed only with --json. */
  result(value: unknown): void;
  /** A side note on stderr (shown in both modes). */
  note(text: string): void;
}

let pipesGuarded = false;

export function processIO(): CliIO {
  // `ablo --help | head -1`: a closed pipe is not a crash.
  if (!pipesGuarded) {
    pipesGuarded = true;
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EPIPE') throw err;
      });
    }
  }
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
    // Under CI nobody answers prompts, and ink draws nothing until exit: behave as off a terminal.
    isTTY: Boolean(process.stdout.isTTY) && !isCI(process.env),
  };
}

/** The CI detection ink uses (so the live view and prompts agree with it). */
export function isCI(env: NodeJS.ProcessEnv): boolean {
  if (env.CI === '0' || env.CI === 'false') return false;
  return 'CI' in env || 'CONTINUOUS_INTEGRATION' in env || Object.keys(env).some((k) => k.startsWith('CI_'));
}

export function createContext(io: CliIO, globals: GlobalOptions): CliContext {
  return {
    ...globals,
    io,
    cwd: io.cwd,
    env: io.env,
    isTTY: io.isTTY && !globals.json,
    line(text = '') {
      if (!globals.json) io.stdout(`${text}\n`);
    },
    result(value) {
      if (globals.json) io.stdout(`${JSON.stringify(value, null, 2)}\n`);
    },
    note(text) {
      io.stderr(`${text}\n`);
    },
  };
}
