/**
 * CLI errors and the one formatter every command shares.
 *
 * A command fails by throwing. `CliError` carries the cause (`message`), what
 * the user should do next (`fix`) and the exit code. Errors from the library
 * (`AbloError` and its subclasses) are recognised structurally, so a copy of
 * the class loaded from the user's own `node_modules/ablo` is handled the same
 * way. Anything else is an unexpected failure: exit 1, with a hint to rerun
 * with `--debug`.
 *
 * Human output (stderr):
 *
 *     error: <cause>
 *     fix: <what to do>
 *
 * With `--json` (stdout): `{ "error": { "type", "code", "message", "fix", ...details } }`.
 * Stack traces only with `--debug`.
 *
 * Codes are registered: the CLI's own in cli/errorCodes.ts, the library's in
 * src/errorCodes.ts. A `CliError` takes a registered code (checked when it
 * compiles) and its `type` follows from the code, or it takes both from the
 * engine or library error it rewrites (`from`).
 *
 * This module is loaded on every run (including `ablo --version`): it imports
 * only the two registries, which import nothing.
 */
import { ERROR_CODES, type AbloErrorCode } from '../src/errorCodes.js';
import { CLI_ERROR_CODES, isCliOnlyErrorCode, type CliErrorType, type CliOnlyErrorCode } from './errorCodes.js';

export type { CliErrorType } from './errorCodes.js';

/** Every code a CLI error may carry: the CLI's own and the library's. */
export type CliErrorCode = CliOnlyErrorCode | AbloErrorCode;

/** The type of a registered code. */
export function cliErrorType(code: CliErrorCode): CliErrorType {
  return isCliOnlyErrorCode(code) ? CLI_ERROR_CODES[code].type : ERROR_CODES[code].type;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

interface CliErrorBaseOptions {
  /** What the user should do about it. One sentence. */
  fix?: string;
  /** Process exit code; by default 2 for a `usage_error`, else 1. */
  exitCode?: number;
  /** Extra fields for `--json` output (file, line, model, field, ...). */
  details?: Record<string, unknown>;
  /** The underlying error; its stack is printed with `--debug`. */
  cause?: unknown;
}

export type CliErrorOptions = CliErrorBaseOptions &
  (
    | {
        /** Stable machine-readable reason, e.g. `schema_not_found`; the `type` follows from it. */
        code?: CliErrorCode;
        from?: never;
      }
    | {
        /** Keep the type and code of this error (an engine or library error, worded for the terminal). */
        from: { type: string; code: string };
        code?: never;
      }
  );

export class CliError extends Error {
  readonly fix?: string;
  readonly exitCode: number;
  /** Error family: the library's types plus `cli_error`, `usage_error`, `config_error`, `internal_error`. */
  readonly type: CliErrorType;
  readonly code: CliErrorCode;
  readonly details: Record<string, unknown>;

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.fix = options.fix;
    if (options.from) {
      // Codes of an engine error are the engine's (registered there; a newer one may add some).
      this.code = options.from.code as CliErrorCode;
      this.type = options.from.type as CliErrorType;
    } else {
      this.code = options.code ?? (options.exitCode === EXIT_USAGE ? 'bad_usage' : 'failed');
      this.type = cliErrorType(this.code);
    }
    this.exitCode = options.exitCode ?? (this.type === 'usage_error' ? EXIT_USAGE : EXIT_FAILURE);
    this.details = options.details ?? {};
  }
}

/** Bad usage: unknown command or option, missing or extra argument, invalid flag value. Exit 2. */
export class UsageError extends CliError {
  constructor(message: string, options: CliErrorOptions = {}) {
    super(message, { ...options, exitCode: EXIT_USAGE } as CliErrorOptions);
    this.name = 'UsageError';
  }
}

/** Structural check for `AbloError` (and subclasses) from any copy of the library. */
export interface AbloErrorLike {
  name: string;
  message: string;
  type: string;
  code: string;
  model?: string;
  field?: string;
  details?: Record<string, unknown>;
  stack?: string;
}

export function isAbloErrorLike(err: unknown): err is AbloErrorLike {
  if (!(err instanceof Error)) return false;
  const e = err as Error & Partial<AbloErrorLike>;
  return typeof e.type === 'string' && typeof e.code === 'string' && typeof e.name === 'string' && e.name.startsWith('Ablo');
}

export function isCliError(err: unknown): err is CliError {
  return err instanceof CliError;
}

/** Suggested way out for library errors, by type. */
const FIX_BY_ABLO_TYPE: Record<string, string> = {
  schema_error: 'Change the schema as the message says (supported field types are listed in docs/schema.md), then run the command again.',
  validation_error: 'Correct the data named in the message and try again.',
  authentication_error: 'Check the API key (--api-key or ABLO_API_KEY).',
  permission_error: 'Use an API key that is allowed to do this.',
  not_found: 'Check the model name and id.',
  connection_error: 'Check that the engine is running and the URL is right (--url or ABLO_URL).',
  rate_limit: 'Wait a moment and try again.',
};

/** A failure, normalised for printing. */
export interface Failure {
  exitCode: number;
  type: string;
  code: string;
  message: string;
  fix?: string;
  details: Record<string, unknown>;
  /** Stack text for `--debug` (the error and its causes). */
  stack: string;
}

function stackOf(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      parts.push((depth ? 'caused by: ' : '') + (current.stack ?? `${current.name}: ${current.message}`));
      current = (current as { cause?: unknown }).cause;
    } else {
      parts.push((depth ? 'caused by: ' : '') + String(current));
      break;
    }
  }
  return parts.join('\n');
}

/** Classify anything thrown out of a command. */
export function toFailure(err: unknown): Failure {
  if (isCliError(err)) {
    return {
      exitCode: err.exitCode,
      type: err.type,
      code: err.code,
      message: err.message,
      fix: err.fix,
      details: err.details,
      stack: stackOf(err),
    };
  }
  if (isAbloErrorLike(err)) {
    const details: Record<string, unknown> = { ...(err.details ?? {}) };
    if (err.model !== undefined) details.model = err.model;
    if (err.field !== undefined) details.field = err.field;
    return {
      exitCode: EXIT_FAILURE,
      type: err.type,
      code: err.code,
      message: err.message,
      fix: typeof details.fix === 'string' ? details.fix : FIX_BY_ABLO_TYPE[err.type],
      details,
      stack: stackOf(err),
    };
  }
  const message = err instanceof Error ? err.message || err.name : String(err);
  return {
    exitCode: EXIT_FAILURE,
    type: cliErrorType('unexpected'),
    code: 'unexpected' satisfies CliErrorCode,
    message: `unexpected failure: ${message}`,
    fix: 'Rerun with --debug to see the stack trace, and report it if it looks like a bug in ablo.',
    details: {},
    stack: stackOf(err),
  };
}

/** Collapse a message to one line (the cause line must stay one line). */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

export interface FormattedFailure {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Render a failure the way every command prints it. */
export function formatFailure(err: unknown, opts: { json: boolean; debug: boolean }): FormattedFailure {
  const f = toFailure(err);
  let stdout = '';
  let stderr = '';
  if (opts.json) {
    const body: Record<string, unknown> = { ...f.details, type: f.type, code: f.code, message: oneLine(f.message) };
    if (f.fix) body.fix = f.fix;
    if (opts.debug) body.stack = f.stack;
    stdout = `${JSON.stringify({ error: body }, null, 2)}\n`;
    if (opts.debug) stderr = `${f.stack}\n`;
  } else {
    stderr = `error: ${oneLine(f.message)}\n`;
    if (f.fix) stderr += `fix: ${oneLine(f.fix)}\n`;
    if (opts.debug) stderr += `\n${f.stack}\n`;
  }
  return { stdout, stderr, exitCode: f.exitCode };
}
