/**
 * How the planner words things: labels for types, modifiers, values and
 * relations, the shared shape of a "change X of Y: a → b" line, stats notes
 * appended to a line, and `formatPlan` (a plan as plain lines).
 */
import type { FieldDescriptor, RelationDescriptor } from '../descriptor.js';
import { canonicalJson } from '../serialize.js';
import type { SchemaPlan } from './types.js';

function shorten(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/** A JSON value, shortened; `none` when unset. */
export function jsonLabel(value: unknown): string {
  return value === undefined ? 'none' : shorten(canonicalJson(value), 40);
}

/** A quoted text, shortened; `none` when unset. */
export function textLabel(value: string | undefined): string {
  return value === undefined ? 'none' : JSON.stringify(shorten(value, 50));
}

export function typeLabel(d: FieldDescriptor): string {
  switch (d.type) {
    case 'number':
      return d.checks?.some((c) => c.kind === 'int') ? 'int' : 'number';
    case 'enum': {
      const shown = d.values.slice(0, 5).map((v) => JSON.stringify(v));
      if (d.values.length > 5) shown.push('...');
      return `enum(${shown.join(' | ')})`;
    }
    case 'date':
      return d.format === 'date' ? 'date' : 'datetime';
    case 'array':
      return `array<${typeLabel(d.items)}${d.items.nullable ? ' | null' : ''}>`;
    case 'record':
      return `record<${typeLabel(d.values)}${d.values.nullable ? ' | null' : ''}>`;
    default:
      return d.type;
  }
}

/** `optional, nullable, default 1`, or `required`. */
export function modifierLabel(d: FieldDescriptor): string {
  const parts: string[] = [];
  if (d.optional) parts.push('optional');
  if (d.nullable) parts.push('nullable');
  if (d.default !== undefined) parts.push(`default ${jsonLabel(d.default)}`);
  return parts.length ? parts.join(', ') : 'required';
}

/** `string, optional`: the type and modifiers of a field. */
export function fieldLabel(d: FieldDescriptor): string {
  return `${typeLabel(d)}, ${modifierLabel(d)}`;
}

export function relationLabel(r: RelationDescriptor): string {
  return `${r.kind} ${r.model} via ${r.foreignKey}`;
}

/** `"a", "b"`: enum values, quoted. */
export function valuesList(values: string[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

/** `Change <what> of <where>: <from> → <to>`, the line of a value that changed. */
export function changeLine(what: string, where: string, from: string, to: string): string {
  return `Change ${what} of ${where}: ${from} → ${to}`;
}

/** Append a stats note in parentheses; with `merge`, into the line's closing parenthesis. */
export function withNote(line: string, note: string, merge = false): string {
  if (!note) return line;
  return merge && line.endsWith(')') ? `${line.slice(0, -1)}; ${note})` : `${line} (${note})`;
}

/**
 * The plan as plain lines: `[class] description` per change, and for a change
 * that is not safe, its fix on the next line, indented. An empty plan gives no lines.
 */
export function formatPlan(plan: SchemaPlan): string[] {
  const lines: string[] = [];
  for (const c of plan.changes) {
    lines.push(`[${c.class}] ${c.description}`);
    if (c.class !== 'safe' && c.fix) lines.push(`    fix: ${c.fix}`);
  }
  return lines;
}
