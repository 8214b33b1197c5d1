/**
 * Compact text for tool results: one line per row as `key=value` pairs.
 * Long strings and JSON values are cut short in the text only; the
 * structured content keeps every value whole.
 */

/** Rough token count of `chars` characters of JSON or text (≈ 4 characters a token). */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

const BARE = /^[A-Za-z0-9_\-.:@/+]+$/;
const LOOKS_LIKE_OTHER_TYPE = /^(?:null|true|false|-?\d[\d.eE+-]*)$/;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…(+${text.length - max} chars)`;
}

/** One value as text: bare words stay bare, other strings are quoted, JSON values inline; cut at `max` characters. */
export function renderValue(value: unknown, max = 120): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    if (value.length > 0 && value.length <= max && BARE.test(value) && !LOOKS_LIKE_OTHER_TYPE.test(value)) return value;
    if (value.length <= max) return JSON.stringify(value);
    return `${JSON.stringify(value.slice(0, max))}…(+${value.length - max} chars)`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return clip(JSON.stringify(value), max);
}

/** Keys in reading order: id, the model's fields in schema order, anything else, syncId, createdAt, updatedAt. */
export function orderedKeys(row: Record<string, unknown>, fieldNames: readonly string[]): string[] {
  const tail = ['syncId', 'createdAt', 'updatedAt'];
  const keys: string[] = [];
  if ('id' in row) keys.push('id');
  for (const f of fieldNames) if (f in row) keys.push(f);
  for (const k of Object.keys(row)) if (!keys.includes(k) && !tail.includes(k)) keys.push(k);
  for (const k of tail) if (k in row) keys.push(k);
  return keys;
}

/** `id=t1 title="Ship it" status=todo … syncId=42` */
export function renderRow(row: Record<string, unknown>, fieldNames: readonly string[], max = 120): string {
  return orderedKeys(row, fieldNames)
    .map((k) => `${k}=${renderValue(row[k], max)}`)
    .join(' ');
}

/** One `  key=value` per line (a single row, e.g. from _get). */
export function renderRowLines(row: Record<string, unknown>, fieldNames: readonly string[], max = 2000): string {
  return orderedKeys(row, fieldNames)
    .map((k) => `  ${k}=${renderValue(row[k], max)}`)
    .join('\n');
}

/** `a=1 b="x"` for a plain object (error details, current values). */
export function renderPairs(values: Record<string, unknown>, max = 200): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}=${renderValue(v, max)}`)
    .join(' ');
}

/** `agent:summarizer` */
export function renderParticipant(p: unknown): string {
  if (p && typeof p === 'object' && 'kind' in p && 'id' in p) return `${String((p as { kind: unknown }).kind)}:${String((p as { id: unknown }).id)}`;
  return 'someone';
}

/** What a value cut by `clipRow` ends with, e.g. `…(+5120 chars, cut to fit the output budget)`. */
export function clippedSuffix(removed: number): string {
  return `…(+${removed} chars, cut to fit the output budget)`;
}

/** A JSON Schema `pattern` that matches a value `clipRow` cut (the output schemas accept it in place of any long value). */
export const CLIPPED_VALUE_PATTERN = '…\\(\\+\\d+ chars, cut to fit the output budget\\)$';

/**
 * A copy of `row` whose strings and JSON values are cut so the whole row
 * serializes to about `maxChars` (for the rare row that alone exceeds the
 * output budget). Returns the row unchanged when it already fits.
 */
export function clipRow(row: Record<string, unknown>, maxChars: number): { row: Record<string, unknown>; clipped: string[] } {
  if (JSON.stringify(row).length <= maxChars) return { row, clipped: [] };
  const out: Record<string, unknown> = { ...row };
  const clipped: string[] = [];
  // Longest values first, until it fits.
  const sized = Object.entries(row)
    .map(([k, v]) => [k, v === null || typeof v === 'number' || typeof v === 'boolean' ? 0 : JSON.stringify(v)?.length ?? 0] as const)
    .sort((a, b) => b[1] - a[1]);
  for (const [k, size] of sized) {
    if (size <= 64) break;
    const v = row[k];
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    out[k] = `${text.slice(0, 64)}${clippedSuffix(text.length - 64)}`;
    clipped.push(k);
    if (JSON.stringify(out).length <= maxChars) break;
  }
  return { row: out, clipped };
}
