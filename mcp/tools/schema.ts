/**
 * `ablo_schema`: the models this server exposes — fields (type, required,
 * default, constraints, description), relations and sync groups — read live,
 * with a note when the engine's schema changed since the tools were made.
 */
import type { FieldDescriptor, ModelDescriptor } from '../../src/schema/descriptor.js';
import { isRequiredOnCreate } from '../../src/schema/descriptor.js';
import { defaultIdPrefix } from '../../src/schema/serialize.js';
import { schemaArgs } from '../inputs.js';
import { SCHEMA_OUTPUT } from '../outputs.js';
import { ok } from './results.js';
import type { GlobalToolKind } from './types.js';

export const schemaTool: GlobalToolKind = {
  name: 'ablo_schema',
  write: false,
  needs: ['read'],
  define: (session) => ({
    title: 'Describe the schema',
    description: 'The models this server exposes: fields (type, required, default, constraints, description), relations and sync groups.',
    input: schemaArgs(session.models),
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    output: SCHEMA_OUTPUT,
    errorContext: () => ({}),
    run: async (args) => {
      const live = await session.api.schema();
      const current = live.schema ?? session.serialized;
      const wanted = (args.models as string[] | undefined) ?? session.models;
      const out: Record<string, unknown> = {};
      const lines: string[] = [];
      for (const m of wanted) {
        const d = current.models[m];
        if (!d) {
          lines.push(`${m}: no longer in the engine's schema.`);
          continue;
        }
        const described = describeModel(m, d);
        lines.push(...described.lines);
        out[m] = described.model;
      }
      lines.push('Every row also has id, createdAt, updatedAt (set by the engine) and syncId (pass it as readAt on writes).');
      const changed = live.hash !== (session.doc.hash ?? null);
      if (changed) lines.push("Note: the engine's schema changed since these tools were made; the server is updating them (tools/list_changed follows): list the tools again.");
      return ok(lines.join('\n'), { models: out, hash: live.hash, version: live.version, ...(changed ? { changedSinceStart: true } : {}) });
    },
  }),
};

/** One model as `ablo_schema` describes it: the JSON entry and its text lines (also the `ablo://models/<name>` resource). */
export function describeModel(name: string, d: ModelDescriptor): { model: Record<string, unknown>; lines: string[] } {
  const groups = d.options.syncGroupFormat ?? ['default'];
  const prefix = d.options.idPrefix ?? defaultIdPrefix(name);
  const lines = [`${name}${d.options.description ? ` — ${d.options.description}` : ''} (ids ${prefix}_…; sync groups ${groups.join(', ')})`];
  const fields: Record<string, unknown> = {};
  for (const [f, fd] of Object.entries(d.fields)) {
    fields[f] = schemaFieldInfo(fd);
    lines.push(describeFieldText(f, fd));
  }
  const relations: Record<string, unknown> = {};
  for (const [r, rd] of Object.entries(d.relations)) {
    relations[r] = rd;
    lines.push(`  relation ${r}: ${rd.kind} ${rd.model} via ${rd.foreignKey}`);
  }
  return { model: { idPrefix: prefix, syncGroups: groups, fields, relations, ...(d.options.description ? { description: d.options.description } : {}) }, lines };
}

function describeFieldText(name: string, d: FieldDescriptor): string {
  const parts: string[] = [];
  const type = d.type === 'enum' ? `enum ${d.values.join('|')}` : d.type === 'date' ? (d.format === 'date' ? 'date (YYYY-MM-DD)' : 'date-time (ISO)') : d.type === 'array' ? `array of ${d.items.type}` : d.type;
  parts.push(type);
  if (isRequiredOnCreate(d)) parts.push('required');
  if (d.nullable) parts.push('nullable');
  if (d.optional) parts.push('optional');
  if (d.default !== undefined) parts.push(`default ${JSON.stringify(d.default)}`);
  const constraints = constraintsOf(d);
  if (constraints.length) parts.push(constraints.join(', '));
  return `  ${name}: ${parts.join('; ')}${d.description ? ` — ${d.description}` : ''}`;
}

function constraintsOf(d: FieldDescriptor): string[] {
  const out: string[] = [];
  if (d.type === 'string' || d.type === 'array') {
    for (const c of d.checks ?? []) {
      switch (c.kind) {
        case 'min_length':
          out.push(`min length ${c.value}`);
          break;
        case 'max_length':
          out.push(`max length ${c.value}`);
          break;
        case 'length':
          out.push(`length ${c.value}`);
          break;
        case 'regex':
          out.push(`matches /${c.pattern}/${c.flags}`);
          break;
        case 'starts_with':
          out.push(`starts with ${JSON.stringify(c.value)}`);
          break;
        case 'ends_with':
          out.push(`ends with ${JSON.stringify(c.value)}`);
          break;
        case 'includes':
          out.push(`includes ${JSON.stringify(c.value)}`);
          break;
        case 'email':
        case 'url':
        case 'lowercase':
        case 'uppercase':
          out.push(c.kind);
          break;
        case 'format':
          out.push(`format ${c.format}`);
          break;
      }
    }
  } else if (d.type === 'number') {
    for (const c of d.checks ?? []) {
      if (c.kind === 'int') out.push('integer');
      else if (c.kind === 'min') out.push(`${c.inclusive ? '≥' : '>'} ${c.value}`);
      else if (c.kind === 'max') out.push(`${c.inclusive ? '≤' : '<'} ${c.value}`);
      else out.push(`multiple of ${c.value}`);
    }
  }
  return out;
}

function schemaFieldInfo(d: FieldDescriptor): Record<string, unknown> {
  const info: Record<string, unknown> = { type: d.type, required: isRequiredOnCreate(d), nullable: Boolean(d.nullable || d.optional) };
  if (d.default !== undefined) info.default = d.default;
  if (d.description) info.description = d.description;
  if (d.type === 'enum') info.values = d.values;
  if (d.type === 'date') info.format = d.format;
  const constraints = constraintsOf(d);
  if (constraints.length) info.constraints = constraints;
  return info;
}
