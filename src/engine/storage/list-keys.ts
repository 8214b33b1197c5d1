/**
 * What both storages' `listRows` resolve the same way, whatever their SQL:
 * field names to columns (unknown ones are a typed error) and the sort keys.
 */
import { AbloValidationError } from '../../errors.js';
import type { OrderBy } from './types.js';

/** A model's columns as a dialect's codec knows them. */
export interface ColumnSource<C extends { name: string }> {
  readonly name: string;
  column(field: string): C | undefined;
}

export function unknownField(codec: { name: string }, name: string, what: string): never {
  throw new AbloValidationError(`Cannot ${what} "${codec.name}" by "${name}": the model has no such field.`, {
    code: 'unknown_field',
    model: codec.name,
    field: name,
  });
}

/** Resolve sort keys: known names only, each once, ending with `id` ascending. */
export function resolveSortKeys<C extends { name: string }>(codec: ColumnSource<C>, orderBy: readonly OrderBy[] | undefined): Array<{ col: C; desc: boolean }> {
  const keys: Array<{ col: C; desc: boolean }> = [];
  const seen = new Set<string>();
  for (const o of orderBy ?? []) {
    const col = codec.column(o.field);
    if (!col) unknownField(codec, String(o.field), 'sort');
    if (o.direction !== 'asc' && o.direction !== 'desc') {
      throw new AbloValidationError(`Sort direction for "${o.field}" must be "asc" or "desc".`, { code: 'invalid_order', model: codec.name, field: o.field });
    }
    if (seen.has(col.name)) continue;
    seen.add(col.name);
    keys.push({ col, desc: o.direction === 'desc' });
    // `id` is unique: later keys could never break a tie.
    if (col.name === 'id') return keys;
  }
  keys.push({ col: codec.column('id')!, desc: false });
  return keys;
}
