/**
 * `ablo dev`: the local engine, in this process, on a SQLite file.
 *
 * Start: load the schema (a missing or broken file stops here, exit 1), open
 * the engine (its storage takes an OS-level lock on the database file: while
 * another engine holds it, this one is refused before anything is written,
 * and says where the other runs), record `{ pid, url }` in `.ablo/dev.lock`
 * (informational only), make sure the API key from `.env.local` exists (a
 * missing or revoked one is replaced and written to `.env.local`), keep
 * `ABLO_URL` in `.env.local` pointing at this engine, push the schema, print
 * URL / key / MCP line and the ready line.
 *
 * Then: every save of the schema file (fs.watch, debounced) reloads and
 * pushes it. Safe plans apply; destructive / needs-data plans are asked about
 * on a terminal and otherwise left unapplied (the engine keeps serving the
 * old schema; `ablo push --allow-destructive` applies them).
 *
 * Output: an ink live view on a terminal; plain lines otherwise; one JSON
 * object per line with `--json` (`event`: ready, schema, commit, connect,
 * disconnect, error, stopped). Ctrl-C / SIGTERM close the engine and exit 0.
 */
import { existsSync, readFileSync, statfsSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { createApiKey, hashApiKey, isApiKeyShape } from '../../src/engine/apiKeys.js';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import { mcpRoutes } from '../../mcp/route.js';
import type { SerializedSchema } from '../../src/schema/descriptor.js';
import { formatPlan, type SchemaPlan } from '../../src/schema/plan.js';
import { detectCodingAgent } from '../agent.js';
import { KEY_VAR, URL_VAR, describeOrigin, parseDotenv, resolveConfig, setDotenvValues, type ResolvedConfig } from '../config.js';
import { shortHash } from '../connect.js';
import type { CliContext } from '../context.js';
import { CliError, isAbloErrorLike, toFailure } from '../errors.js';
import { diskFullError, isDiskFull, writeFileAtomic } from '../fs.js';
import { checkSourceModels, describeSources, resolveSources } from '../sources.js';
import { alreadyRunningError, writeDevRecord, type DevRecord } from '../devLock.js';
import { displayPath, loadSchema, type LoadedSchema } from '../loadSchema.js';
import { homeFrom, mcpHint } from '../mcpInstall.js';
import { planSummary, renderPlan, unsafeSummary } from '../plan.js';
import { colorsFor, type Colors } from '../ui/color.js';
import { DevStore, type DevHeader } from '../ui/devStore.js';
import { canPrompt, confirm } from '../ui/prompt.js';

export const DEBOUNCE_MS = 150;

export interface DevFlags {
  port?: string;
  db?: string;
  /** Postgres connection string (instead of the SQLite `db`). */
  databaseUrl?: string;
  schema?: string;
  /** `--no-watch` sets this to false. */
  watch?: boolean;
}

type PushOutcome =
  | { status: 'unchanged'; version: number; hash: string }
  | { status: 'applied'; plan: SchemaPlan; version: number; hash: string }
  | { status: 'declined' | 'blocked'; plan: SchemaPlan; version: number; hash: string }
  | { status: 'error'; message: string; fix?: string };

/** Where output goes: live view, plain lines, or JSON lines. */
interface Reporter {
  ready(header: DevHeader, schema: { version: number; hash: string; models: number }): Promise<void>;
  schema(outcome: PushOutcome, file: string, initial: boolean): void;
  commit(e: { changes: number; lastSyncId: number; models: string[] }): void;
  connection(kind: 'connect' | 'disconnect', who: string, count: number): void;
  /** A row's claim changed: `held` null when the row is free. */
  claim(key: string, held: { holder: string; action: string | null; waiting: number } | null, previous: string | undefined): void;
  log(level: 'info' | 'warn' | 'error', text: string): void;
  /** Ask y/N about an unsafe plan (only on a terminal). */
  confirmPlan?(plan: SchemaPlan): Promise<boolean>;
  stop(): void;
}

function lineReporter(ctx: CliContext, c: Colors): Reporter {
  const out = (s: string) => ctx.io.stdout(`${s}\n`);
  const json = (event: string, data: Record<string, unknown>) => out(JSON.stringify({ event, at: new Date().toISOString(), ...data }));
  return {
    async ready(h, schema) {
      if (ctx.json) {
        json('ready', { url: h.url, apiKey: h.apiKey, keyFrom: h.keyFrom, db: h.db, schema: { file: h.schemaFile, ...schema }, mcp: h.mcp, version: h.version, ms: h.readyMs, ...(h.sources?.length ? { sources: h.sources } : {}) });
        return;
      }
      out(`${c.bold('ablo dev')} · engine ${h.version}`);
      out(`  url      ${h.url}`);
      out(`  api key  ${h.apiKey} ${c.dim(`(${h.keyFrom})`)}`);
      out(`  db       ${h.db}`);
      out(`  schema   ${h.schemaFile} · version ${schema.version} · ${schema.models} model${schema.models === 1 ? '' : 's'} · ${shortHash(schema.hash)}`);
      out(`  mcp      ${h.mcp}`);
      out(c.green(`ready in ${h.readyMs} ms at ${h.url}`) + c.dim(' · Ctrl-C to stop'));
    },
    schema(o, file, initial) {
      if (ctx.json) {
        json('schema', { file, initial, ...o });
        return;
      }
      if (o.status === 'unchanged') {
        if (!initial) out(c.dim(`schema: ${file} saved, no changes`));
        return;
      }
      if (o.status === 'error') {
        out(c.red(`schema: ${o.message}`));
        if (o.fix) out(c.dim(`  fix: ${o.fix}`));
        out(c.dim('  the engine keeps serving the previous schema'));
        return;
      }
      const lines = renderPlan(o.plan, c).map((l) => `  ${l}`);
      if (o.status === 'applied') {
        out(`schema: version ${o.version} applied from ${file} (${planSummary(o.plan)})`);
        for (const l of lines) out(l);
        return;
      }
      out(c.yellow(`schema: ${file} has ${unsafeSummary(o.plan)}; NOT applied, the engine keeps serving version ${o.version}`));
      for (const l of lines) out(l);
      out(c.dim(o.status === 'declined' ? '  not confirmed; save again to be asked again' : '  fix: review the plan, then run `ablo push --allow-destructive` (or `ablo push` in a terminal to be asked)'));
    },
    commit(e) {
      if (ctx.json) json('commit', e);
      else out(c.dim(`commit ${e.models.join(', ')} (${e.changes} change${e.changes === 1 ? '' : 's'}) · sync id ${e.lastSyncId}`));
    },
    connection(kind, who, count) {
      if (ctx.json) json(kind, { participant: who, connections: count });
      else out(c.dim(`${kind === 'connect' ? 'connected' : 'disconnected'}: ${who} (${count} connected)`));
    },
    claim(key, held, previous) {
      if (ctx.json) {
        json('claim', { row: key, ...(held ? { holder: held.holder, action: held.action, waiting: held.waiting } : { holder: null }) });
        return;
      }
      if (held && held.holder !== previous) out(c.dim(`claim ${key} → ${held.holder}${held.action ? ` ("${held.action}")` : ''}${held.waiting ? `, ${held.waiting} waiting` : ''}`));
      else if (!held && previous) out(c.dim(`claim ${key} released by ${previous}`));
    },
    log(level, text) {
      if (ctx.json) json(level === 'info' ? 'info' : 'error', { level, message: text });
      else out(level === 'info' ? text : level === 'warn' ? c.yellow(text) : c.red(text));
    },
    stop() {
      if (ctx.json) json('stopped', {});
      else out('ablo dev stopped');
    },
  };
}

async function viewReporter(onQuit: () => void): Promise<Reporter & { store: DevStore }> {
  const { mountDevView } = await import('../ui/DevView.js');
  let store: DevStore | undefined;
  let view: { unmount(): void } | undefined;
  const early: Array<() => void> = [];
  const withStore = (fn: (s: DevStore) => void) => (store ? fn(store) : early.push(() => fn(store!)));
  const reporter: Reporter & { store: DevStore } = {
    get store() {
      return store!;
    },
    async ready(h, schema) {
      store = new DevStore({ header: h, schema, connections: 0, lastSyncId: 0, totalCommits: 0, commitTimes: [], recent: [], claims: [], log: [], pending: null });
      for (const fn of early.splice(0)) fn();
      view = mountDevView(store, onQuit);
    },
    schema(o, file, initial) {
      withStore((s) => {
        if (o.status === 'unchanged') {
          if (!initial) s.log('info', `${file} saved, no schema changes`);
          return;
        }
        if (o.status === 'error') {
          s.log('error', `schema: ${o.message}`, [...(o.fix ? [`fix: ${o.fix}`] : []), 'the engine keeps serving the previous schema']);
          return;
        }
        if (o.status === 'applied') {
          s.set({ schema: { version: o.version, hash: o.hash, models: s.state.schema.models } });
          s.log('info', `schema version ${o.version} applied (${planSummary(o.plan)})`, formatPlan(o.plan));
          return;
        }
        s.log('warn', `schema NOT applied (${unsafeSummary(o.plan)}); serving version ${o.version}`, [
          ...formatPlan(o.plan),
          o.status === 'declined' ? 'not confirmed; save again to be asked again' : 'fix: `ablo push --allow-destructive`',
        ]);
      });
    },
    commit(e) {
      withStore((s) => s.commit(e));
    },
    claim(key, held) {
      withStore((s) => s.claim(key, held));
    },
    connection(kind, who, count) {
      withStore((s) => {
        s.set({ connections: count });
        s.log('info', `${kind === 'connect' ? 'connected' : 'disconnected'}: ${who}`);
      });
    },
    log(level, text) {
      withStore((s) => s.log(level, text));
    },
    confirmPlan(plan) {
      return store ? store.ask(`Apply ${unsafeSummary(plan)}? Stored data may be lost.`, formatPlan(plan)) : Promise.resolve(false);
    },
    stop() {
      view?.unmount();
    },
  };
  return reporter;
}

function modelCount(s: SerializedSchema | null | undefined): number {
  return s ? Object.keys(s.models).length : 0;
}

/** Free bytes for this user on the disk that holds `dir` (Infinity when unknown). */
function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Infinity;
  }
}

/**
 * Is this a "disk full" failure? Said so by the file system or SQLite, or an
 * I/O error from SQLite (growing its shared-memory file on a full disk gives
 * "disk I/O error") while the disk that holds `dir` has (almost) no space left.
 */
function diskFull(err: unknown, dir: string): boolean {
  if (isDiskFull(err)) return true;
  if (!isAbloErrorLike(err)) return false;
  if (err.code === 'disk_full' || /database or disk is full|SQLITE_FULL|ENOSPC|EDQUOT/i.test(err.message)) return true;
  return /disk I\/O error|SQLITE_IOERR/i.test(err.message) && freeBytes(dir) < 256 * 1024;
}

/** Keep `.env.local` in step: the key (when we made one) and a loopback ABLO_URL. It holds the key: mode 0600. */
async function syncEnvLocal(config: ResolvedConfig, url: string, newKey: string | undefined): Promise<string[]> {
  const path = `${config.cwd}/.env.local`;
  const exists = existsSync(path);
  if (!exists && !newKey) return [];
  const text = exists ? readFileSync(path, 'utf8') : '# Local ablo settings for the CLI and your scripts (written by `ablo dev`). Do not commit this file.\n';
  const values = parseDotenv(text);
  const set: Record<string, string> = {};
  const current = values[URL_VAR];
  let loopback = false;
  try {
    loopback = !!current && ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(current).hostname);
  } catch {
    loopback = false;
  }
  if (!current || (loopback && current.replace(/\/+$/, '') !== url)) set[URL_VAR] = url;
  if (newKey) set[KEY_VAR] = newKey;
  if (!Object.keys(set).length) return [];
  await writeFileAtomic(path, setDotenvValues(text, set), '.env.local', { mode: 0o600, fix: `Check that ${path} is writable.` });
  return Object.keys(set);
}

/** A connection string as shown: without its password. */
function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres (connection string not shown)';
  }
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const started = performance.now();
  /** Time spent waiting for an answer at start (not part of the startup time). */
  let waitedMs = 0;
  const flags = opts as DevFlags;
  const c = colorsFor(ctx);
  const config = resolveConfig({ cwd: ctx.cwd, env: ctx.env, flags: { port: flags.port, db: flags.db, schema: flags.schema, databaseUrl: flags.databaseUrl } });
  const cwd = config.cwd;
  const interactive = canPrompt(ctx) && !detectCodingAgent(ctx.env);
  const schemaPath = config.schema.value;
  const dbShown = config.databaseUrl ? redactedUrl(config.databaseUrl.value) : displayPath(config.devDb.value, cwd);

  // 1. The schema first: a missing or broken file stops before anything is opened.
  let loaded: LoadedSchema = await loadSchema(schemaPath, { cwd });
  // Data Sources: each secret must be set, each model in the schema; both stop here, before the engine opens.
  const sources = resolveSources(config, ctx.env);
  checkSourceModels(sources, Object.keys(loaded.serialized.models), loaded.file);

  let key = config.apiKey?.value;
  let keyFrom = config.apiKey ? describeOrigin(config.apiKey) : '';
  if (key !== undefined && isApiKeyShape(key) && key.startsWith('rk_')) {
    throw new CliError(`${KEY_VAR} (from ${keyFrom}) is a restricted key (rk_…); ablo dev needs a secret key (sk_test_…) to push the schema and serve`, {
      code: 'invalid_dev_key',
      fix: `Remove the ${KEY_VAR} line from ${keyFrom === KEY_VAR ? 'your environment' : keyFrom}; ablo dev then writes a new key to .env.local.`,
    });
  }
  if (key !== undefined && !isApiKeyShape(key)) {
    throw new CliError(`${KEY_VAR} (from ${keyFrom}) is not an ablo API key: keys look like sk_test_ followed by 32 letters and digits`, {
      code: 'invalid_dev_key',
      fix: `Remove the ${KEY_VAR} line from ${keyFrom === KEY_VAR ? 'your environment' : keyFrom}; ablo dev then writes a new key to .env.local.`,
    });
  }

  // 2. The engine. Its storage locks the database file (one engine per file, held until it
  // closes or dies): a second ablo dev is refused here, before it writes anything.
  let engine: Engine;
  const engineLog: Array<(line: string) => void> = [];
  try {
    engine = await createEngine({
      file: config.devDb.value,
      // Postgres when a connection string is configured; ABLO_DATABASE_URL is read through the config, not by the engine.
      databaseUrl: config.databaseUrl?.value ?? '',
      port: config.devPort.value,
      ...(key ? { devKey: key } : {}),
      ...(config.devRetention ? { retention: config.devRetention } : {}),
      // Browsers: `cors.origins` in ablo.config.json, else localhost / 127.0.0.1 / [::1] on any port.
      cors: { origins: config.devCorsOrigins.value },
      // Rate limits per credential: `rateLimits` in ablo.config.json, else the engine's defaults.
      ...(config.rateLimits !== undefined ? { rateLimits: config.rateLimits } : {}),
      // `/mcp` on the engine's port (MCP over Streamable HTTP), as docs/mcp.md promises.
      routes: [mcpRoutes()],
      // Data Source mode: `sources` in ablo.config.json, secrets from the environment or .env.local.
      ...(Object.keys(sources).length ? { sources } : {}),
      log: (line) => {
        if (engineLog.length) engineLog.forEach((f) => f(line));
        else ctx.note(`[engine] ${line}`);
      },
    });
  } catch (err) {
    if (isAbloErrorLike(err) && err.code === 'database_locked') throw alreadyRunningError(cwd, config.devDb.value, dbShown, err);
    if (diskFull(err, dirname(config.devDb.value))) throw diskFullError(dbShown, displayPath(dirname(config.devDb.value), cwd), err);
    if (isAbloErrorLike(err) && err.code === 'address_in_use') {
      const p = config.devPort.value;
      throw new CliError(`port ${p} on 127.0.0.1 is already in use`, {
        code: 'port_in_use',
        fix: `Stop whatever listens there, or pick another port: \`ablo dev --port ${p === 0 ? 4101 : p + 1}\` (--port 0 picks a free one).`,
        details: { port: p },
        cause: err,
      });
    }
    if (isAbloErrorLike(err) || (err as NodeJS.ErrnoException).code) {
      throw new CliError(`cannot open the engine on ${dbShown}: ${(err as Error).message}`, {
        code: 'engine_start_failed',
        fix: `Check ${dbShown} (move it aside to start from an empty database), or rerun with --debug.`,
        cause: err,
      });
    }
    throw err;
  }

  let stopping: Promise<void> | null = null;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let reporter: Reporter | undefined;
  let record: DevRecord | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      if (timer) clearTimeout(timer);
      watcher?.close();
      reporter?.stop();
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
      // The record goes first, while this engine still holds the database: once it is closed,
      // a new engine may write its own record, which must not be removed by this one.
      record?.release();
      try {
        await engine.close();
      } finally {
        resolveStopped();
      }
    })();
    return stopping;
  };
  const onSignal = (): void => void shutdown();
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);

  try {
    // Where this engine runs, for a second ablo dev to report (informational, never the lock).
    record = await writeDevRecord(cwd, { url: engine.url, db: config.devDb.value, startedAt: new Date().toISOString() });

    // 3. The key: from .env.local (registered with the engine), else new.
    let newKey: string | undefined;
    if (!key) {
      key = engine.devKey ?? (await createApiKey(engine.storage, { name: 'dev' })).key;
      newKey = key;
      keyFrom = 'new, written to .env.local';
    } else {
      const record = await engine.storage.findApiKeyByHash(hashApiKey(key));
      if (record?.revokedAt) {
        const replaced = key.slice(0, 12);
        key = (await createApiKey(engine.storage, { name: 'dev' })).key;
        newKey = key;
        keyFrom = `new, written to .env.local; ${replaced}… was revoked`;
      }
    }
    if (newKey && (config.apiKey?.source === 'flag' || config.apiKey?.source === 'env')) {
      // A key given on the command line or in the environment is not written to a file.
      keyFrom = `new; set ${KEY_VAR} to it`;
      newKey = undefined;
    }
    const updated = await syncEnvLocal(config, engine.url, newKey);

    // 4. Push the schema.
    const push = async (l: LoadedSchema, initial: boolean): Promise<PushOutcome> => {
      try {
        const first = await engine.push(l.serialized);
        if (first.plan.changes.length === 0) return { status: 'unchanged', version: first.version, hash: first.hash };
        if (first.applied) return { status: 'applied', plan: first.plan, version: first.version, hash: first.hash };
        if (interactive) {
          let yes: boolean;
          if (initial || !reporter?.confirmPlan) {
            ctx.line(`${l.file} has changes that are not safe (${unsafeSummary(first.plan)}):`);
            for (const line of renderPlan(first.plan, c)) ctx.line(`  ${line}`);
            const asked = performance.now();
            yes = await confirm(`Apply ${unsafeSummary(first.plan)}? Stored data may be lost.`, false);
            if (initial) waitedMs += performance.now() - asked;
          } else {
            yes = await reporter.confirmPlan(first.plan);
          }
          if (yes) {
            const forced = await engine.push(l.serialized, { allowDestructive: true });
            return { status: 'applied', plan: forced.plan, version: forced.version, hash: forced.hash };
          }
          return { status: 'declined', plan: first.plan, version: first.version, hash: first.hash };
        }
        return { status: 'blocked', plan: first.plan, version: first.version, hash: first.hash };
      } catch (err) {
        if (err instanceof CliError && err.code === 'cancelled') throw err;
        const f = toFailure(err);
        return { status: 'error', message: f.message, ...(f.fix ? { fix: f.fix } : {}) };
      }
    };

    const initial = await push(loaded, true);
    if (stopping) {
      await stopped;
      return 0;
    }

    const readyMs = Math.round(performance.now() - started - waitedMs);
    const header: DevHeader = {
      url: engine.url,
      apiKey: key,
      keyFrom: keyFrom || 'given',
      db: dbShown,
      schemaFile: loaded.file,
      mcp: mcpHint({ projectDir: cwd, home: homeFrom(ctx.env) }),
      version: engine.version,
      readyMs,
      ...(Object.keys(sources).length ? { sources: Object.entries(sources).map(([name, s]) => ({ name, url: s.url ?? null, models: [...s.models] })) } : {}),
    };
    reporter = interactive ? await viewReporter(onSignal) : lineReporter(ctx, c);
    let lastVersion = 'version' in initial ? initial.version : 0;
    if (initial.status !== 'unchanged') reporter.schema(initial, loaded.file, true);
    await reporter.ready(header, { version: lastVersion, hash: engine.schema()?.hash ?? '', models: modelCount(engine.schema()?.serialized) });
    for (const line of describeSources(sources)) reporter.log('info', line);
    if (updated.length) reporter.log('info', `.env.local: set ${updated.join(', ')}`);

    engineLog.push((line) => reporter?.log('error', `engine: ${line}`));
    engine.on('commit', (e) => reporter?.commit(e));
    engine.on('connect', (e) => reporter?.connection('connect', e.type === 'connect' ? `${e.participant.kind}:${e.participant.id}` : '?', engine.connections()));
    engine.on('disconnect', (e) => reporter?.connection('disconnect', e.participant ? `${e.participant.kind}:${e.participant.id}` : 'a client', engine.connections()));
    const holders = new Map<string, string>();
    engine.claims.subscribe((change) => {
      const key = `${change.model}/${change.id}`;
      const previous = holders.get(key);
      const held = change.claim
        ? { holder: `${change.claim.holder.kind}:${change.claim.holder.id}`, action: change.claim.action, waiting: change.queue.length }
        : null;
      if (held) holders.set(key, held.holder);
      else holders.delete(key);
      reporter?.claim(key, held, previous);
    });

    // 5. Watch the schema file (its directory, so editors that replace the file are seen).
    if (flags.watch === false) {
      reporter.log('info', `not watching ${loaded.file} (--no-watch): run \`ablo push\` after edits`);
      await stopped;
      return 0;
    }
    let lastHash = loaded.serialized.hash;
    let busy = false;
    let again = false;
    const reload = async (): Promise<void> => {
      if (stopping) return;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          let next: LoadedSchema;
          try {
            next = await loadSchema(schemaPath, { cwd });
          } catch (err) {
            const f = toFailure(err);
            lastHash = '';
            reporter?.schema({ status: 'error', message: f.message, ...(f.fix ? { fix: f.fix } : {}) }, displayPath(schemaPath, cwd), false);
            continue;
          }
          if (next.serialized.hash === lastHash) continue;
          lastHash = next.serialized.hash;
          loaded = next;
          const outcome = await push(next, false);
          if ('version' in outcome) lastVersion = outcome.version;
          reporter?.schema(outcome, next.file, false);
        } while (again && !stopping);
      } finally {
        busy = false;
      }
    };
    const dir = dirname(schemaPath);
    const base = basename(schemaPath);
    const watchedExt = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.json']);
    try {
      watcher = watch(dir, (_event, filename) => {
        if (!filename) return;
        const name = String(filename);
        if (name !== base && !(watchedExt.has(extname(name)) && !name.startsWith('.'))) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => void reload(), DEBOUNCE_MS);
      });
      watcher.on('error', (err) => reporter?.log('warn', `watching ${displayPath(dir, cwd)} stopped: ${err.message}`));
    } catch (err) {
      reporter.log('warn', `cannot watch ${displayPath(dir, cwd)} (${(err as Error).message}); run \`ablo push\` after edits`);
    }

    await stopped;
    return 0;
  } catch (err) {
    await shutdown().catch(() => {});
    if (!(err instanceof CliError) && diskFull(err, dirname(config.devDb.value))) throw diskFullError(dbShown, displayPath(dirname(config.devDb.value), cwd), err);
    throw err;
  }
}
