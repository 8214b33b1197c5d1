/**
 * How the CLI shows a schema plan: the planner's own lines (`formatPlan`),
 * coloured by class on a terminal (safe green, needs-data yellow,
 * destructive red), plus a one-line summary. Also: rename candidates for the
 * interactive prompt, and `--rename` parsing.
 */
import type { FieldDescriptor } from '../src/schema/descriptor.js';
import { formatPlan, type SchemaPlan } from '../src/schema/plan.js';
import { UsageError } from './errors.js';
import type { Colors } from './ui/color.js';

/** The plan as lines, coloured when `c.enabled`. */
export function renderPlan(plan: SchemaPlan, c: Colors): string[] {
  return formatPlan(plan).map((line) => {
    if (line.startsWith('[safe]')) return c.green(line);
    if (line.startsWith('[destructive]')) return c.red(line);
    if (line.startsWith('[needs-data]')) return c.yellow(line);
    return c.dim(line);
  });
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `3 changes: 2 safe, 1 destructive`. */
export function planSummary(plan: SchemaPlan): string {
  const parts: string[] = [];
  if (plan.counts.safe) parts.push(`${plan.counts.safe} safe`);
  if (plan.counts['needs-data']) parts.push(`${plan.counts['needs-data']} needs-data`);
  if (plan.counts.destructive) parts.push(`${plan.counts.destructive} destructive`);
  return `${plural(plan.changes.length, 'change')}: ${parts.join(', ')}`;
}

/** `1 destructive and 1 needs-data change` (the ones that need confirmation). */
export function unsafeSummary(plan: SchemaPlan): string {
  const parts: string[] = [];
  if (plan.counts.destructive) parts.push(`${plan.counts.destructive} destructive`);
  if (plan.counts['needs-data']) parts.push(`${plan.counts['needs-data']} needs-data`);
  const n = plan.counts.destructive + plan.counts['needs-data'];
  return `${parts.join(' and ')} change${n === 1 ? '' : 's'}`;
}

export interface RenameCandidate {
  model: string;
  from: string;
  to: string;
}

function sameKind(a: FieldDescriptor | undefined, b: FieldDescriptor | undefined): boolean {
  if (!a || !b || a.type !== b.type) return false;
  if (a.type === 'array' && b.type === 'array') return sameKind(a.items, b.items);
  if (a.type === 'record' && b.type === 'record') return sameKind(a.values, b.values);
  return true;
}

/** A dropped and an added field of the same type in one model: maybe a rename. Each field is offered once. */
export function renameCandidates(plan: SchemaPlan): RenameCandidate[] {
  const out: RenameCandidate[] = [];
  const usedAdds = new Set<string>();
  for (const drop of plan.changes) {
    if (drop.kind !== 'drop_field' || !drop.field) continue;
    const add = plan.changes.find(
      (c) =>
        c.kind === 'add_field' &&
        c.model === drop.model &&
        c.field &&
        !usedAdds.has(`${c.model}.${c.field}`) &&
        sameKind(drop.from as FieldDescriptor | undefined, c.to as FieldDescriptor | undefined),
    );
    if (!add) continue;
    usedAdds.add(`${add.model}.${add.field}`);
    out.push({ model: drop.model, from: drop.field, to: add.field! });
  }
  return out;
}

/** `--rename tasks.title=tasks.name` (repeatable) → `{ 'tasks.title': 'tasks.name' }`. */
export function parseRenames(values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const m = /^\s*([A-Za-z][\w]*(?:\.[A-Za-z][\w]*)?)\s*=\s*([A-Za-z][\w]*(?:\.[A-Za-z][\w]*)?)\s*$/.exec(v);
    if (!m) {
      throw new UsageError(`--rename expects old=new, got ${JSON.stringify(v)}`, {
        code: 'invalid_rename',
        fix: 'Use --rename tasks.title=tasks.name for a field, or --rename todos=tasks for a model.',
      });
    }
    if (out[m[1]!] !== undefined) throw new UsageError(`--rename ${m[1]} is given twice`, { code: 'invalid_rename', fix: 'Pass each rename once.' });
    out[m[1]!] = m[2]!;
  }
  return out;
}
