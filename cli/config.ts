/**
 * Settings resolution for every command.
 *
 * Order (first that has a value wins): command-line flag, the process
 * environment, `.env.local`, `.env`, `ablo.config.json` in the current
 * directory, built-in default. The environment and the env files only hold
 * connection settings (`ABLO_URL`, `ABLO_API_KEY`). Every resolved value
 * records where it came from, so commands can say
 * "schema ablo.schema.ts (from ablo.config.json)".
 *
 * `ablo.config.json`:
 *
 *     { "schema": "ablo.schema.ts", "url": "http://127.0.0.1:4100",
 *       "generate": { "out": "ablo-generated" }, "dev": { "port": 4100, "db": ".ablo/dev.db",
 *       "retention": { "changeLog": "7d", "idempotency": "24h" } },
 *       "cors": { "origins": ["https://app.example.com", "http://localhost:*"] },
 *       "rateLimits": { "commitsPerSecond": 20, "commitBurst": 40, "connections": 10 } }
 *
 * Paths in the file are relative to the directory that holds it. The API key
 * is never read from `ablo.config.json` (that file is meant to be committed).
 *
 * Env files are parsed here (no dependency): `KEY=VALUE` lines, optional
 * `export ` prefix, `#` comments, single- or double-quoted values (double
 * quotes understand `\n`), and `# comment` after an unquoted value.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { httpUrl } from './httpUrl.js';
import { CliError, UsageError } from './errors.js';
import type { PrincipalKind } from '../src/engine/auth/principal.js';
import type { RateLimitOptions } from '../src/engine/auth/rateLimits.js';
import { parseSourcesConfig, type SourcesFileConfig } from './sources.js';
import { LOCAL_DEV_ORIGINS, ORIGIN_PATTERN_EXAMPLES, originPatternProblem } from '../src/http/origins.js';

export const CONFIG_FILE = 'ablo.config.json';
export const DEFAULT_SCHEMA_FILE = 'ablo.schema.ts';
export const DEFAULT_GENERATE_OUT = 'ablo-generated';
export const DEFAULT_PORT = 4100;
export const DEFAULT_URL = `http://127.0.0.1:${DEFAULT_PORT}`;
export const DEFAULT_DEV_DB = '.ablo/dev.db';
/** Env files read for connection settings, first wins. */
export const ENV_FILES = ['.env.local', '.env'] as const;
export const URL_VAR = 'ABLO_URL';
export const KEY_VAR = 'ABLO_API_KEY';
export const DATABASE_URL_VAR = 'ABLO_DATABASE_URL';

/** The shape of `ablo.config.json`. Unknown keys are ignored (forward compatible). */
export interface AbloConfigFile {
  $schema?: string;
  /** Path of the schema module. */
  schema?: string;
  /** Engine URL (after flags, ABLO_URL, .env.local and .env). */
  url?: string;
  generate?: {
    /** Output directory of `ablo generate`. */
    out?: string;
  };
  /** Postgres connection string: the engine runs on Postgres instead of the SQLite file (ABLO_DATABASE_URL, --database-url win). */
  databaseUrl?: string;
  /**
   * Browser origins allowed to call the engine (`ablo dev` and `ablo start`): exact origins, `http://localhost:*`
   * (any port) or `"*"`. Without it `ablo dev` allows localhost, 127.0.0.1 and [::1] on any port, `ablo start` none.
   */
  cors?: { origins: string[] };
  /**
   * Rate limits per credential (`ablo dev` and `ablo start`; docs/auth.md "Rate limits"): commits per second, burst,
   * sync connections, and which credential kinds are limited (default session tokens and restricted keys);
   * `false` turns them off.
   */
  rateLimits?: RateLimitOptions | false;
  /**
   * Data Source mode (docs/data-source.md "Configuration"): models whose system of record is the app's own
   * endpoint, by source name. The signing secret is read from `signingSecretEnv` in the environment or
   * `.env.local`, never from this file (cli/sources.ts).
   */
  sources?: SourcesFileConfig;
  dev?: {
    /** Port of `ablo dev`. */
    port?: number;
    /** SQLite file of `ablo dev`. */
    db?: string;
    /**
     * How long `ablo dev`'s engine keeps the change log and idempotency
     * records: durations like "7d", "24h", "30m", "45s", "500ms" (or a number
     * of ms); parsed to ms. See docs/engine.md "Retention".
     */
    retention?: { changeLogMs?: number; idempotencyMs?: number };
  };
}

/** `env-file` = `.env.local` or `.env` in the current directory. */
export type SettingSource = 'flag' | 'env' | 'env-file' | 'config' | 'default';

export interface Setting<T> {
  value: T;
  source: SettingSource;
  /** The flag, variable or config key that supplied it, e.g. `--schema`, `ablo.config.json#schema`. */
  origin: string;
}

export interface LoadedConfigFile {
  /** Absolute path of the file. */
  path: string;
  config: AbloConfigFile;
}

export interface ResolveOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  /** Flags as commander parsed them (undefined = not given). */
  flags?: {
    schema?: string;
    out?: string;
    url?: string;
    apiKey?: string;
    port?: string | number;
    db?: string;
    databaseUrl?: string;
  };
}

export interface ResolvedConfig {
  cwd: string;
  /** The config file, when there is one. */
  file?: LoadedConfigFile;
  /** Absolute path of the schema module. */
  schema: Setting<string>;
  /** Absolute path of the `ablo generate` output directory. */
  generateOut: Setting<string>;
  /** Engine base URL, without a trailing slash. */
  url: Setting<string>;
  /** API key, when one is configured anywhere. */
  apiKey?: Setting<string>;
  /** `ablo dev` port. */
  devPort: Setting<number>;
  /** `ablo dev` SQLite file (absolute). */
  devDb: Setting<string>;
  /** Postgres connection string, when one is configured (`--database-url`, ABLO_DATABASE_URL, env files, `databaseUrl` in the config file). */
  databaseUrl?: Setting<string>;
  /** Browser origins `ablo dev` allows: `cors.origins` in ablo.config.json, else localhost on any port (LOCAL_DEV_ORIGINS). */
  devCorsOrigins: Setting<readonly string[]>;
  /** Rate limits from `ablo.config.json`, when it sets them; the engine's defaults otherwise. */
  rateLimits?: RateLimitOptions | false;
  /** `ablo dev` retention from `ablo.config.json` (ms), when it sets any; the engine's defaults otherwise. */
  devRetention?: { changeLogMs?: number; idempotencyMs?: number };
  /** Env files that exist, parsed (`.env.local` first). */
  envFiles: LoadedEnvFile[];
}

export interface LoadedEnvFile {
  /** Absolute path. */
  path: string;
  /** File name (`.env.local`). */
  name: string;
  values: Record<string, string>;
}

/** The first candidate that has a value. The last candidate should be the default. */
export function firstSetting<T>(...candidates: Array<Setting<T | undefined> | undefined>): Setting<T> {
  for (const c of candidates) if (c && c.value !== undefined && c.value !== '') return c as Setting<T>;
  throw new Error('firstSetting: no candidate had a value (missing default)');
}

function lineColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return { line, column };
}

function configError(path: string, what: string, details: Record<string, unknown> = {}): CliError {
  return new CliError(`${CONFIG_FILE}: ${what}`, {
    code: 'config_invalid',
    fix: `Edit ${CONFIG_FILE} (expected shape: { "schema": "ablo.schema.ts", "url": "http://127.0.0.1:4100", "generate": { "out": "ablo-generated" }, "dev": { "port": 4100, "db": ".ablo/dev.db" } }).`,
    details: { file: path, ...details },
  });
}

function expectString(path: string, value: unknown, key: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    throw configError(path, `"${key}" must be a non-empty string, got ${JSON.stringify(value)}.`, { key });
  }
  return value;
}

/** Parse and check a config file's text. Throws CliError naming the file and the key or position. */
export function parseConfigText(text: string, path: string): AbloConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /at position (\d+)/.exec(msg);
    const where = pos ? lineColumn(text, Number(pos[1])) : undefined;
    const at = where ? ` at line ${where.line}, column ${where.column}` : '';
    throw configError(path, `not valid JSON${at}: ${msg.replace(/\s*(in JSON )?at position \d+.*$/, '')}`, { ...where });
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(path, 'must contain a JSON object.');
  }
  const obj = raw as Record<string, unknown>;
  const config: AbloConfigFile = {};
  const schema = expectString(path, obj.schema, 'schema');
  if (schema !== undefined) config.schema = schema;
  if (obj.generate !== undefined) {
    if (!obj.generate || typeof obj.generate !== 'object' || Array.isArray(obj.generate)) {
      throw configError(path, '"generate" must be an object, e.g. { "out": "ablo-generated" }.', { key: 'generate' });
    }
    const out = expectString(path, (obj.generate as Record<string, unknown>).out, 'generate.out');
    config.generate = out === undefined ? {} : { out };
  }
  const databaseUrl = expectString(path, obj.databaseUrl, 'databaseUrl');
  if (databaseUrl !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
      throw configError(path, `"databaseUrl" must be a postgres:// connection string, got ${JSON.stringify(databaseUrl)}.`, { key: 'databaseUrl' });
    }
    config.databaseUrl = databaseUrl;
  }
  const url = expectString(path, obj.url, 'url');
  if (url !== undefined) {
    if (!parseEngineUrls(url)) throw configError(path, `"url" must be an http:// or https:// URL, got ${JSON.stringify(url)}.`, { key: 'url' });
    config.url = url;
  }
  if (obj.apiKey !== undefined) {
    throw new CliError(`${CONFIG_FILE}: "apiKey" is not read from this file (it is meant to be committed).`, {
      code: 'config_invalid',
      fix: `Remove "apiKey" from ${CONFIG_FILE} and put ABLO_API_KEY=... in .env.local instead.`,
      details: { file: path, key: 'apiKey' },
    });
  }
  if (obj.dev !== undefined) {
    if (!obj.dev || typeof obj.dev !== 'object' || Array.isArray(obj.dev)) {
      throw configError(path, '"dev" must be an object, e.g. { "port": 4100, "db": ".ablo/dev.db" }.', { key: 'dev' });
    }
    const dev = obj.dev as Record<string, unknown>;
    config.dev = {};
    if (dev.port !== undefined) {
      if (typeof dev.port !== 'number' || !isPort(dev.port)) {
        throw configError(path, `"dev.port" must be a whole number from 0 to 65535, got ${JSON.stringify(dev.port)}.`, { key: 'dev.port' });
      }
      config.dev.port = dev.port;
    }
    const db = expectString(path, dev.db, 'dev.db');
    if (db !== undefined) config.dev.db = db;
    if (dev.retention !== undefined) config.dev.retention = parseRetention(path, dev.retention);
  }
  if (obj.cors !== undefined) config.cors = { origins: parseCorsOrigins(path, obj.cors) };
  if (obj.rateLimits !== undefined) config.rateLimits = parseRateLimits(path, obj.rateLimits);
  if (obj.sources !== undefined) config.sources = parseSourcesConfig(path, obj.sources);
  return config;
}

const RATE_LIMIT_NUMBERS = ['commitsPerSecond', 'commitBurst', 'connections'] as const;
const PRINCIPAL_KINDS = ['secret', 'restricted', 'session'] as const;

/** `rateLimits`: false, or positive numbers and a list of credential kinds; anything else is named with how to write it. */
function parseRateLimits(path: string, raw: unknown): RateLimitOptions | false {
  if (raw === false) return false;
  const example = '"rateLimits": { "commitsPerSecond": 20, "commitBurst": 40, "connections": 10, "kinds": ["session", "restricted"] } (or false)';
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw configError(path, `"rateLimits" must be an object or false. Write e.g. ${example}.`, { key: 'rateLimits' });
  const obj = raw as Record<string, unknown>;
  const out: { -readonly [K in keyof RateLimitOptions]: RateLimitOptions[K] } = {};
  for (const name of RATE_LIMIT_NUMBERS) {
    const v = obj[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
      throw configError(path, `"rateLimits.${name}" must be a positive number, got ${JSON.stringify(v)}.`, { key: `rateLimits.${name}` });
    }
    out[name] = v;
  }
  if (obj.kinds !== undefined) {
    const kinds = obj.kinds;
    if (!Array.isArray(kinds) || !kinds.every((k) => (PRINCIPAL_KINDS as readonly unknown[]).includes(k))) {
      throw configError(path, `"rateLimits.kinds" must be a list of ${PRINCIPAL_KINDS.map((k) => `"${k}"`).join(', ')}, got ${JSON.stringify(kinds)}.`, {
        key: 'rateLimits.kinds',
      });
    }
    out.kinds = kinds as PrincipalKind[];
  }
  return out;
}

/** `cors.origins`: a list of origin patterns (src/http/origins.ts); a bad one is named with why and how to write it. */
function parseCorsOrigins(path: string, raw: unknown): string[] {
  const origins = raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>).origins : undefined;
  if (!Array.isArray(origins)) {
    throw new CliError(`${CONFIG_FILE}: "cors" must be an object with an "origins" list, got ${JSON.stringify(raw)}.`, {
      code: 'config_invalid',
      fix: `Write e.g. "cors": { "origins": ["https://app.example.com", "http://localhost:*"] } in ${CONFIG_FILE}.`,
      details: { file: path, key: 'cors' },
    });
  }
  origins.forEach((o, i) => {
    const problem = originPatternProblem(o);
    if (problem === undefined) return;
    throw new CliError(`${CONFIG_FILE}: "cors.origins[${i}]" ${JSON.stringify(o)} is not a usable origin: ${problem}.`, {
      code: 'config_invalid',
      fix: `Write each origin as ${ORIGIN_PATTERN_EXAMPLES}: scheme://host[:port], no path.`,
      details: { file: path, key: `cors.origins[${i}]` },
    });
  });
  return origins as string[];
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "7d", "24h", "30m", "45s", "500ms" (or a positive number of ms) in ms; undefined when it is neither. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? Math.floor(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  if (!m) return undefined;
  const ms = Math.floor(Number(m[1]) * DURATION_UNITS[m[2]!]!);
  return ms > 0 ? ms : undefined;
}

function parseRetention(path: string, raw: unknown): { changeLogMs?: number; idempotencyMs?: number } {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw configError(path, '"dev.retention" must be an object, e.g. { "changeLog": "7d", "idempotency": "24h" }.', { key: 'dev.retention' });
  }
  const r = raw as Record<string, unknown>;
  const out: { changeLogMs?: number; idempotencyMs?: number } = {};
  for (const [key, field] of [
    ['changeLog', 'changeLogMs'],
    ['idempotency', 'idempotencyMs'],
  ] as const) {
    if (r[key] === undefined) continue;
    const ms = parseDuration(r[key]);
    if (ms === undefined) {
      throw configError(path, `"dev.retention.${key}" must be a duration like "7d", "24h", "30m" or a positive number of ms, got ${JSON.stringify(r[key])}.`, {
        key: `dev.retention.${key}`,
      });
    }
    out[field] = ms;
  }
  return out;
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 65535;
}


/** An engine URL without a trailing slash, or undefined when it is not http(s). */
export function parseEngineUrl(text: string): string | undefined {
  const u = httpUrl(text);
  if (!u) return undefined;
  if (u.search || u.hash || u.username || u.password) return undefined;
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * One engine URL, or several engines of one database separated by commas (`http://a:4100,http://b:4100`,
 * which the SDK and the CLI fail over between), normalised and joined by commas; undefined when one is not http(s).
 */
export function parseEngineUrls(text: string): string | undefined {
  const urls = text.split(',').map((u) => u.trim()).filter(Boolean).map(parseEngineUrl);
  if (urls.length === 0 || urls.some((u) => u === undefined)) return undefined;
  return urls.join(',');
}

// ---------------------------------------------------------------------------
// Env files

/** Parse the text of a `.env` file. Later assignments of a key win. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const raw of lines) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(raw);
    if (!m) continue;
    const key = m[1]!;
    let value = m[2]!;
    const quote = value[0];
    if (quote === '"' || quote === "'" || quote === '`') {
      const end = value.indexOf(quote, 1);
      if (end !== -1) {
        value = value.slice(1, end);
        if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r').replace(/\\t/g, '\t').replace(/\\"/g, '"');
      } else value = value.trim();
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    out[key] = value;
  }
  return out;
}

/** Read the env files that exist in `cwd` (`.env.local`, then `.env`). */
export function readEnvFiles(cwd: string): LoadedEnvFile[] {
  const files: LoadedEnvFile[] = [];
  for (const name of ENV_FILES) {
    const path = join(cwd, name);
    if (!existsSync(path)) continue;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new CliError(`${name}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, {
        code: 'env_file_unreadable',
        fix: `Check the permissions of ${path}.`,
        details: { file: path },
        cause: err,
      });
    }
    files.push({ path, name, values: parseDotenv(text) });
  }
  return files;
}

function quoteEnvValue(value: string): string {
  return /^[A-Za-z0-9_./:@+-]*$/.test(value) ? value : JSON.stringify(value);
}

/**
 * `text` with `values` set: an existing `KEY=` line is replaced in place
 * (keeping its `export ` prefix), a new key is appended. Other lines, comments
 * and order are kept.
 */
export function setDotenvValues(text: string, values: Record<string, string>): string {
  const pending = new Map(Object.entries(values));
  const lines = text.length ? text.split('\n') : [];
  const out = lines.map((line) => {
    const m = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)(\s*=)/.exec(line);
    if (!m || !pending.has(m[2]!)) return line;
    const value = pending.get(m[2]!)!;
    pending.delete(m[2]!);
    return `${m[1]}${m[2]}=${quoteEnvValue(value)}`;
  });
  if (pending.size) {
    if (out.length && out[out.length - 1] === '') out.pop();
    for (const [k, v] of pending) out.push(`${k}=${quoteEnvValue(v)}`);
    out.push('');
  }
  return out.join('\n');
}

/** Read `ablo.config.json` from `cwd`, if there is one. */
export function readConfigFile(cwd: string): LoadedConfigFile | undefined {
  const path = join(cwd, CONFIG_FILE);
  if (!existsSync(path)) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`${CONFIG_FILE}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, {
      code: 'config_unreadable',
      fix: `Check the permissions of ${path}.`,
      details: { file: path },
      cause: err,
    });
  }
  return { path, config: parseConfigText(text, path) };
}

function absolute(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

function fromEnvFiles(files: LoadedEnvFile[], key: string): Setting<string | undefined> | undefined {
  for (const f of files) {
    const v = f.values[key];
    if (v !== undefined && v !== '') return { value: v, source: 'env-file', origin: `${f.name}#${key}` };
  }
  return undefined;
}

/** Human label of where a setting came from: `--url`, `ABLO_URL`, `.env.local`, `ablo.config.json`, `default`. */
export function describeOrigin(setting: Setting<unknown>): string {
  if (setting.source === 'env-file' || setting.source === 'config') return setting.origin.split('#')[0]!;
  return setting.origin;
}

function checkedUrl(setting: Setting<string>): Setting<string> {
  const url = parseEngineUrls(setting.value);
  if (url) return { ...setting, value: url };
  const what = `engine URL ${JSON.stringify(setting.value)} (from ${describeOrigin(setting)}) is not an http:// or https:// URL`;
  if (setting.source === 'flag') throw new UsageError(what, { code: 'invalid_url', fix: 'Pass a URL like --url http://127.0.0.1:4100.' });
  throw new CliError(what, {
    code: 'invalid_url',
    fix: `Fix ${setting.origin.includes('#') ? setting.origin.replace('#', ' (') + ')' : setting.origin} to a URL like http://127.0.0.1:4100.`,
  });
}

export function checkedPort(value: string | number): number {
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!isPort(n)) throw new UsageError(`--port must be a whole number from 0 to 65535, got ${JSON.stringify(value)}.`, { code: 'invalid_port', fix: 'Pass e.g. --port 4100 (0 picks a free port).' });
  return n;
}

/** Resolve every setting the commands need. Reads `ablo.config.json` and the env files once. */
export function resolveConfig(options: ResolveOptions): ResolvedConfig {
  const cwd = resolve(options.cwd);
  const flags = options.flags ?? {};
  const env = options.env ?? {};
  const file = readConfigFile(cwd);
  const fileDir = file ? dirname(file.path) : cwd;
  const cfg = file?.config ?? {};
  const envFiles = readEnvFiles(cwd);

  const schema = firstSetting<string>(
    { value: flags.schema && absolute(cwd, flags.schema), source: 'flag', origin: '--schema' },
    { value: cfg.schema && absolute(fileDir, cfg.schema), source: 'config', origin: `${CONFIG_FILE}#schema` },
    { value: join(cwd, DEFAULT_SCHEMA_FILE), source: 'default', origin: 'default' },
  );
  const generateOut = firstSetting<string>(
    { value: flags.out && absolute(cwd, flags.out), source: 'flag', origin: '--out' },
    { value: cfg.generate?.out && absolute(fileDir, cfg.generate.out), source: 'config', origin: `${CONFIG_FILE}#generate.out` },
    { value: join(cwd, DEFAULT_GENERATE_OUT), source: 'default', origin: 'default' },
  );
  const url = checkedUrl(
    firstSetting<string>(
      { value: flags.url, source: 'flag', origin: '--url' },
      { value: env[URL_VAR], source: 'env', origin: URL_VAR },
      fromEnvFiles(envFiles, URL_VAR),
      { value: cfg.url, source: 'config', origin: `${CONFIG_FILE}#url` },
      { value: DEFAULT_URL, source: 'default', origin: 'default' },
    ),
  );
  const keyCandidates: Array<Setting<string | undefined> | undefined> = [
    { value: flags.apiKey, source: 'flag', origin: '--api-key' },
    { value: env[KEY_VAR], source: 'env', origin: KEY_VAR },
    fromEnvFiles(envFiles, KEY_VAR),
  ];
  const apiKey = keyCandidates.find((c) => c && c.value !== undefined && c.value !== '') as Setting<string> | undefined;
  const devPort = firstSetting<number>(
    { value: flags.port === undefined ? undefined : checkedPort(flags.port), source: 'flag', origin: '--port' },
    { value: cfg.dev?.port, source: 'config', origin: `${CONFIG_FILE}#dev.port` },
    { value: DEFAULT_PORT, source: 'default', origin: 'default' },
  );
  const devDb = firstSetting<string>(
    { value: flags.db && absolute(cwd, flags.db), source: 'flag', origin: '--db' },
    { value: cfg.dev?.db && absolute(fileDir, cfg.dev.db), source: 'config', origin: `${CONFIG_FILE}#dev.db` },
    { value: join(cwd, DEFAULT_DEV_DB), source: 'default', origin: 'default' },
  );
  const databaseUrl = [
    { value: flags.databaseUrl, source: 'flag', origin: '--database-url' } as Setting<string | undefined>,
    { value: env[DATABASE_URL_VAR], source: 'env', origin: DATABASE_URL_VAR } as Setting<string | undefined>,
    fromEnvFiles(envFiles, DATABASE_URL_VAR),
    { value: cfg.databaseUrl, source: 'config', origin: `${CONFIG_FILE}#databaseUrl` } as Setting<string | undefined>,
  ].find((c) => c && c.value !== undefined && c.value !== '') as Setting<string> | undefined;
  const devRetention = cfg.dev?.retention;
  const devCorsOrigins = firstSetting<readonly string[]>(
    { value: cfg.cors?.origins, source: 'config', origin: `${CONFIG_FILE}#cors.origins` },
    { value: LOCAL_DEV_ORIGINS, source: 'default', origin: 'default' },
  );
  return { cwd, file, schema, generateOut, url, ...(apiKey ? { apiKey } : {}), devPort, devDb, devCorsOrigins, ...(databaseUrl ? { databaseUrl } : {}), ...(devRetention ? { devRetention } : {}), ...(cfg.rateLimits !== undefined ? { rateLimits: cfg.rateLimits } : {}), envFiles };
}
