/**
 * List cursors: opaque to the agent, a base64url JSON of the engine's
 * keyset position (`startingAfter`, the id of the last row returned) plus the
 * query it belongs to (where, orderBy, limit), so the next page can be asked
 * for with the cursor alone.
 */
import { AbloValidationError } from '../src/errors.js';

export interface CursorState {
  model: string;
  /** Id of the last row already returned. */
  after: string;
  where?: Record<string, unknown>;
  orderBy?: Record<string, 'asc' | 'desc'>;
  /** The page size asked for, kept for the next pages. */
  limit?: number;
}

interface Wire {
  v: 1;
  m: string;
  a: string;
  w?: Record<string, unknown>;
  o?: Record<string, 'asc' | 'desc'>;
  l?: number;
}

export function encodeCursor(state: CursorState): string {
  const wire: Wire = { v: 1, m: state.model, a: state.after };
  if (state.where && Object.keys(state.where).length > 0) wire.w = state.where;
  if (state.orderBy && Object.keys(state.orderBy).length > 0) wire.o = state.orderBy;
  if (state.limit !== undefined) wire.l = state.limit;
  return Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Decode a cursor for `model`; a cursor that is not one of ours (or another model's) is a validation error saying what to do. */
export function decodeCursor(cursor: string, model: string): CursorState {
  const bad = (why: string): AbloValidationError =>
    new AbloValidationError(
      `cursor: ${why}. Pass the nextCursor exactly as the previous ${model}_list returned it, or leave cursor out to start from the first page.`,
      { code: 'invalid_cursor', field: 'cursor' },
    );
  let wire: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new Error('not base64url');
    wire = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a cursor this server issued');
  }
  if (!isPlainObject(wire) || wire.v !== 1 || typeof wire.m !== 'string' || typeof wire.a !== 'string' || wire.a.length === 0) {
    throw bad('not a cursor this server issued');
  }
  if (wire.m !== model) throw bad(`it belongs to ${wire.m}_list, not ${model}_list`);
  if (wire.w !== undefined && !isPlainObject(wire.w)) throw bad('not a cursor this server issued');
  if (wire.o !== undefined && !isPlainObject(wire.o)) throw bad('not a cursor this server issued');
  if (wire.l !== undefined && (typeof wire.l !== 'number' || !Number.isInteger(wire.l) || wire.l < 1)) throw bad('not a cursor this server issued');
  return {
    model,
    after: wire.a,
    ...(wire.w ? { where: wire.w } : {}),
    ...(wire.o ? { orderBy: wire.o as Record<string, 'asc' | 'desc'> } : {}),
    ...(typeof wire.l === 'number' ? { limit: wire.l } : {}),
  };
}

/** Canonical JSON (sorted keys) for comparing two queries. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
