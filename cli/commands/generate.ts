/**
 * `ablo generate`: typed client, OpenAPI 3.1 document and JSON Schema per model,
 * from the user's schema file.
 *
 *   <out>/openapi.json
 *   <out>/json-schema/<model>.json   { row, create, update }
 *   <out>/client.ts
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { generateOpenApi, generateTypedClient, modelJsonSchemas } from '../../src/codegen/index.js';
import { resolveConfig } from '../config.js';
import type { CliContext } from '../context.js';
import { writeFileAtomic } from '../fs.js';
import { displayPath, loadSchema } from '../loadSchema.js';

export type GenerateKind = 'openapi' | 'json-schema' | 'client';
export const GENERATE_KINDS: readonly GenerateKind[] = ['openapi', 'json-schema', 'client'];

export interface GenerateOptions {
  /** Directory the command runs in (config lookup, relative paths, display). */
  cwd: string;
  /** Schema file; default from ablo.config.json, else ablo.schema.ts. */
  schema?: string;
  /** Output directory; default from ablo.config.json, else ablo-generated. */
  out?: string;
  /** Which outputs. Empty or undefined = all. */
  kinds?: GenerateKind[];
}

export interface GeneratedFile {
  /** Path relative to cwd (POSIX separators), or absolute when outside cwd. */
  path: string;
  kind: GenerateKind;
  bytes: number;
}

export interface GenerateResult {
  /** Schema file, as displayed. */
  schema: string;
  schemaHash: string;
  /** Output directory, as displayed. */
  out: string;
  files: GeneratedFile[];
  /** Stale JSON Schema files of models no longer in the schema, deleted. */
  removed: string[];
}

function shown(absPath: string, cwd: string): string {
  return displayPath(absPath, cwd).split(sep).join('/');
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A JSON Schema file this command wrote earlier: exactly `{ row, create, update }`. */
async function isGeneratedModelFile(path: string): Promise<boolean> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
    return Object.keys(value).sort().join(',') === 'create,row,update';
  } catch {
    return false;
  }
}

/** Generate the requested outputs. Throws CliError on any failure. */
export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  const config = resolveConfig({ cwd: options.cwd, flags: { schema: options.schema, out: options.out } });
  const cwd = config.cwd;
  const loaded = await loadSchema(config.schema.value, { cwd });
  const serialized = loaded.serialized;
  const outDir = config.generateOut.value;
  const kinds = new Set<GenerateKind>(options.kinds?.length ? options.kinds : GENERATE_KINDS);

  const files: GeneratedFile[] = [];
  const removed: string[] = [];
  const write = async (absPath: string, content: string, kind: GenerateKind) => {
    const path = shown(absPath, cwd);
    await writeFileAtomic(absPath, content, path);
    files.push({ path, kind, bytes: Buffer.byteLength(content) });
  };

  if (kinds.has('openapi')) {
    await write(join(outDir, 'openapi.json'), json(generateOpenApi(serialized)), 'openapi');
  }

  if (kinds.has('json-schema')) {
    const dir = join(outDir, 'json-schema');
    const perModel = modelJsonSchemas(serialized);
    const names = Object.keys(perModel).sort();
    for (const name of names) await write(join(dir, `${name}.json`), json(perModel[name]), 'json-schema');
    // Models dropped from the schema: remove their old files (only files this command wrote).
    const keep = new Set(names.map((n) => `${n}.json`));
    const existing = await readdir(dir).catch(() => [] as string[]);
    for (const entry of existing.sort()) {
      if (!entry.endsWith('.json') || keep.has(entry)) continue;
      const abs = join(dir, entry);
      if (await isGeneratedModelFile(abs)) {
        await rm(abs, { force: true });
        removed.push(shown(abs, cwd));
      }
    }
  }

  if (kinds.has('client')) {
    await write(join(outDir, 'client.ts'), generateTypedClient(serialized), 'client');
  }

  return { schema: shown(loaded.path, cwd), schemaHash: serialized.hash, out: shown(outDir, cwd) || '.', files, removed };
}

interface GenerateFlags {
  schema?: string;
  out?: string;
  openapi?: boolean;
  jsonSchema?: boolean;
  client?: boolean;
}

/** Kinds selected by flags; none = all. */
export function kindsFromFlags(flags: GenerateFlags): GenerateKind[] {
  const kinds: GenerateKind[] = [];
  if (flags.openapi) kinds.push('openapi');
  if (flags.jsonSchema) kinds.push('json-schema');
  if (flags.client) kinds.push('client');
  return kinds.length ? kinds : [...GENERATE_KINDS];
}

export async function run(opts: Record<string, unknown>, ctx: CliContext): Promise<number> {
  const flags = opts as GenerateFlags;
  const result = await generate({ cwd: ctx.cwd, schema: flags.schema, out: flags.out, kinds: kindsFromFlags(flags) });
  for (const f of result.files) ctx.line(`wrote ${f.path}`);
  for (const r of result.removed) ctx.line(`removed ${r} (model no longer in the schema)`);
  ctx.result({
    schema: result.schema,
    schemaHash: result.schemaHash,
    out: result.out,
    files: result.files.map((f) => f.path),
    removed: result.removed,
  });
  return 0;
}

