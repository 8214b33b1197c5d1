/**
 * A serialized schema turned back into DSL source (`ablo.schema.ts`), as
 * `ablo pull --format ts` writes it.
 *
 * Round trip: `defineSchema` of the generated source serializes to the same
 * document, hash included. Every descriptor detail is written out: string and
 * number checks in their order, regex flags, date options, nullable /
 * optional / default, descriptions, relations and model options. Zod's
 * built-in formats are written as their factory (`z.uuid()`) when the stored
 * pattern is the factory's own, and as `z.stringFormat(name, /pattern/)`
 * otherwise. Field order follows the serialized form (sorted by name): the
 * original order in the source is not part of the schema.
 */
import { z } from 'zod';
import type { FieldDescriptor, ModelDescriptor, NumberCheck, SerializedSchema, StringCheck } from '../schema/descriptor.js';

export interface SchemaSourceOptions {
  /** Module the DSL is imported from (default `ablo/schema`). */
  importFrom?: string;
  /** Lines for the comment at the top (no comment when empty). */
  header?: string[];
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function key(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

/** A single-quoted string literal. */
function str(text: string): string {
  const body = JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'");
  return `'${body}'`;
}

function num(n: number): string {
  return Object.is(n, -0) ? '-0' : String(n);
}

/** A regex literal when it reads back the same, else `new RegExp(...)`. */
function regex(parts: { pattern: string; flags: string }): string {
  let ok = !/[\n\r\u2028\u2029]/.test(parts.pattern) && parts.pattern !== '';
  if (ok) {
    try {
      const r = new RegExp(parts.pattern, parts.flags);
      ok = r.source === parts.pattern && r.flags === [...parts.flags].sort().join('');
    } catch {
      ok = false;
    }
  }
  return ok ? `/${parts.pattern}/${parts.flags}` : `new RegExp(${str(parts.pattern)}, ${str(parts.flags)})`;
}

function sameRegex(a: { pattern: string; flags: string }, b: RegExp | undefined): boolean {
  return !!b && b.source === a.pattern && b.flags === a.flags;
}

/** Zod's format factories, by format name, with the expression that builds each. */
const FORMATS: Record<string, { expr: string; make: () => z.ZodType }> = {
  uuid: { expr: 'z.uuid()', make: () => z.uuid() },
  guid: { expr: 'z.guid()', make: () => z.guid() },
  cuid: { expr: 'z.cuid()', make: () => z.cuid() },
  cuid2: { expr: 'z.cuid2()', make: () => z.cuid2() },
  ulid: { expr: 'z.ulid()', make: () => z.ulid() },
  nanoid: { expr: 'z.nanoid()', make: () => z.nanoid() },
  xid: { expr: 'z.xid()', make: () => z.xid() },
  ksuid: { expr: 'z.ksuid()', make: () => z.ksuid() },
  ipv4: { expr: 'z.ipv4()', make: () => z.ipv4() },
  ipv6: { expr: 'z.ipv6()', make: () => z.ipv6() },
  cidrv4: { expr: 'z.cidrv4()', make: () => z.cidrv4() },
  cidrv6: { expr: 'z.cidrv6()', make: () => z.cidrv6() },
  e164: { expr: 'z.e164()', make: () => z.e164() },
  base64: { expr: 'z.base64()', make: () => z.base64() },
  base64url: { expr: 'z.base64url()', make: () => z.base64url() },
  emoji: { expr: 'z.emoji()', make: () => z.emoji() },
  hex: { expr: 'z.hex()', make: () => z.hex() },
  time: { expr: 'z.iso.time()', make: () => z.iso.time() },
  duration: { expr: 'z.iso.duration()', make: () => z.iso.duration() },
};

function patternOf(schema: z.ZodType): RegExp | undefined {
  return (schema as unknown as { _zod: { def: { pattern?: RegExp } } })._zod.def.pattern;
}

let defaultEmailPattern: RegExp | undefined;

/** A format check as a standalone Zod expression (usable as a base type or inside `.check()`). */
function formatExpr(c: Extract<StringCheck, { kind: 'email' | 'url' | 'format' }>): string {
  if (c.kind === 'email') {
    defaultEmailPattern ??= patternOf(z.email());
    return sameRegex(c, defaultEmailPattern) ? 'z.email()' : `z.email({ pattern: ${regex(c)} })`;
  }
  if (c.kind === 'url') {
    const opts: string[] = [];
    if (c.hostname) opts.push(`hostname: ${regex(c.hostname)}`);
    if (c.protocol) opts.push(`protocol: ${regex(c.protocol)}`);
    return opts.length ? `z.url({ ${opts.join(', ')} })` : 'z.url()';
  }
  const known = FORMATS[c.format];
  if (known && sameRegex(c, patternOf(known.make()))) return known.expr;
  return `z.stringFormat(${str(c.format)}, ${regex(c)})`;
}

function stringCheck(c: StringCheck): string {
  switch (c.kind) {
    case 'min_length':
      return `.min(${num(c.value)})`;
    case 'max_length':
      return `.max(${num(c.value)})`;
    case 'length':
      return `.length(${num(c.value)})`;
    case 'regex':
      return `.regex(${regex(c)})`;
    case 'starts_with':
      return `.startsWith(${str(c.value)})`;
    case 'ends_with':
      return `.endsWith(${str(c.value)})`;
    case 'includes':
      return `.includes(${str(c.value)})`;
    case 'lowercase':
      return '.lowercase()';
    case 'uppercase':
      return '.uppercase()';
    default:
      return `.check(${formatExpr(c)})`;
  }
}

function intExpr(format: string): string {
  return format === 'int32' ? 'z.int32()' : format === 'uint32' ? 'z.uint32()' : 'z.int()';
}

function numberCheck(c: NumberCheck): string {
  switch (c.kind) {
    case 'int':
      return c.format === 'safeint' ? '.int()' : `.check(${intExpr(c.format)})`;
    case 'min':
      return c.inclusive ? `.gte(${num(c.value)})` : `.gt(${num(c.value)})`;
    case 'max':
      return c.inclusive ? `.lte(${num(c.value)})` : `.lt(${num(c.value)})`;
    case 'multiple_of':
      return `.multipleOf(${num(c.value)})`;
  }
}

function baseSource(d: FieldDescriptor, indent: string): string {
  switch (d.type) {
    case 'string': {
      const checks = d.checks ?? [];
      const first = checks[0];
      // A leading format check becomes the base type: z.email().max(100).
      if (first && (first.kind === 'email' || first.kind === 'url' || first.kind === 'format')) {
        return formatExpr(first) + checks.slice(1).map(stringCheck).join('');
      }
      return `z.string()${checks.map(stringCheck).join('')}`;
    }
    case 'number': {
      const checks = d.checks ?? [];
      const first = checks[0];
      if (first && first.kind === 'int') return intExpr(first.format) + checks.slice(1).map(numberCheck).join('');
      return `z.number()${checks.map(numberCheck).join('')}`;
    }
    case 'boolean':
      return 'z.boolean()';
    case 'enum':
      return `z.enum([${d.values.map(str).join(', ')}])`;
    case 'date': {
      if (d.format === 'date') return 'z.iso.date()';
      const opts: string[] = [];
      if (d.offset) opts.push('offset: true');
      if (d.local) opts.push('local: true');
      if (d.precision !== undefined && d.precision !== null) opts.push(`precision: ${num(d.precision)}`);
      return opts.length ? `z.iso.datetime({ ${opts.join(', ')} })` : 'z.iso.datetime()';
    }
    case 'json':
      return 'z.json()';
    case 'array': {
      const checks = (d.checks ?? [])
        .map((c) => (c.kind === 'min_length' ? `.min(${num(c.value)})` : c.kind === 'max_length' ? `.max(${num(c.value)})` : `.length(${num(c.value)})`))
        .join('');
      return `z.array(${fieldSource(d.items, indent)})${checks}`;
    }
    case 'object': {
      const fn = d.unknownKeys === 'strict' ? 'z.strictObject' : d.unknownKeys === 'passthrough' ? 'z.looseObject' : 'z.object';
      return `${fn}(${fieldsBlock(d.fields, indent)})`;
    }
    case 'record':
      return `z.record(z.string(), ${fieldSource(d.values, indent)})`;
  }
}

/** A field as a Zod expression, wrappers included. */
export function fieldSource(d: FieldDescriptor, indent = ''): string {
  let s = baseSource(d, indent);
  if (d.nullable) s += '.nullable()';
  if (d.optional) s += '.optional()';
  if (d.default !== undefined) s += `.default(${typeof d.default === 'string' ? str(d.default) : JSON.stringify(d.default)})`;
  if (d.description !== undefined) s += `.describe(${str(d.description)})`;
  return s;
}

function fieldsBlock(fields: Record<string, FieldDescriptor>, indent: string): string {
  const names = Object.keys(fields);
  if (names.length === 0) return '{}';
  const inner = `${indent}  `;
  return `{\n${names.map((n) => `${inner}${key(n)}: ${fieldSource(fields[n]!, inner)},\n`).join('')}${indent}}`;
}

function modelSource(m: ModelDescriptor, indent: string, used: Set<string>): string {
  const inner = `${indent}  `;
  const args: string[] = [];
  const relNames = Object.keys(m.relations);
  const opts: string[] = [];
  if (m.options.syncGroupFormat !== undefined) {
    const f = m.options.syncGroupFormat;
    opts.push(`syncGroupFormat: ${f.length === 1 ? str(f[0]!) : `[${f.map(str).join(', ')}]`}`);
  }
  if (m.options.idPrefix !== undefined) opts.push(`idPrefix: ${str(m.options.idPrefix)}`);
  if (m.options.description !== undefined) opts.push(`description: ${str(m.options.description)}`);
  if (relNames.length || opts.length) {
    const rels = relNames.map((r) => {
      const rel = m.relations[r]!;
      used.add(rel.kind);
      return `${key(r)}: ${rel.kind}(${str(rel.model)}, ${str(rel.foreignKey)})`;
    });
    args.push(rels.length ? `{ ${rels.join(', ')} }` : '{}');
  }
  if (opts.length) args.push(`{ ${opts.join(', ')} }`);
  if (args.length === 0) return `model(${fieldsBlock(m.fields, indent)})`;
  args.unshift(fieldsBlock(m.fields, inner));
  return `model(\n${args.map((a) => `${inner}${a},\n`).join('')}${indent})`;
}

/** DSL source that defines `schema` equal to `serialized`. */
export function schemaSource(serialized: SerializedSchema, options: SchemaSourceOptions = {}): string {
  const used = new Set<string>(['defineSchema', 'model', 'z']);
  const models = Object.keys(serialized.models)
    .map((name) => `  ${key(name)}: ${modelSource(serialized.models[name]!, '  ', used)},\n`)
    .join('');
  const imports = [...used].sort();
  const header = options.header?.length ? `/**\n${options.header.map((l) => ` * ${l.replace(/\*\//g, '*\\/')}`.trimEnd()).join('\n')}\n */\n` : '';
  return `${header}import { ${imports.join(', ')} } from ${str(options.importFrom ?? 'ablo/schema')};

export const schema = defineSchema({
${models}});
`;
}
