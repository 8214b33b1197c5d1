/**
 * Parse list parameters (HTTP query or SDK/MCP objects) into a checked
 * `ListQuery`. Field names are checked against the schema here, so nothing
 * unknown ever reaches SQL.
 */
import { AbloValidationError } from '../errors.js';
import { checkJson } from './json.js';
import type { CompiledModel } from '../schema/compile.js';
import type { FieldDescriptor } from '../schema/descriptor.js';

export interface OrderBy {
  field: string;
  direction: 'asc' | 'desc';
}

/** A checked list query: the engine's storage and the SDK's local reads both evaluate it. */
export interface ListQuery {
  /** field → value (equality) or array (IN); null matches null. Names are checked against the schema. */
  where?: Record<string, unknown>;
  /** Sort keys; `id` ascending is always the final tie-breaker. Nulls sort lowest. */
  orderBy?: OrderBy[];
  limit: number;
  /** Id of the last row of the previous page (keyset pagination over orderBy + id). */
  startingAfter?: string;
}

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1000;
const MAX_IN_VALUES = 1000;

export type Scalar = 'string' | 'number' | 'boolean';
const SYSTEM_FIELD_TYPES: Record<string, Scalar> = { id: 'string', createdAt: 'string', updatedAt: 'string', syncId: 'number' };

/**
 * Names in `where` and `orderBy` come from the caller: look them up as own
 * properties only (`constructor`, `__proto__` and other Object.prototype names
 * are unknown fields), and collect them in objects without a prototype.
 */
const hasOwn = (obj: object, key: string): boolean => Object.prototype.hasOwnProperty.call(obj, key);
function bag<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** The scalar kind a field can be filtered and sorted by, or null (JSON, arrays, objects). */
export function scalarKind(d: FieldDescriptor): Scalar | null {
  switch (d.type) {
    case 'string':
    case 'enum':
    case 'date':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return null;
  }
}

function fieldType(model: CompiledModel, field: string, purpose: 'filter' | 'sort'): { type: Scalar; nullable: boolean } {
  if (hasOwn(SYSTEM_FIELD_TYPES, field)) return { type: SYSTEM_FIELD_TYPES[field]!, nullable: false };
  const d = hasOwn(model.fields, field) ? model.fields[field] : undefined;
  if (!d) {
    throw new AbloValidationError(
      `Cannot ${purpose} ${model.name} by "${field}": no such field. Fields: ${['id', ...model.fieldNames, 'createdAt', 'updatedAt', 'syncId'].join(', ')}.`,
      { code: 'unknown_field', model: model.name, field },
    );
  }
  const type = scalarKind(d);
  if (!type) {
    throw new AbloValidationError(`Cannot ${purpose} ${model.name} by "${field}": it holds ${d.type} values; only scalar fields can be used.`, {
      code: 'invalid_query',
      model: model.name,
      field,
    });
  }
  return { type, nullable: Boolean(d.nullable || d.optional) };
}

/** Check (and, for query strings, convert) one filter value. */
function filterValue(model: CompiledModel, field: string, raw: unknown, fromQueryString: boolean): unknown {
  const { type, nullable } = fieldType(model, field, 'filter');
  if (raw === null && !nullable) {
    throw new AbloValidationError(`Filter ${model.name}.${field}: the field never holds null (it is not nullable or optional), so null matches nothing.`, {
      code: 'invalid_query',
      model: model.name,
      field,
    });
  }
  if (raw === null || (fromQueryString && raw === 'null' && nullable)) return null;
  let value = raw;
  if (fromQueryString && typeof raw === 'string') {
    if (type === 'number') value = raw.trim() === '' ? NaN : Number(raw);
    else if (type === 'boolean') value = raw === 'true' ? true : raw === 'false' ? false : raw;
  }
  const ok = type === 'number' ? typeof value === 'number' && Number.isFinite(value) : typeof value === type;
  if (!ok) {
    throw new AbloValidationError(`Filter ${model.name}.${field}: expected a ${type}${nullable ? ' or null' : ''}, got ${JSON.stringify(raw)}.`, {
      code: 'invalid_query',
      model: model.name,
      field,
    });
  }
  return value;
}

export interface ListParams {
  where?: Record<string, unknown>;
  orderBy?: Record<string, 'asc' | 'desc'> | OrderBy[];
  limit?: number;
  startingAfter?: string;
}

/** Build a checked query from structured params (SDK, MCP, JSON). */
export function buildListQuery(model: CompiledModel, params: ListParams, fromQueryString = false): ListQuery {
  const where = bag<unknown>();
  if (params.where !== undefined) {
    if (params.where === null || typeof params.where !== 'object' || Array.isArray(params.where)) {
      throw new AbloValidationError('`where` must be an object of field → value (an array means any of those values).', { code: 'invalid_query', model: model.name });
    }
    for (const [field, raw] of Object.entries(params.where)) {
      if (Array.isArray(raw)) {
        if (raw.length > MAX_IN_VALUES) {
          throw new AbloValidationError(`Filter ${model.name}.${field}: at most ${MAX_IN_VALUES} values in one list.`, { code: 'invalid_query', field });
        }
        where[field] = raw.map((v) => filterValue(model, field, v, fromQueryString));
      } else where[field] = filterValue(model, field, raw, fromQueryString);
    }
  }
  const orderBy: OrderBy[] = [];
  const rawOrder = params.orderBy;
  if (rawOrder !== undefined) {
    const entries: Array<[string, unknown]> = Array.isArray(rawOrder)
      ? rawOrder.map((o: unknown) => {
          if (!o || typeof o !== 'object') {
            throw new AbloValidationError('Each `orderBy` entry must be { field, direction }.', { code: 'invalid_query', model: model.name, field: 'orderBy' });
          }
          return [String((o as OrderBy).field), (o as OrderBy).direction];
        })
      : typeof rawOrder === 'object' && rawOrder !== null
        ? Object.entries(rawOrder)
        : [];
    if (!Array.isArray(rawOrder) && (typeof rawOrder !== 'object' || rawOrder === null)) {
      throw new AbloValidationError('`orderBy` must be an object like { title: "asc" }.', { code: 'invalid_query', model: model.name });
    }
    for (const [field, direction] of entries) {
      fieldType(model, field, 'sort');
      if (direction !== 'asc' && direction !== 'desc') {
        throw new AbloValidationError(`Sort ${model.name}.${field}: direction must be "asc" or "desc".`, { code: 'invalid_query', field });
      }
      orderBy.push({ field, direction });
    }
  }
  let limit = params.limit ?? DEFAULT_LIST_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw new AbloValidationError(`\`limit\` must be a whole number from 1 to ${MAX_LIST_LIMIT}.`, { code: 'invalid_query', field: 'limit' });
  }
  limit = Math.min(limit, MAX_LIST_LIMIT);
  const query: ListQuery = { limit };
  if (Object.keys(where).length > 0) query.where = where;
  if (orderBy.length > 0) query.orderBy = orderBy;
  if (params.startingAfter !== undefined) {
    if (typeof params.startingAfter !== 'string' || params.startingAfter.length === 0 || params.startingAfter.length > 128) {
      throw new AbloValidationError('`startingAfter` must be the id of the last row of the previous page.', { code: 'invalid_query', field: 'startingAfter' });
    }
    query.startingAfter = params.startingAfter;
  }
  return query;
}

/**
 * The query string of `GET /v1/models/:model` for a list query (the inverse
 * of `listQueryFromSearchParams`): `where` as JSON, `orderBy` as
 * `field:direction,…`, `limit`, `startingAfter`. Empty parts are left out.
 */
export function listQuerySearchParams(query: { where?: Record<string, unknown>; orderBy?: OrderBy[]; limit?: number; startingAfter?: string }): URLSearchParams {
  const params = new URLSearchParams();
  if (query.where && Object.keys(query.where).length > 0) params.set('where', JSON.stringify(query.where));
  if (query.orderBy && query.orderBy.length > 0) params.set('orderBy', query.orderBy.map((o) => `${o.field}:${o.direction}`).join(','));
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  if (query.startingAfter !== undefined) params.set('startingAfter', query.startingAfter);
  return params;
}

/**
 * From a URL query: `where[status]=todo&where[status]=doing` (repeat = IN) or
 * `where={"status":["todo"]}`; `orderBy[title]=asc` or `orderBy=title:asc,createdAt:desc`;
 * `limit`; `startingAfter`.
 */
export function listQueryFromSearchParams(model: CompiledModel, search: URLSearchParams): ListQuery {
  const params: ListParams = {};
  let fromQueryString = true;
  const whereJson = search.get('where');
  if (whereJson !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(whereJson);
    } catch {
      throw new AbloValidationError('`where` is not valid JSON. Use where={"field":"value"} or where[field]=value.', { code: 'invalid_query', field: 'where' });
    }
    // Same checks as every JSON the engine reads: nesting, lone surrogates.
    checkJson(parsed, { what: '`where`', envelope: 1 });
    params.where = parsed as Record<string, unknown>;
    fromQueryString = false;
  }
  const deepWhere = bag<unknown>();
  const order = bag<'asc' | 'desc'>();
  for (const [key, value] of search) {
    const w = /^where\[([^\]]*)\]$/.exec(key);
    if (w) {
      if (whereJson !== null) {
        throw new AbloValidationError('Use either where=<json> or where[field]=value, not both.', { code: 'invalid_query', field: 'where' });
      }
      const field = w[1]!;
      const prev = deepWhere[field];
      deepWhere[field] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      continue;
    }
    const o = /^orderBy\[([^\]]*)\]$/.exec(key);
    if (o) order[o[1]!] = value as 'asc' | 'desc';
    else if (key === 'orderBy') {
      for (const part of value.split(',').filter(Boolean)) {
        const [field, dir = 'asc'] = part.split(':');
        order[field!] = dir as 'asc' | 'desc';
      }
    } else if (!['where', 'limit', 'startingAfter'].includes(key)) {
      throw new AbloValidationError(`Unknown query parameter "${key}". Use where, orderBy, limit and startingAfter.`, { code: 'invalid_query', field: key });
    }
  }
  if (Object.keys(deepWhere).length > 0) params.where = deepWhere;
  if (Object.keys(order).length > 0) params.orderBy = order;
  const limit = search.get('limit');
  if (limit !== null) {
    const n = Number(limit);
    if (!Number.isInteger(n)) throw new AbloValidationError('`limit` must be a whole number.', { code: 'invalid_query', field: 'limit' });
    params.limit = n;
  }
  const after = search.get('startingAfter');
  if (after !== null) params.startingAfter = after;
  if (params.where && fromQueryString === false) return buildListQuery(model, params, false);
  return buildListQuery(model, params, true);
}
