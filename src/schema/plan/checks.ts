/**
 * Rule diffs: how the checks of a string, number, date or array changed, each
 * difference as a fragment that tightens (stored values may break it) or
 * relaxes (every stored value still passes) the field.
 */
import type { FieldDescriptor, FieldType, LengthCheck, NumberCheck, StringCheck } from '../descriptor.js';
import { canonicalJson } from '../serialize.js';

export type Of<T extends FieldType> = Extract<FieldDescriptor, { type: T }>;

export type Direction = 'tighten' | 'relax';

export interface RuleDiff {
  dir: Direction;
  text: string;
}

function lengthBounds(checks: ReadonlyArray<StringCheck | LengthCheck> | undefined): { min?: number; max?: number } {
  let min: number | undefined;
  let max: number | undefined;
  for (const c of checks ?? []) {
    if (c.kind === 'min_length' || c.kind === 'length') min = Math.max(min ?? -Infinity, c.value);
    if (c.kind === 'max_length' || c.kind === 'length') max = Math.min(max ?? Infinity, c.value);
  }
  return { ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) };
}

/** Length bounds of a string (`noun` = `length`) or an array (`items`). */
export function compareLengths(
  noun: string,
  a: ReadonlyArray<StringCheck | LengthCheck> | undefined,
  b: ReadonlyArray<StringCheck | LengthCheck> | undefined,
  out: RuleDiff[],
): void {
  const x = lengthBounds(a);
  const y = lengthBounds(b);
  const show = (v: number | undefined) => (v === undefined ? 'none' : String(v));
  if (x.min !== y.min) {
    const dir: Direction = x.min === undefined || (y.min !== undefined && y.min > x.min) ? 'tighten' : 'relax';
    out.push({ dir, text: `min ${noun} ${show(x.min)} → ${show(y.min)}` });
  }
  if (x.max !== y.max) {
    const dir: Direction = x.max === undefined || (y.max !== undefined && y.max < x.max) ? 'tighten' : 'relax';
    out.push({ dir, text: `max ${noun} ${show(x.max)} → ${show(y.max)}` });
  }
}

type RuleCheck = Exclude<StringCheck, LengthCheck>;

function ruleLabel(c: RuleCheck): string {
  switch (c.kind) {
    case 'regex':
      return `matches /${c.pattern}/${c.flags}`;
    case 'starts_with':
      return `starts with ${JSON.stringify(c.value)}`;
    case 'ends_with':
      return `ends with ${JSON.stringify(c.value)}`;
    case 'includes':
      return `includes ${JSON.stringify(c.value)}`;
    case 'lowercase':
      return 'is lowercase';
    case 'uppercase':
      return 'is uppercase';
    case 'email':
      return 'is an email';
    case 'url':
      return 'is a URL';
    case 'format':
      return `is a ${c.format}`;
  }
}

/** Checks of one kind pair up when exactly one was removed and one added: a changed check. */
function pairKey(c: RuleCheck): string {
  return c.kind === 'format' ? `format:${c.format}` : c.kind;
}

function pairedDirection(a: RuleCheck, b: RuleCheck): Direction {
  // Anything starting with "abc" starts with "ab": a shorter prefix accepts more.
  if (a.kind === 'starts_with' && b.kind === 'starts_with') return a.value.startsWith(b.value) ? 'relax' : 'tighten';
  if (a.kind === 'ends_with' && b.kind === 'ends_with') return a.value.endsWith(b.value) ? 'relax' : 'tighten';
  if (a.kind === 'includes' && b.kind === 'includes') return a.value.includes(b.value) ? 'relax' : 'tighten';
  // A changed pattern: the direction cannot be decided, so assume tighter.
  return 'tighten';
}

/** Set difference of checks keyed by `keyOf`, pairing a changed check of one kind. */
function compareRuleSets<T>(
  a: T[],
  b: T[],
  keyOf: (c: T) => string,
  pairOf: (c: T) => string,
  label: (c: T) => string,
  changed: (x: T, y: T) => RuleDiff,
  out: RuleDiff[],
): void {
  const aKeys = new Set(a.map(keyOf));
  const bKeys = new Set(b.map(keyOf));
  const removed = a.filter((c) => !bKeys.has(keyOf(c)));
  const added = b.filter((c) => !aKeys.has(keyOf(c)));
  const pairedRemoved = new Set<T>();
  const pairedAdded = new Set<T>();
  for (const r of removed) {
    const k = pairOf(r);
    const sameR = removed.filter((c) => pairOf(c) === k);
    const sameA = added.filter((c) => pairOf(c) === k);
    if (sameR.length === 1 && sameA.length === 1) {
      const x = sameA[0]!;
      out.push(changed(r, x));
      pairedRemoved.add(r);
      pairedAdded.add(x);
    }
  }
  for (const r of removed) if (!pairedRemoved.has(r)) out.push({ dir: 'relax', text: `drops check: ${label(r)}` });
  for (const x of added) if (!pairedAdded.has(x)) out.push({ dir: 'tighten', text: `adds check: ${label(x)}` });
}

export function compareStrings(a: Of<'string'>, b: Of<'string'>, out: RuleDiff[]): void {
  compareLengths('length', a.checks, b.checks, out);
  const rules = (d: Of<'string'>) =>
    (d.checks ?? []).filter((c): c is RuleCheck => c.kind !== 'min_length' && c.kind !== 'max_length' && c.kind !== 'length');
  compareRuleSets(rules(a), rules(b), canonicalJson, pairKey, ruleLabel, (x, y) => {
    const dir = pairedDirection(x, y);
    const simple = x.kind === 'regex' || x.kind === 'starts_with' || x.kind === 'ends_with' || x.kind === 'includes';
    return { dir, text: simple ? `${ruleLabel(x)} → ${ruleLabel(y)}` : `${ruleLabel(y).replace(/^is an? /, '')} check changed` };
  }, out);
}

interface Bound {
  value: number;
  inclusive: boolean;
}

const INT_RANGES: Record<string, [number, number]> = {
  safeint: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

/** The number checks folded: the tightest bounds, the integer range they allow, the multiples. */
function numberRules(checks: NumberCheck[] | undefined): { lower?: Bound; upper?: Bound; int?: { formats: string[]; range: [number, number] }; multiples: number[] } {
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  let int: { formats: string[]; range: [number, number] } | undefined;
  const multiples: number[] = [];
  for (const c of checks ?? []) {
    if (c.kind === 'min') {
      if (!lower || c.value > lower.value || (c.value === lower.value && !c.inclusive)) lower = { value: c.value, inclusive: c.inclusive };
    } else if (c.kind === 'max') {
      if (!upper || c.value < upper.value || (c.value === upper.value && !c.inclusive)) upper = { value: c.value, inclusive: c.inclusive };
    } else if (c.kind === 'int') {
      const r = INT_RANGES[c.format] ?? INT_RANGES.safeint!;
      int = int
        ? { formats: [...int.formats, c.format], range: [Math.max(int.range[0], r[0]), Math.min(int.range[1], r[1])] }
        : { formats: [c.format], range: [r[0], r[1]] };
    } else multiples.push(c.value);
  }
  return { ...(lower ? { lower } : {}), ...(upper ? { upper } : {}), ...(int ? { int } : {}), multiples };
}

function isMultiple(x: number, of: number): boolean {
  const q = x / of;
  return Math.abs(q - Math.round(q)) < 1e-9;
}

function compareBounds(side: 'min' | 'max', a: Bound | undefined, b: Bound | undefined, out: RuleDiff[]): void {
  if (!a && !b) return;
  if (a && b && a.value === b.value && a.inclusive === b.inclusive) return;
  const show = (x: Bound | undefined) => (x === undefined ? 'none' : `${side === 'min' ? '>' : '<'}${x.inclusive ? '=' : ''} ${x.value}`);
  let dir: Direction;
  if (!a) dir = 'tighten';
  else if (!b) dir = 'relax';
  else if (a.value === b.value) dir = a.inclusive && !b.inclusive ? 'tighten' : 'relax';
  else dir = (side === 'min' ? b.value > a.value : b.value < a.value) ? 'tighten' : 'relax';
  out.push({ dir, text: `${side} ${show(a)} → ${show(b)}` });
}

export function compareNumbers(a: Of<'number'>, b: Of<'number'>, out: RuleDiff[]): void {
  const x = numberRules(a.checks);
  const y = numberRules(b.checks);
  if (x.int || y.int) {
    const label = (i: typeof x.int) => (i ? `integer (${i.formats.join(', ')})` : 'any number');
    if (!x.int) out.push({ dir: 'tighten', text: `${label(x.int)} → ${label(y.int)}` });
    else if (!y.int) out.push({ dir: 'relax', text: `${label(x.int)} → ${label(y.int)}` });
    else if (x.int.range[0] !== y.int.range[0] || x.int.range[1] !== y.int.range[1]) {
      const wider = y.int.range[0] <= x.int.range[0] && y.int.range[1] >= x.int.range[1];
      out.push({ dir: wider ? 'relax' : 'tighten', text: `${label(x.int)} → ${label(y.int)}` });
    }
  }
  compareBounds('min', x.lower, y.lower, out);
  compareBounds('max', x.upper, y.upper, out);
  compareRuleSets(
    x.multiples,
    y.multiples,
    String,
    () => 'multiple_of',
    (v) => `multiple of ${v}`,
    (p, q) => ({ dir: isMultiple(p, q) ? 'relax' : 'tighten', text: `multiple of ${p} → multiple of ${q}` }),
    out,
  );
}

function precisionLabel(p: number | null | undefined): string {
  if (p === null || p === undefined) return 'any';
  if (p === -1) return 'minutes';
  return `${p} fractional digits`;
}

export function compareDates(a: Of<'date'>, b: Of<'date'>, out: RuleDiff[]): void {
  if (a.format !== b.format) {
    // A date is not a datetime and the other way round: values must be rewritten.
    out.push({ dir: 'tighten', text: `format ${a.format} → ${b.format}` });
    return;
  }
  if (a.format !== 'datetime') return;
  const flag = (name: string, x: boolean, y: boolean) => {
    if (x !== y) out.push({ dir: y ? 'relax' : 'tighten', text: `${name} ${x ? 'allowed' : 'not allowed'} → ${y ? 'allowed' : 'not allowed'}` });
  };
  flag('timezone offsets', Boolean(a.offset), Boolean(b.offset));
  flag('local times', Boolean(a.local), Boolean(b.local));
  const p = a.precision ?? null;
  const q = b.precision ?? null;
  if (p !== q) out.push({ dir: q === null ? 'relax' : 'tighten', text: `precision ${precisionLabel(p)} → ${precisionLabel(q)}` });
}
