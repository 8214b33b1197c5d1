/**
 * `ablo source add | list | test | rotate-secret`: the Data Sources of this
 * project (docs/data-source.md "Configuration").
 *
 * - `add <name> (--url <url> | --connector) --models a,b [--env NAME]` writes
 *   `sources.<name>` into ablo.config.json, a new `whsec_` secret into
 *   `.env.local` (unless the variable is set already) and makes sure
 *   `.env.local` is git-ignored;
 * - `list` shows each source, its models and whether its secret is set;
 * - `test [name]` sends a signed `events` request and one `list` request per
 *   model to each source with a url, and says what each answer means;
 * - `rotate-secret <name>` puts a new secret in front of the old one in
 *   `.env.local` (the engine signs with both while the app moves to the new
 *   one); `--finish` keeps only the newest.
 *
 * The actions are thin: the work is in the exported functions below, which
 * the tests call directly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningSecret } from '../../src/source/signature.js';
import { sourceErrorBodySchema, sourceEventsResponseSchema, sourceListResponseSchema } from '../../src/protocol/source.js';
import { CONFIG_FILE, parseConfigText, parseDotenv, resolveConfig, setDotenvValues, type ResolvedConfig } from '../config.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs.js';
import { postSigned, type SourceAnswer } from '../sourceRequest.js';
import { ENV_NAME_PATTERN, SOURCE_NAME_PATTERN, defaultSecretEnv, lookupSecret, parseSourceUrl, resolveSources, type SourceFileEntry } from '../sources.js';
import { colorsFor } from '../ui/color.js';
import { ensureGitignored, type InitFile } from './init.js';

export const ENV_LOCAL = '.env.local';
/** Per request of `ablo source test` when the source sets no `timeoutMs`. */
export const DEFAULT_TEST_TIMEOUT_MS = 10_000;

// ── ablo.config.json and .env.local edits ────────────────────────────────────

function configuredSources(config: ResolvedConfig): Record<string, SourceFileEntry> {
  return config.file?.config.sources ?? {};
}

/** The named source, or a usage error (exit 2) listing the ones there are. */
export function sourceNamed(config: ResolvedConfig, name: string): SourceFileEntry {
  const sources = configuredSources(config);
  const entry = sources[name];
  if (entry) return entry;
  const names = Object.keys(sources);
  throw new UsageError(`no Data Source named "${name}" in ${CONFIG_FILE}`, {
    code: 'source_not_configured',
    fix: names.length ? `Use one of: ${names.join(', ')} (\`ablo source list\`).` : `Add one first: ablo source add ${name} --url <the app's endpoint> --models <models>.`,
    details: { source: name, sources: names },
  });
}

/** Write `sources.<name>` into ablo.config.json (created when missing), keeping everything else in the file. */
export async function writeSourceEntry(cwd: string, name: string, entry: SourceFileEntry): Promise<string> {
  const path = join(cwd, CONFIG_FILE);
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '{}\n';
  parseConfigText(text, path); // a broken file is reported as it is, before anything is changed
  const raw = JSON.parse(text) as Record<string, unknown>;
  const sources = (raw.sources ?? {}) as Record<string, unknown>;
  if (sources[name] !== undefined) {
    throw new CliError(`${CONFIG_FILE} already has a Data Source named "${name}"`, {
      code: 'source_name_taken',
      fix: `Pick another name, or edit "sources.${name}" in ${CONFIG_FILE} (\`ablo source rotate-secret ${name}\` for a new secret).`,
      details: { source: name },
    });
  }
  raw.sources = { ...sources, [name]: entry };
  const indent = /^\{\r?\n([ \t]+)\S/.exec(text)?.[1] ?? 2;
  const next = `${JSON.stringify(raw, null, indent)}\n`;
  parseConfigText(next, path); // the same checks `ablo dev` makes (a model in two sources, ...)
  await writeFileAtomic(path, next, CONFIG_FILE);
  return path;
}

/** `.env.local`'s values (empty when there is none). */
export function readEnvLocal(cwd: string): { text: string; values: Record<string, string> } {
  const path = join(cwd, ENV_LOCAL);
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  return { text, values: parseDotenv(text) };
}

/** Set `values` in `.env.local` (created when missing), other lines kept; mode 0600: it holds secrets. */
export async function writeEnvLocal(cwd: string, values: Record<string, string>): Promise<void> {
  const path = join(cwd, ENV_LOCAL);
  const { text } = readEnvLocal(cwd);
  const base = text || '# Local ablo settings for the CLI and your scripts. Do not commit this file.\n';
  await writeFileAtomic(path, setDotenvValues(base, values), ENV_LOCAL, { mode: 0o600, fix: `Check that ${path} is writable.` });
}

// ── add ──────────────────────────────────────────────────────────────────────

export interface AddFlags {
  url?: string;
  connector?: boolean;
  models?: string;
  env?: string;
}

export interface AddResult {
  name: string;
  entry: SourceFileEntry;
  configFile: string;
  variable: string;
  /** The new secret, when one was written to .env.local. */
  secret?: string;
  /** Where the secret already was, when none was made. */
  secretFrom?: string;
  gitignore: InitFile;
}

/** The config entry for `add`'s flags; bad usage throws (exit 2). */
export function sourceEntryFromFlags(name: string, flags: AddFlags): SourceFileEntry {
  if (!SOURCE_NAME_PATTERN.test(name)) {
    throw new UsageError(`"${name}" is not a source name: lowercase letters, digits, "-" and "_", starting with a letter (at most 63)`, { fix: 'e.g. ablo source add app --url https://app.example.com/api/ablo --models tasks' });
  }
  if (flags.url !== undefined && flags.connector) {
    throw new UsageError('pass --url or --connector, not both', { fix: '--url: the engine calls the app at that URL; --connector: the app dials in to the engine (createSourceConnector), no URL.' });
  }
  if (flags.url === undefined && !flags.connector) {
    throw new UsageError('pass --url <the app\'s endpoint> or --connector', { fix: `e.g. ablo source add ${name} --url http://127.0.0.1:3000/api/ablo --models tasks (or --connector for a source that dials in).` });
  }
  const models = (flags.models ?? '').split(',').map((m) => m.trim()).filter((m) => m.length > 0);
  if (models.length === 0) throw new UsageError('--models is missing: which models does this source hold?', { fix: `e.g. ablo source add ${name} ${flags.connector ? '--connector' : `--url ${flags.url}`} --models tasks,projects` });
  const entry: SourceFileEntry = { models: [...new Set(models)], signingSecretEnv: flags.env ?? defaultSecretEnv(name) };
  if (flags.url !== undefined) {
    const url = parseSourceUrl(flags.url);
    if (url === undefined) throw new UsageError(`--url must be an http:// or https:// URL, got ${JSON.stringify(flags.url)}`, { fix: 'e.g. --url https://app.example.com/api/ablo' });
    entry.url = url;
  }
  if (!ENV_NAME_PATTERN.test(entry.signingSecretEnv)) {
    throw new UsageError(`--env must be an environment variable name, got ${JSON.stringify(flags.env)}`, { fix: `e.g. --env ${defaultSecretEnv(name)}` });
  }
  return { ...(entry.url !== undefined ? { url: entry.url } : {}), models: entry.models, signingSecretEnv: entry.signingSecretEnv };
}

/** `ablo source add`: the config entry, the secret (unless set already), `.env.local` git-ignored. */
export async function addSource(cwd: string, name: string, flags: AddFlags, env: Record<string, string | undefined>): Promise<AddResult> {
  const entry = sourceEntryFromFlags(name, flags);
  const configFile = await writeSourceEntry(cwd, name, entry);
  const variable = entry.signingSecretEnv;
  const local = readEnvLocal(cwd).values[variable];
  const result: AddResult = { name, entry, configFile, variable, gitignore: { path: '.gitignore', action: 'unchanged' } };
  if (local !== undefined && local.trim() !== '') result.secretFrom = ENV_LOCAL;
  else if (env[variable] !== undefined && env[variable]!.trim() !== '') result.secretFrom = 'environment';
  else {
    result.secret = generateSigningSecret();
    await writeEnvLocal(cwd, { [variable]: result.secret });
  }
  result.gitignore = await ensureGitignored(cwd, ['.env.local']);
  return result;
}

// ── list ─────────────────────────────────────────────────────────────────────

export interface SourceListing {
  name: string;
  url: string | null;
  models: string[];
  signingSecretEnv: string;
  secretSet: boolean;
  /** `environment`, `.env.local` or `.env`, when set. */
  secretFrom?: string;
  /** How many secrets the variable holds (2 during a rotation). */
  secrets: number;
  timeoutMs?: number;
  pollIntervalMs?: number;
}

export function listSources(config: ResolvedConfig, env: Record<string, string | undefined>): SourceListing[] {
  return Object.entries(configuredSources(config)).map(([name, s]) => {
    const found = lookupSecret(config, env, s.signingSecretEnv);
    return {
      name,
      url: s.url ?? null,
      models: s.models,
      signingSecretEnv: s.signingSecretEnv,
      secretSet: found !== undefined,
      ...(found ? { secretFrom: found.from } : {}),
      secrets: found ? found.value.split(/\s+/).filter(Boolean).length : 0,
      ...(s.timeoutMs !== undefined ? { timeoutMs: s.timeoutMs } : {}),
      ...(s.pollIntervalMs !== undefined ? { pollIntervalMs: s.pollIntervalMs } : {}),
    };
  });
}

// ── test ─────────────────────────────────────────────────────────────────────

export interface RequestCheck {
  request: 'events' | 'list';
  model?: string;
  ok: boolean;
  /** HTTP status; null when nothing answered. */
  status: number | null;
  ms: number;
  /** What went wrong, in plain words (absent when ok). */
  diagnosis?: string;
  /** Ok, with something to know (a handler the app leaves out on purpose). */
  note?: string;
}

export interface SourceCheck {
  name: string;
  url: string | null;
  /** Why it was not tested (a reverse-channel source). */
  skipped?: string;
  requests: RequestCheck[];
}

export const REVERSE_CHANNEL_SKIP = 'a reverse-channel source dials in to the engine: it cannot be tested from the CLI without the engine (run `ablo dev` and start the app\'s connector)';

/** The error code in a source's error body, when it has one. */
function errorCodeOf(body: string): { code: string; message?: string } | undefined {
  try {
    const parsed = sourceErrorBodySchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data.error : undefined;
  } catch {
    return undefined;
  }
}

/** What an answer to a test request means: ok, or a plain diagnosis. */
export function diagnose(answer: SourceAnswer, request: 'events' | 'list', model: string | undefined, source: { url: string; variable: string }): Omit<RequestCheck, 'request' | 'model' | 'ms'> {
  if (answer.kind === 'timeout') return { ok: false, status: null, diagnosis: `no answer within ${answer.ms} ms: the app is slow or stuck (raise "timeoutMs" if it is only slow)` };
  if (answer.kind === 'unreachable') {
    const why = answer.errno === 'ECONNREFUSED' ? 'connection refused' : answer.errno === 'ENOTFOUND' ? 'no such host' : answer.reason;
    return { ok: false, status: null, diagnosis: `unreachable: nothing answers at ${source.url} (${why}); is the app running there?` };
  }
  const { status, body } = answer;
  const what = request === 'events' ? 'events' : `list ${model}`;
  if (status === 401 || status === 403) {
    const refusal = errorCodeOf(body);
    if (refusal && /timestamp|tolerance|clock/i.test(`${refusal.code} ${refusal.message ?? ''}`)) {
      return { ok: false, status, diagnosis: `the app refused the request's timestamp: this machine's clock and the app's differ by more than the tolerance (5 minutes) (${refusal.message ?? refusal.code})` };
    }
    return { ok: false, status, diagnosis: `the app refused the signature: the secrets differ (set ${source.variable} in the app's environment to the value in .env.local)` };
  }
  const error = errorCodeOf(body);
  // Both handlers are optional: the engine works without them, with less (said here, not failed).
  if (error?.code === 'not_supported' || (status === 501 && error === undefined)) {
    return {
      ok: true,
      status,
      note:
        request === 'events'
          ? 'the app has no events handler: writes made outside Ablo reach the engine only when the app pushes them (POST /v1/source/<name>/events)'
          : `the app has no list handler for ${model}: the engine fills its cache of ${model} only from commits, load and events, not at start`,
    };
  }
  if (status === 404 && error === undefined) return { ok: false, status, diagnosis: `nothing at ${source.url} (404): check the path in "url"` };
  if (status >= 400) {
    const said = error ? `${error.code}${error.message ? `: ${error.message}` : ''}` : body.slice(0, 200).replace(/\s+/g, ' ').trim() || 'no body';
    return { ok: false, status, diagnosis: `the app answered ${status} to ${what} (${said})` };
  }
  if (status < 200 || status >= 300) return { ok: false, status, diagnosis: `the app answered ${status} to ${what}, expected 200` };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, status, diagnosis: `the answer to ${what} is not JSON: ${body.slice(0, 80).replace(/\s+/g, ' ')}` };
  }
  const schema = request === 'events' ? sourceEventsResponseSchema : sourceListResponseSchema;
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const expected = request === 'events' ? '{ events: [...], nextCursor: string | null }' : '{ rows: [...], nextCursor: string | null }';
    return { ok: false, status, diagnosis: `the answer to ${what} does not have the expected shape ${expected}: ${issue.path.join('.') || '(the body)'}: ${issue.message}` };
  }
  return { ok: true, status };
}

/** `ablo source test`: every source (or the named one) with a url, one events and one list per model. */
export async function testSources(config: ResolvedConfig, env: Record<string, string | undefined>, name?: string): Promise<SourceCheck[]> {
  const all = configuredSources(config);
  if (name !== undefined) sourceNamed(config, name);
  const names = name !== undefined ? [name] : Object.keys(all);
  if (names.length === 0) {
    throw new CliError(`${CONFIG_FILE} has no Data Source to test`, {
      code: 'no_sources_configured',
      fix: 'Add one: ablo source add app --url <the app\'s endpoint> --models tasks',
    });
  }
  const picked = { ...config, file: config.file && { ...config.file, config: { ...config.file.config, sources: Object.fromEntries(names.map((n) => [n, all[n]!])) } } };
  const resolved = resolveSources(picked, env);
  const checks: SourceCheck[] = [];
  for (const n of names) {
    const source = resolved[n]!;
    if (source.url === undefined) {
      checks.push({ name: n, url: null, skipped: REVERSE_CHANNEL_SKIP, requests: [] });
      continue;
    }
    const secrets = source.signingSecret as string[];
    const timeout = source.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
    const where = { url: source.url, variable: all[n]!.signingSecretEnv };
    const requests: RequestCheck[] = [];
    const events = await postSigned(source.url, { type: 'events', source: n, cursor: null, limit: 1 }, secrets, timeout);
    requests.push({ request: 'events', ms: events.ms, ...diagnose(events, 'events', undefined, where) });
    for (const model of source.models) {
      const list = await postSigned(source.url, { type: 'list', source: n, model, cursor: null, limit: 1 }, secrets, timeout);
      requests.push({ request: 'list', model, ms: list.ms, ...diagnose(list, 'list', model, where) });
    }
    checks.push({ name: n, url: source.url, requests });
  }
  return checks;
}

// ── rotate-secret ────────────────────────────────────────────────────────────

export interface RotateResult {
  name: string;
  variable: string;
  /** The new secret (absent with --finish). */
  secret?: string;
  /** How many secrets the variable holds now. */
  secrets: number;
  /** With --finish: how many older ones were dropped. */
  dropped?: number;
  /** The variable is also set in the process environment, which wins over .env.local. */
  shadowedByEnvironment: boolean;
}

/**
 * `ablo source rotate-secret`: `.env.local` gets `"<new> <old…>"` (newest
 * first); with `finish`, only the newest is kept.
 */
export async function rotateSecret(config: ResolvedConfig, name: string, env: Record<string, string | undefined>, finish = false): Promise<RotateResult> {
  const entry = sourceNamed(config, name);
  const variable = entry.signingSecretEnv;
  const local = readEnvLocal(config.cwd).values[variable];
  const current = (local ?? env[variable] ?? '').split(/\s+/).filter(Boolean);
  const shadowedByEnvironment = env[variable] !== undefined && env[variable]!.trim() !== '';
  if (finish) {
    if (current.length === 0) {
      throw new CliError(`${variable} is not set: there is no rotation to finish`, {
        code: 'source_secret_not_set',
        fix: `Run \`ablo source rotate-secret ${name}\` (without --finish) to make a secret.`,
        details: { source: name, variable },
      });
    }
    if (current.length > 1 || local === undefined) await writeEnvLocal(config.cwd, { [variable]: current[0]! });
    return { name, variable, secrets: 1, dropped: current.length - 1, shadowedByEnvironment };
  }
  const secret = generateSigningSecret();
  const next = [secret, ...current];
  await writeEnvLocal(config.cwd, { [variable]: next.join(' ') });
  return { name, variable, secret, secrets: next.length, shadowedByEnvironment };
}

// ── actions ──────────────────────────────────────────────────────────────────

function configFor(ctx: CliContext): ResolvedConfig {
  return resolveConfig({ cwd: ctx.cwd, env: ctx.env });
}

export async function add(opts: Record<string, unknown>, ctx: CliContext, args: unknown[]): Promise<number> {
  const name = String(args[0] ?? '');
  const r = await addSource(ctx.cwd, name, opts as AddFlags, ctx.env);
  ctx.line(`Added Data Source ${name} → ${r.entry.url ?? '(reverse channel)'} (${r.entry.models.join(', ')}) to ${CONFIG_FILE}.`);
  if (r.secret) {
    ctx.line(`Signing secret: ${r.variable} in ${ENV_LOCAL} (new):`);
    ctx.line('');
    ctx.line(`  ${r.secret}`);
    ctx.line('');
  } else {
    ctx.line(`Signing secret: ${r.variable}, already set in ${r.secretFrom === 'environment' ? 'the environment' : r.secretFrom} (kept).`);
  }
  if (r.gitignore.action !== 'unchanged') ctx.line(`.gitignore: ${r.gitignore.action}${r.gitignore.note ? ` (${r.gitignore.note})` : ''}.`);
  ctx.line('Next:');
  ctx.line(`  1. Put the same secret in the app's environment: ${r.variable}=<the value in ${r.secretFrom === 'environment' ? 'your environment' : ENV_LOCAL}>, read by dataSource({ signingSecret }).`);
  if (r.entry.url) ctx.line(`  2. Start the app, then check it answers signed requests: ablo source test ${name}`);
  else ctx.line(`  2. Start the app's connector (createSourceConnector); \`ablo dev\` shows it when it dials in.`);
  ctx.line('  3. Restart `ablo dev` so the engine sends these models to the source.');
  ctx.result({ name, ...r.entry, configFile: r.configFile, signingSecretEnv: r.variable, secretCreated: r.secret !== undefined, ...(r.secret ? { secret: r.secret } : {}) });
  return 0;
}

export async function list(_opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const c = colorsFor(ctx);
  const rows = listSources(configFor(ctx), ctx.env);
  if (rows.length === 0) {
    ctx.line(`(no Data Sources in ${CONFIG_FILE}; add one with \`ablo source add <name> --url <url> --models <models>\`)`);
  } else {
    const table = rows.map((r) => [
      r.name,
      r.url ?? 'reverse channel',
      r.models.join(','),
      r.signingSecretEnv,
      r.secretSet ? `set (${r.secretFrom}${r.secrets > 1 ? `, ${r.secrets} secrets: rotating` : ''})` : 'NOT SET',
    ]);
    const head = ['name', 'url', 'models', 'secret variable', 'secret'];
    const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    const fmt = (r: string[]) => r.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
    ctx.line(c.bold(fmt(head)));
    for (const r of table) ctx.line(r[4] === 'NOT SET' ? c.yellow(fmt(r)) : fmt(r));
  }
  ctx.result({ object: 'list', data: rows });
  return 0;
}

export async function test(_opts: Record<string, unknown>, ctx: CliContext, args: unknown[]): Promise<number> {
  const c = colorsFor(ctx);
  const name = args[0] === undefined ? undefined : String(args[0]);
  const checks = await testSources(configFor(ctx), ctx.env, name);
  let failed = 0;
  for (const check of checks) {
    ctx.line(`${c.bold(check.name)} → ${check.url ?? '(reverse channel)'}`);
    if (check.skipped) ctx.line(c.dim(`  skipped: ${check.skipped}`));
    for (const r of check.requests) {
      const what = r.request === 'events' ? 'events' : `list ${r.model}`;
      const status = r.status === null ? '---' : String(r.status);
      if (r.ok) ctx.line(`  ${c.green('ok  ')} ${what.padEnd(20)} ${status}  ${r.ms} ms${r.note ? `  ${c.dim(r.note)}` : ''}`);
      else {
        failed++;
        ctx.line(`  ${c.red('FAIL')} ${what.padEnd(20)} ${status}  ${r.ms} ms  ${r.diagnosis}`);
      }
    }
  }
  ctx.result({ ok: failed === 0, sources: checks });
  if (failed > 0) {
    ctx.note(`error: ${failed} request${failed === 1 ? '' : 's'} to the Data Source${checks.length === 1 ? '' : 's'} failed`);
    ctx.note('fix: see the diagnosis on each FAIL line, then run `ablo source test` again.');
    return 1;
  }
  return 0;
}

export async function rotate(opts: Record<string, unknown>, ctx: CliContext, args: unknown[]): Promise<number> {
  const name = String(args[0] ?? '');
  const finish = (opts as { finish?: boolean }).finish === true;
  const r = await rotateSecret(configFor(ctx), name, ctx.env, finish);
  if (finish) {
    ctx.line(r.dropped ? `${r.variable} in ${ENV_LOCAL}: kept the newest secret, dropped ${r.dropped} older.` : `${r.variable} in ${ENV_LOCAL} holds one secret: nothing to finish.`);
    ctx.line('Restart `ablo dev` (or the engine) so it signs with the new secret only.');
  } else {
    ctx.line(`New signing secret for ${name}, ${r.variable} in ${ENV_LOCAL} (the older one${r.secrets > 2 ? 's' : ''} kept after it):`);
    ctx.line('');
    ctx.line(`  ${r.secret}`);
    ctx.line('');
    ctx.line('Next:');
    ctx.line('  1. Restart `ablo dev` (or the engine): it signs with the new and the old secret.');
    ctx.line(`  2. Set ${r.variable} in the app's environment to the new secret and restart the app.`);
    ctx.line(`  3. Check: ablo source test ${name}`);
    ctx.line(`  4. Finish: ablo source rotate-secret ${name} --finish (keeps only the new one), then restart the engine.`);
  }
  if (r.shadowedByEnvironment) ctx.note(`note: ${r.variable} is also set in this shell's environment, which wins over ${ENV_LOCAL}: change it there too.`);
  ctx.result(r);
  return 0;
}
