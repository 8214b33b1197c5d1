/**
 * `ablo start`: a production engine process. One engine on Postgres
 * (`--database-url`, default ABLO_DATABASE_URL) or on a SQLite file
 * (`--file`, a single process), on `--host` (default 0.0.0.0: a server behind
 * a load balancer) and `--port` (default PORT, else 4100).
 *
 * Unlike `ablo dev`: no schema file is loaded or watched (the engine serves the
 * schema the database holds; `ablo push` changes it), no live view, no key is
 * made (`ablo keys create --live`), and the output is JSON lines on stdout
 * (`{ level, msg, time, ... }`): starting, listening, each engine error, drain.
 *
 * Browsers: only the origins given with `--cors-origin` (repeatable), else
 * `cors.origins` in ablo.config.json in the current directory, else none (no
 * CORS headers; WebSocket upgrades carrying an `Origin` are refused with 403).
 *
 * SIGTERM / SIGINT drain the engine (`engine.drain()`: ready goes false, new
 * work is refused, queued commits land and are receipted, sockets close with
 * 4006 so clients move to another engine, storage closes) and exit 0. A second
 * signal, or a drain that takes longer than `--drain-timeout` seconds (default
 * 10), exits 1 at once.
 */
import { createEngine, type Engine } from '../../src/engine/engine.js';
import type { RateLimitOptions } from '../../src/engine/auth/rateLimits.js';
import { mcpRoutes } from '../../mcp/route.js';
import { checkedPort, readConfigFile, readEnvFiles } from '../config.js';
import type { SourcesConfig } from '../../src/engine/source/config.js';
import { describeSources, resolveSources } from '../sources.js';
import { ORIGIN_PATTERN_EXAMPLES, originPatternProblem } from '../../src/http/origins.js';
import type { CliContext } from '../context.js';
import { CliError, isAbloErrorLike, UsageError } from '../errors.js';
import { packageVersion } from '../version.js';
import { describeTarget, engineStorageOptions, resolveStorageTarget, type StorageFlags, type StorageTarget } from '../storageTarget.js';

export const DEFAULT_HOST = '0.0.0.0';
export const DEFAULT_START_PORT = 4100;
export const DEFAULT_DRAIN_TIMEOUT_S = 10;
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export interface StartFlags extends StorageFlags {
  port?: string;
  host?: string;
  drainTimeout?: string;
  /** `--cors-origin`, repeatable. */
  corsOrigin?: readonly string[];
}

export interface StartOptions {
  target: StorageTarget;
  host: string;
  port: number;
  drainTimeoutMs: number;
  /** Browser origins allowed (`--cors-origin`, else `cors.origins` in ablo.config.json, else none). */
  corsOrigins: readonly string[];
  /** `rateLimits` of ablo.config.json (absent: the engine's defaults; docs/auth.md "Rate limits"). */
  rateLimits?: RateLimitOptions | false;
  /** Data Sources: `sources` of ablo.config.json, secrets from the environment (or .env.local / .env). Absent: none. */
  sources?: SourcesConfig;
}

export type JsonLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** The flags and the environment (ABLO_DATABASE_URL, PORT) as start options; bad usage throws (exit 2). */
export function resolveStartOptions(flags: StartFlags, cwd: string, env: Record<string, string | undefined>): StartOptions {
  const target = resolveStorageTarget(flags, cwd, 'ablo start', env);
  const port = checkedPort(flags.port ?? env.PORT ?? DEFAULT_START_PORT);
  const host = flags.host?.trim() || DEFAULT_HOST;
  const timeout = flags.drainTimeout === undefined ? DEFAULT_DRAIN_TIMEOUT_S : Number(flags.drainTimeout);
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new UsageError(`--drain-timeout must be a positive number of seconds, got ${JSON.stringify(flags.drainTimeout)}`, {
      fix: `e.g. --drain-timeout 30 (default ${DEFAULT_DRAIN_TIMEOUT_S}).`,
    });
  }
  const file = readConfigFile(cwd);
  const rateLimits = file?.config.rateLimits;
  const sources = resolveSources({ ...(file ? { file } : {}), envFiles: file?.config.sources ? readEnvFiles(cwd) : [] }, env);
  return { target, host, port, drainTimeoutMs: Math.round(timeout * 1000), corsOrigins: startCorsOrigins(flags, cwd), ...(rateLimits !== undefined ? { rateLimits } : {}), ...(Object.keys(sources).length ? { sources } : {}) };
}

/** `--cors-origin` values (each checked: a bad one is a usage error), else `cors.origins` of ablo.config.json, else none. */
export function startCorsOrigins(flags: StartFlags, cwd: string): readonly string[] {
  if (flags.corsOrigin?.length) {
    for (const o of flags.corsOrigin) {
      const problem = originPatternProblem(o);
      if (problem !== undefined) {
        throw new UsageError(`--cors-origin ${JSON.stringify(o)} is not a usable origin: ${problem}`, {
          code: 'invalid_cors_origin',
          fix: `Pass each origin as ${ORIGIN_PATTERN_EXAMPLES}: scheme://host[:port], no path.`,
        });
      }
    }
    return flags.corsOrigin;
  }
  return readConfigFile(cwd)?.config.cors?.origins ?? [];
}

/** One JSON object per line: `{ level, msg, time, ...fields }`. */
export function jsonLogger(write: (text: string) => void, now: () => Date = () => new Date()): JsonLog {
  return (level, msg, fields = {}) => write(`${JSON.stringify({ level, msg, time: now().toISOString(), ...fields })}\n`);
}

/** The engine, listening; a port in use or a database another engine holds is one error line and a typed failure. */
export async function openEngine(options: StartOptions, log: JsonLog): Promise<Engine> {
  try {
    return await createEngine({
      ...engineStorageOptions(options.target),
      host: options.host,
      port: options.port,
      devKey: false,
      cors: { origins: options.corsOrigins },
      ...(options.rateLimits !== undefined ? { rateLimits: options.rateLimits } : {}),
      routes: [mcpRoutes()],
      ...(options.sources ? { sources: options.sources } : {}),
      log: (line) => log('error', line),
    });
  } catch (err) {
    const where = describeTarget(options.target).database;
    const code = isAbloErrorLike(err) ? err.code : (err as NodeJS.ErrnoException)?.code;
    log('error', `cannot start: ${(err as Error)?.message ?? String(err)}`, { code });
    if (code === 'address_in_use') {
      throw new CliError(`port ${options.port} on ${options.host} is already in use`, {
        code: 'port_in_use',
        fix: 'Stop whatever listens there, or pick another port with --port.',
        details: { port: options.port, host: options.host },
        cause: err,
      });
    }
    if (isAbloErrorLike(err) || code) {
      throw new CliError(`cannot open the engine on ${where}: ${(err as Error).message}`, {
        code: 'engine_start_failed',
        fix: code === 'database_locked' ? 'Another engine has this SQLite file open: use --database-url (Postgres) to run several engines.' : 'Check the database settings, or rerun with --debug.',
        cause: err,
      });
    }
    throw err;
  }
}

/** What `waitForStop` listens on (the process; a test can pass an EventEmitter). */
export interface SignalSource {
  on(signal: (typeof SIGNALS)[number], listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: (typeof SIGNALS)[number], listener: (signal: NodeJS.Signals) => void): unknown;
}

/**
 * Resolves with the exit code once a signal has stopped the engine: 0 when the drain finished, 1 when it
 * failed, took longer than `drainTimeoutMs`, or a second signal came first.
 */
export function waitForStop(engine: Engine, drainTimeoutMs: number, log: JsonLog, signals: SignalSource = process): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (code: number): void => {
      for (const s of SIGNALS) signals.off(s, onSignal);
      if (timer) clearTimeout(timer);
      resolve(code);
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log('error', 'second signal: exiting without finishing the drain', { signal });
        finish(1);
        return;
      }
      stopping = true;
      log('info', 'draining', { signal, connections: engine.connections(), timeoutMs: drainTimeoutMs });
      timer = setTimeout(() => {
        log('error', `drain did not finish within ${drainTimeoutMs} ms: exiting`, { timeoutMs: drainTimeoutMs });
        finish(1);
      }, drainTimeoutMs);
      engine.drain().then(
        () => {
          log('info', 'drained', { lastSyncId: engine.lastSyncId() });
          finish(0);
        },
        (err: unknown) => {
          log('error', `drain failed: ${(err as Error)?.message ?? String(err)}`);
          finish(1);
        },
      );
    };
    for (const s of SIGNALS) signals.on(s, onSignal);
  });
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const options = resolveStartOptions(opts as StartFlags, ctx.cwd, ctx.env);
  const log = jsonLogger((text) => ctx.io.stdout(text));
  log('info', 'starting', { version: packageVersion(), pid: process.pid, ...describeTarget(options.target), host: options.host, port: options.port, corsOrigins: options.corsOrigins });
  const engine = await openEngine(options, log);
  const schema = engine.schema();
  log('info', 'listening', {
    url: engine.url,
    host: engine.host,
    port: engine.port,
    schemaHash: schema?.hash ?? null,
    lastSyncId: engine.lastSyncId(),
  });
  if (!schema) log('warn', `the database has no schema yet: push one with \`ablo push --url <this engine's URL>\``);
  for (const [name, source] of Object.entries(options.sources ?? {})) {
    const missing = schema ? source.models.filter((m) => !(m in schema.serialized.models)) : [];
    log('info', describeSources({ [name]: source })[0]!, { source: name, url: source.url ?? null, models: source.models });
    if (missing.length) log('warn', `Data Source ${name} names models the schema does not have: ${missing.join(', ')} (push a schema with them, or fix sources.${name}.models in ablo.config.json)`, { source: name, models: missing });
  }
  const code = await waitForStop(engine, options.drainTimeoutMs, log);
  // A drain that did not finish leaves the engine's sockets and timers holding the event loop: end the process.
  if (code !== 0) setImmediate(() => process.exit(code));
  return code;
}
