/**
 * Load the user's schema module (`ablo.schema.ts`) directly, with no build step.
 *
 * The file is compiled on the fly by jiti. Its imports (`ablo/schema`, zod,
 * local files) resolve from the file's own directory, i.e. the user's project
 * and its `node_modules`, exactly as their app would see them. jiti's disk
 * cache is off (nothing is written into the project or shared between parallel
 * runs) and so is its module cache (a second load sees the edited file).
 *
 * The module must export the schema as `schema` (preferred) or as the default
 * export. A schema is recognised by shape (`kind: 'ablo.schema'` and a
 * `serialized` document), never by `instanceof`: the user's copy of ablo may
 * not be the copy running the CLI.
 *
 * A `.json` file is read as a serialized schema (what `ablo pull` writes).
 *
 * Every failure is a `CliError` that names the file (and line/column, model,
 * field where known) and says what to do.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { SerializedSchema } from '../src/schema/index.js';
import { CliError, isAbloErrorLike } from './errors.js';

/** The parts of a schema object the CLI relies on. */
export interface SchemaObjectLike {
  kind: 'ablo.schema';
  serialized: SerializedSchema;
  models?: Record<string, unknown>;
}

export interface LoadedSchema {
  /** Absolute path of the schema file. */
  path: string;
  /** Path as shown to the user (relative to cwd when inside it). */
  file: string;
  /** Which export held the schema (`json` for a serialized .json file). */
  exportName: 'schema' | 'default' | 'json';
  /** The schema object (absent for a .json file). */
  schema?: SchemaObjectLike;
  serialized: SerializedSchema;
}

export interface LoadSchemaOptions {
  /** Base for a relative path and for display. Default: process.cwd(). */
  cwd?: string;
}

export function isSchemaObject(value: unknown): value is SchemaObjectLike {
  if (!value || typeof value !== 'object') return false;
  const v = value as Partial<SchemaObjectLike>;
  return (
    v.kind === 'ablo.schema' &&
    !!v.serialized &&
    typeof v.serialized === 'object' &&
    typeof v.serialized.models === 'object' &&
    v.serialized.models !== null
  );
}

export function displayPath(absPath: string, cwd: string): string {
  const rel = relative(cwd, absPath);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : absPath;
}

const SUPPORTED_TYPES =
  'a supported type (string, number, boolean, enum, ISO date string, json, arrays; with nullable/optional/default); see docs/schema.md';

/**
 * Location `file:line:col` named in an error message or stack. Prefers the
 * given file, then a file in the user's project (next to the schema), then any
 * file; never node internals or node_modules.
 */
function findLocation(err: unknown, preferFile: string): { file: string; line: number; column: number } | undefined {
  const text = err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err);
  const re = /(?:^|[\s(])((?:file:\/\/)?\/[^\s:()'"]+):(\d+):(\d+)/gm;
  const hits: Array<{ file: string; line: number; column: number }> = [];
  for (const m of text.matchAll(re)) {
    const file = m[1]!.replace(/^file:\/\//, '');
    if (/[/\\]node_modules[/\\]/.test(file)) continue;
    hits.push({ file, line: Number(m[2]), column: Number(m[3]) });
  }
  const projectDir = dirname(preferFile) + sep;
  return hits.find((h) => h.file === preferFile) ?? hits.find((h) => h.file.startsWith(projectDir)) ?? hits[0];
}

/** Native SyntaxError stacks start with `/path/file.js:LINE`. */
function nativeSyntaxLocation(err: Error): { file: string; line: number } | undefined {
  const m = /^(\/[^\n:]+):(\d+)\n/.exec(err.stack ?? '');
  return m ? { file: m[1]!, line: Number(m[2]) } : undefined;
}

/** Turn whatever importing the module threw into a CliError naming the file. */
export function classifyLoadError(err: unknown, absPath: string, cwd: string): CliError {
  const file = displayPath(absPath, cwd);

  if (isAbloErrorLike(err)) {
    const model = err.model;
    const field = err.field;
    const target = model && field ? `field "${field}" of model "${model}"` : model ? `model "${model}"` : undefined;
    return new CliError(`${file}: ${err.message}`, {
      from: err,
      fix: err.code === 'unsupported_type' && target ? `In ${file}, change ${target} to ${SUPPORTED_TYPES}.` : `Fix the schema in ${file} as the message says, then run the command again.`,
      details: { file: absPath, ...(model ? { model } : {}), ...(field ? { field } : {}) },
      cause: err,
    });
  }

  const e = err instanceof Error ? err : new Error(String(err));
  const message = e.message ?? '';

  // jiti/babel parse errors: "ParseError: Unexpected token \n /abs/file.ts:2:69"
  const isParse = /^(ParseError|SyntaxError):/.test(message) || e.name === 'SyntaxError';
  if (isParse) {
    const loc = findLocation(e, absPath) ?? nativeSyntaxLocation(e);
    const where = loc ? `${displayPath(loc.file, cwd)}:${loc.line}${'column' in loc ? `:${loc.column}` : ''}` : file;
    const reason = message
      .replace(/^(ParseError|SyntaxError):\s*/, '')
      .replace(/\s*\n\s*\/\S+:\d+:\d+\s*$/, '')
      .split('\n')[0]!
      .trim();
    const inOther = loc && loc.file !== absPath ? ` (imported by ${file})` : '';
    return new CliError(`syntax error in ${where}${inOther}: ${reason || 'cannot parse the file'}`, {
      code: 'schema_syntax_error',
      fix: `Fix the syntax at ${where}, then run the command again.`,
      details: { file: loc?.file ?? absPath, ...(loc ? { line: loc.line } : {}), ...(loc && 'column' in loc ? { column: loc.column } : {}) },
      cause: err,
    });
  }

  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
    const notExported = /Package subpath '\.\/?([^']*)' is not defined by "exports" in .*?[/\\]node_modules[/\\]((?:@[^/\\]+[/\\])?[^/\\]+)[/\\]package\.json/.exec(message);
    const spec = /Cannot find (?:module|package) '([^']+)'/.exec(message)?.[1] ?? (notExported ? [notExported[2], notExported[1]].filter(Boolean).join('/') : undefined);
    const from = /Require stack:\n- ([^\n]+)/.exec(message)?.[1] ?? absPath;
    const pkg = spec && !spec.startsWith('.') && !spec.startsWith('/') ? spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/') : undefined;
    const why = notExported ? `the installed "${pkg}" package does not export it` : `imported by ${displayPath(from, cwd)}`;
    const fix = notExported
      ? `Reinstall or update "${pkg}" in this project ("npm install ${pkg}@latest"), then run the command again.`
      : pkg === 'ablo'
        ? 'Install ablo in this project ("npm install ablo"), then run the command again.'
        : pkg
          ? `Install the package in this project ("npm install ${pkg}") or fix the import in ${displayPath(from, cwd)}.`
          : `Check the import path in ${displayPath(from, cwd)}.`;
    return new CliError(`${file}: cannot load ${spec ? `"${spec}"` : 'an import'} (${why}).`, {
      code: 'schema_import_not_found',
      fix,
      details: { file: absPath, ...(spec ? { specifier: spec } : {}) },
      cause: err,
    });
  }

  // Anything else thrown while the module ran.
  const loc = findLocation(e, absPath);
  const where = loc ? ` at ${displayPath(loc.file, cwd)}:${loc.line}:${loc.column}` : '';
  const firstLine = message.split('\n')[0] || e.name;
  return new CliError(`${file} threw while loading${where}: ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${firstLine}`, {
    code: 'schema_load_failed',
    fix: `Fix the error in ${loc ? displayPath(loc.file, cwd) : file}; rerun with --debug for the stack trace.`,
    details: { file: absPath, ...(loc ? { line: loc.line, column: loc.column } : {}) },
    cause: err,
  });
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') {
    const kind = (value as { kind?: unknown }).kind;
    if (typeof kind === 'string') return `an object of kind "${kind}"`;
    return 'a plain object';
  }
  return `a ${typeof value}`;
}

/** Whether an object looks like the models map one would pass to defineSchema. */
function looksLikeModelMap(value: unknown): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.values(value as Record<string, unknown>);
  return entries.length > 0 && entries.every((m) => !!m && typeof m === 'object' && (m as { kind?: unknown }).kind === 'ablo.model');
}

/** Find the schema among a module's exports. */
export function pickSchemaExport(mod: unknown, absPath: string, cwd: string): { exportName: 'schema' | 'default'; schema: SchemaObjectLike } {
  const file = displayPath(absPath, cwd);
  const exportsObj = (mod && typeof mod === 'object' ? mod : {}) as Record<string, unknown>;
  const names = Object.keys(exportsObj).filter((k) => k !== '__esModule');
  const hasSchema = names.includes('schema') && exportsObj.schema !== undefined;
  const hasDefault = names.includes('default') && exportsObj.default !== undefined;

  if (!hasSchema && !hasDefault) {
    const listing = names.length ? `it exports: ${names.join(', ')}` : 'it exports nothing';
    return failNoExport(file, absPath, listing, names);
  }
  const exportName = hasSchema ? 'schema' : 'default';
  const value = exportsObj[exportName];
  if (isSchemaObject(value)) return { exportName, schema: value };

  const shown = exportName === 'schema' ? 'the "schema" export' : 'the default export';
  const hint = looksLikeModelMap(value)
    ? `Wrap the models with defineSchema: export const schema = defineSchema({ ... }) (from 'ablo/schema').`
    : `Build it with defineSchema from 'ablo/schema': export const schema = defineSchema({ tasks: model({ ... }) }).`;
  throw new CliError(`${file}: ${shown} is not an Ablo schema (it is ${describeValue(value)}).`, {
    code: 'schema_not_a_schema',
    fix: hint,
    details: { file: absPath, export: exportName },
  });
}

function failNoExport(file: string, absPath: string, listing: string, names: string[]): never {
  throw new CliError(`${file} has no "schema" export and no default export (${listing}).`, {
    code: 'schema_no_export',
    fix: `Export the schema from ${file}: export const schema = defineSchema({ ... }).`,
    details: { file: absPath, exports: names },
  });
}

async function loadJsonSchema(absPath: string, cwd: string): Promise<LoadedSchema> {
  const file = displayPath(absPath, cwd);
  const { parseSerializedSchema } = await import('../src/schema/index.js');
  try {
    const serialized = parseSerializedSchema(readFileSync(absPath, 'utf8'));
    return { path: absPath, file, exportName: 'json', serialized };
  } catch (err) {
    throw classifyLoadError(err, absPath, cwd);
  }
}

/** Load and check the schema module at `schemaPath`. */
export async function loadSchema(schemaPath: string, options: LoadSchemaOptions = {}): Promise<LoadedSchema> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const absPath = resolve(cwd, schemaPath);
  const file = displayPath(absPath, cwd);

  if (!existsSync(absPath)) {
    throw new CliError(`schema file not found: ${file}`, {
      code: 'schema_not_found',
      fix: 'Run "ablo init" to create ablo.schema.ts, or pass --schema <file> (or set "schema" in ablo.config.json).',
      details: { file: absPath },
    });
  }
  if (statSync(absPath).isDirectory()) {
    throw new CliError(`schema path is a directory, not a file: ${file}`, {
      code: 'schema_not_a_file',
      fix: 'Pass the schema module itself, e.g. --schema ablo.schema.ts.',
      details: { file: absPath },
    });
  }
  if (absPath.endsWith('.json')) return loadJsonSchema(absPath, cwd);

  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, {
    fsCache: false,
    moduleCache: false,
    interopDefault: false,
  });
  let mod: unknown;
  try {
    mod = await jiti.import(absPath);
  } catch (err) {
    throw classifyLoadError(err, absPath, cwd);
  }
  const { exportName, schema } = pickSchemaExport(mod, absPath, cwd);
  return { path: absPath, file, exportName, schema, serialized: schema.serialized };
}
