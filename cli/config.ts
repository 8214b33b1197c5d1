/**
 * Settings resolution for every command.
 *
 * Order (first that has a value wins): command-line flag, environment
 * (connection settings, added with the engine commands), `ablo.config.json` in
 * the current directory, built-in default. Every resolved value records where
 * it came from, so commands can say "schema ablo.schema.ts (from ablo.config.json)".
 *
 * `ablo.config.json`:
 *
 *     { "schema": "ablo.schema.ts", "generate": { "out": "ablo-generated" } }
 *
 * Paths in the file are relative to the directory that holds it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { CliError } from './errors.js';

export const CONFIG_FILE = 'ablo.config.json';
export const DEFAULT_SCHEMA_FILE = 'ablo.schema.ts';
export const DEFAULT_GENERATE_OUT = 'ablo-generated';

/** The shape of `ablo.config.json`. Unknown keys are ignored (forward compatible). */
export interface AbloConfigFile {
  $schema?: string;
  /** Path of the schema module. */
  schema?: string;
  generate?: {
    /** Output directory of `ablo generate`. */
    out?: string;
  };
}

export type SettingSource = 'flag' | 'env' | 'config' | 'default';

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
    type: 'config_error',
    fix: `Edit ${CONFIG_FILE} (expected shape: { "schema": "ablo.schema.ts", "generate": { "out": "ablo-generated" } }).`,
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
  return config;
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
      type: 'config_error',
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

/** Resolve every setting the commands need. Reads `ablo.config.json` once. */
export function resolveConfig(options: ResolveOptions): ResolvedConfig {
  const cwd = resolve(options.cwd);
  const flags = options.flags ?? {};
  const file = readConfigFile(cwd);
  const fileDir = file ? dirname(file.path) : cwd;
  const cfg = file?.config ?? {};

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
  return { cwd, file, schema, generateOut };
}
