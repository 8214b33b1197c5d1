/**
 * JSON from untrusted input, and JSON output that cannot overflow the stack.
 *
 * Every surface that reads JSON (HTTP bodies, WebSocket frames, `where=` in a
 * query string, `ablo data import` lines) parses it with `parseJson`: V8's
 * `JSON.parse` (which does not recurse) followed by ONE iterative walk that
 * refuses
 *
 * - nesting deeper than the limit: a field value may nest at most
 *   `MAX_JSON_DEPTH` (64) levels of objects and arrays (400 `invalid_json`);
 * - lone UTF-16 surrogates in any string or object key: they cannot be stored
 *   as UTF-8 and would read back as U+FFFD (400 `invalid_field`);
 * - object keys named `__proto__` (400 `unknown_field`): JavaScript code
 *   that copies such an object either drops the key silently or rewrites the
 *   copy's prototype, so no such key is accepted anywhere (as Fastify does).
 *
 * Depth is counted from the top of the document; `envelope` says how many
 * levels of the document wrap a field value (`{ data: { f: V } }` is 2,
 * `{ operations: [{ data: { f: V } }] }` is 4), so a field value gets exactly
 * `maxDepth` levels on every surface.
 *
 * Restores (`ablo data import --allow-deep`, header `Ablo-Restore: deep-json`
 * on `POST /v1/commits`) raise the limit to `RESTORE_JSON_DEPTH` (2,048) so
 * rows stored by engines that had no limit can come back. Everything that
 * writes JSON (`stringifyJson`, `canonicalJson`) handles any depth.
 */
import { AbloValidationError } from '../errors.js';

/** Levels of objects and arrays a field value may nest. */
export const MAX_JSON_DEPTH = 64;
/** The limit for restores (`Ablo-Restore: deep-json`): every read and write path is tested at this depth. */
export const RESTORE_JSON_DEPTH = 2048;
/** Header (and its one value) that marks a commit as a restore of deep rows. */
export const RESTORE_HEADER = 'ablo-restore';
export const RESTORE_DEEP_JSON = 'deep-json';

/** Levels of each surface's document that wrap a field value. */
export const JSON_ENVELOPE = {
  /** An import line: `{ f: V }`. */
  row: 1,
  /** `POST /v1/models/:model`, `PATCH …/:id`: `{ data: { f: V } }`. */
  write: 2,
  /** `POST /v1/commits` (and any other body): `{ operations: [{ data: { f: V } }] }`. */
  commit: 4,
  /** A WebSocket frame: `{ commit: { operations: [{ data: { f: V } }] } }`. */
  frame: 5,
} as const;

export interface JsonCheckOptions {
  /** Levels a field value may nest (default `MAX_JSON_DEPTH`). */
  maxDepth?: number;
  /** Levels of the document around a field value (default 0: the document is the value). */
  envelope?: number;
  /** What the document is, for messages: "Request body", "Frame", "Line 3". */
  what?: string;
}

type Path = Array<string | number>;

/** A path for messages and `field`: `data.meta.tags.0`; long keys and long paths are cut. */
export function formatPath(path: readonly (string | number)[]): string {
  const parts = path.map((p) => {
    if (typeof p === 'number') return String(p);
    const shown = escapeLoneSurrogates(p);
    return shown.length > 64 ? `${shown.slice(0, 64)}…` : shown;
  });
  const text = parts.join('.');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const hasIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';

/** True when `s` holds a UTF-16 surrogate without its pair. */
export function hasLoneSurrogate(s: string): boolean {
  return hasIsWellFormed ? !(s as string & { isWellFormed(): boolean }).isWellFormed() : LONE_SURROGATE.test(s);
}

function escapeLoneSurrogates(s: string): string {
  if (!hasLoneSurrogate(s)) return s;
  return s.replace(LONE_SURROGATES, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

function firstLoneSurrogate(s: string): string {
  const m = LONE_SURROGATE.exec(s);
  return m ? `\\u${m[0].charCodeAt(0).toString(16)}` : '';
}

interface Frame {
  value: object;
  depth: number;
  parent: Frame | null;
  key: string | number;
}

function pathOf(frame: Frame | null, last?: string | number): Path {
  const out: Path = [];
  if (last !== undefined) out.push(last);
  for (let f = frame; f && f.parent; f = f.parent) out.push(f.key);
  return out.reverse();
}

function tooDeep(path: Path, opts: Required<JsonCheckOptions>): AbloValidationError {
  // Name the field that holds the value (the path down to it), not every level below.
  const fieldPath = path.slice(0, Math.max(1, opts.envelope));
  const field = formatPath(fieldPath);
  const at = formatPath(path.slice(0, opts.envelope + 3));
  const restore = opts.maxDepth < RESTORE_JSON_DEPTH ? '' : ` (the restore limit)`;
  return new AbloValidationError(
    `${opts.what} nests deeper than ${opts.maxDepth} levels${restore} at "${at}${path.length > opts.envelope + 3 ? '…' : ''}": ` +
      `a value may nest at most ${opts.maxDepth} levels of objects and arrays. Flatten it, or store it as a string.`,
    { code: 'invalid_json', field, maxDepth: opts.maxDepth },
  );
}

function loneSurrogate(path: Path, s: string, isKey: boolean, opts: Required<JsonCheckOptions>): AbloValidationError {
  const field = formatPath(path);
  return new AbloValidationError(
    `${opts.what} holds a lone UTF-16 surrogate (${firstLoneSurrogate(s)}) in ${isKey ? 'the key' : 'the value'} at "${field}": ` +
      `it is not valid Unicode and cannot be stored. Send well-formed text (pair the surrogate or remove it).`,
    { code: 'invalid_field', field },
  );
}

function protoKey(path: Path, opts: Required<JsonCheckOptions>): AbloValidationError {
  const field = formatPath(path);
  return new AbloValidationError(
    `${opts.what} has a key named "__proto__" at "${field}": no field has that name, and such keys are refused everywhere (they can rewrite object prototypes). Rename the key.`,
    { code: 'unknown_field', field },
  );
}

/**
 * Walk a parsed JSON value once, without recursion: refuse nesting deeper
 * than `maxDepth` (+ `envelope`), lone surrogates in strings and keys, and
 * `__proto__` keys.
 */
export function checkJson(value: unknown, options: JsonCheckOptions = {}): void {
  const opts: Required<JsonCheckOptions> = {
    maxDepth: options.maxDepth ?? MAX_JSON_DEPTH,
    envelope: options.envelope ?? 0,
    what: options.what ?? 'JSON',
  };
  const limit = opts.maxDepth + opts.envelope;
  if (typeof value === 'string') {
    if (hasLoneSurrogate(value)) throw loneSurrogate([], value, false, opts);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  if (limit < 1) throw tooDeep([], opts);
  const stack: Frame[] = [{ value, depth: 1, parent: null, key: '' }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const child: unknown = v[i];
        if (typeof child === 'string') {
          if (hasLoneSurrogate(child)) throw loneSurrogate(pathOf(frame, i), child, false, opts);
        } else if (child !== null && typeof child === 'object') {
          if (frame.depth + 1 > limit) throw tooDeep(pathOf(frame, i), opts);
          stack.push({ value: child, depth: frame.depth + 1, parent: frame, key: i });
        }
      }
    } else {
      const keys = Object.keys(v);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        if (key === '__proto__') throw protoKey(pathOf(frame, key), opts);
        if (hasLoneSurrogate(key)) throw loneSurrogate(pathOf(frame, key), key, true, opts);
        const child: unknown = (v as Record<string, unknown>)[key];
        if (typeof child === 'string') {
          if (hasLoneSurrogate(child)) throw loneSurrogate(pathOf(frame, key), child, false, opts);
        } else if (child !== null && typeof child === 'object') {
          if (frame.depth + 1 > limit) throw tooDeep(pathOf(frame, key), opts);
          stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
        }
      }
    }
  }
}

/** `JSON.parse`, mapping a syntax error to 400 `invalid_json`. */
export function parseJsonText(text: string, what = 'JSON'): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new AbloValidationError(`${what} is not valid JSON: ${(err as Error).message}`, { code: 'invalid_json' });
  }
}

/** Parse untrusted JSON text and check it (`checkJson`). Throws `AbloValidationError`. */
export function parseJson(text: string, options: JsonCheckOptions = {}): unknown {
  const value = parseJsonText(text, options.what);
  checkJson(value, options);
  return value;
}

/** Levels of objects and arrays in a value (0 for a scalar), without recursion. */
export function jsonDepth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let max = 0;
  const stack: Array<[object, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) max = depth;
    const children = Array.isArray(v) ? v : Object.values(v);
    for (const c of children) if (c !== null && typeof c === 'object') stack.push([c as object, depth + 1]);
  }
  return max;
}

// ---------------------------------------------------------------------------
// Writing JSON at any depth.

/** A value as JSON.stringify sees it after `toJSON` and unboxing. */
function prepare(value: unknown, key: string | number): unknown {
  if (value === null || typeof value !== 'object') return value;
  let v: unknown = value;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(key: string): unknown }).toJSON(String(key));
  if (v instanceof Number || v instanceof String || v instanceof Boolean) v = v.valueOf();
  return v;
}

/** A scalar's JSON text, or undefined for what JSON drops (undefined, functions, symbols). */
function scalarText(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      throw new TypeError('Do not know how to serialize a BigInt');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      return v === null ? 'null' : undefined;
  }
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]*)$/;
const isArrayIndex = (k: string): boolean => ARRAY_INDEX.test(k) && Number(k) < 4294967295;

/**
 * Sorted keys in the order an object built by inserting them sorted would
 * list them: array-index keys first in numeric order, then the rest in
 * code-unit order. That is what canonical JSON has always produced (it built a
 * sorted copy and stringified it), so existing schema and request hashes hold.
 */
function canonicalKeyOrder(keys: string[]): string[] {
  let anyIndex = false;
  for (const k of keys) {
    const c = k.charCodeAt(0);
    if (c >= 48 && c <= 57 && isArrayIndex(k)) {
      anyIndex = true;
      break;
    }
  }
  if (!anyIndex) return keys.sort();
  const index: string[] = [];
  const rest: string[] = [];
  for (const k of keys) (isArrayIndex(k) ? index : rest).push(k);
  index.sort((a, b) => Number(a) - Number(b));
  return [...index, ...rest.sort()];
}

interface WriteFrame {
  value: object;
  /** Keys of an object (null for an array). */
  keys: string[] | null;
  index: number;
  wrote: boolean;
}

/** Past this depth the writer also checks for cycles (a cycle would otherwise nest without end). */
const CYCLE_CHECK_DEPTH = 1000;

/**
 * JSON text without recursion, the same as `JSON.stringify(value)` for JSON
 * data (toJSON, undefined and NaN handled alike); `sortKeys` sorts object keys
 * at every depth.
 */
function writeIteratively(value: unknown, sortKeys: boolean): string | undefined {
  const root = prepare(value, '');
  if (root === null || typeof root !== 'object') return scalarText(root);
  let out = '';
  let ancestors: Set<object> | null = null;
  const stack: WriteFrame[] = [];
  const open = (v: object): void => {
    if (stack.length >= CYCLE_CHECK_DEPTH) {
      ancestors ??= new Set(stack.map((f) => f.value));
      if (ancestors.has(v)) throw new TypeError('Converting circular structure to JSON');
      ancestors.add(v);
    }
    if (Array.isArray(v)) {
      out += '[';
      stack.push({ value: v, keys: null, index: 0, wrote: false });
    } else {
      const keys = Object.keys(v);
      out += '{';
      stack.push({ value: v, keys: sortKeys ? canonicalKeyOrder(keys) : keys, index: 0, wrote: false });
    }
  };
  const close = (top: WriteFrame): void => {
    stack.pop();
    if (ancestors && stack.length >= CYCLE_CHECK_DEPTH) ancestors.delete(top.value);
    else ancestors = null;
  };
  open(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const keys = top.keys;
    if (keys === null) {
      const arr = top.value as unknown[];
      if (top.index >= arr.length) {
        out += ']';
        close(top);
        continue;
      }
      const i = top.index++;
      if (top.wrote) out += ',';
      top.wrote = true;
      const child = prepare(arr[i], i);
      if (child !== null && typeof child === 'object') open(child);
      else out += scalarText(child) ?? 'null';
    } else {
      if (top.index >= keys.length) {
        out += '}';
        close(top);
        continue;
      }
      const key = keys[top.index++]!;
      const child = prepare((top.value as Record<string, unknown>)[key], key);
      if (child !== null && typeof child === 'object') {
        out += top.wrote ? `,${JSON.stringify(key)}:` : `${JSON.stringify(key)}:`;
        top.wrote = true;
        open(child);
      } else {
        const text = scalarText(child);
        if (text === undefined) continue;
        out += top.wrote ? `,${JSON.stringify(key)}:${text}` : `${JSON.stringify(key)}:${text}`;
        top.wrote = true;
      }
    }
  }
  return out;
}

function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

/**
 * `JSON.stringify` that works at any depth: the native one (fast), and when
 * a value is too deep for it, an iterative writer with the same output.
 */
export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value) as string;
  } catch (err) {
    if (!isStackOverflow(err)) throw err;
    return writeIteratively(value, false) as string;
  }
}

/**
 * A copy with keys inserted in sorted order (so array-index keys come first,
 * as objects list them), for the fast path of `canonicalJson`. Recursive: a
 * value too deep for it overflows, and `canonicalJson` falls back.
 */
function sortedCopy(value: unknown, key: string | number): unknown {
  const v = prepare(value, key);
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = sortedCopy(v[i], i);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined) continue;
    if (k === '__proto__') Object.defineProperty(out, k, { value: sortedCopy(x, k), enumerable: true, writable: true, configurable: true });
    else out[k] = sortedCopy(x, k);
  }
  return out;
}

/**
 * JSON with object keys sorted at every depth (arrays keep their order), at
 * any depth: a sorted copy through the native writer (fast), and when a value
 * is too deep for that, the iterative writer (same text).
 */
export function canonicalJson(value: unknown): string {
  try {
    return JSON.stringify(sortedCopy(value, '')) as string;
  } catch (err) {
    if (!isStackOverflow(err)) throw err;
    return writeIteratively(value, true) as string;
  }
}

/** `canonicalJson` through the iterative writer only (tests compare the two paths). */
export function canonicalJsonIterative(value: unknown): string {
  return writeIteratively(value, true) as string;
}

// ---------------------------------------------------------------------------
// JSON values in memory (the `json` field type).

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Why `value` is not a JSON value (undefined, NaN, a Date, a class instance,
 * a cycle…), as `{ path, message }`, or null when it is one. Iterative.
 */
export function jsonValueIssue(value: unknown): { path: Path; message: string } | null {
  const bad = (path: Path, what: string): { path: Path; message: string } => ({ path, message: `Expected a JSON value, got ${what}.` });
  const scalarIssue = (v: unknown): string | null => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return null;
      case 'number':
        return Number.isFinite(v) ? null : String(v);
      case 'object':
        return v === null ? null : 'object';
      default:
        return typeof v;
    }
  };
  const rootIssue = scalarIssue(value);
  if (rootIssue === null) {
    if (value === null || typeof value !== 'object') return null;
  } else if (rootIssue !== 'object') return bad([], rootIssue);
  const onStack = new Set<object>();
  const stack: Array<{ v: object; parent: Frame | null; frame: Frame; leaving: boolean }> = [];
  const rootFrame: Frame = { value: value as object, depth: 1, parent: null, key: '' };
  stack.push({ v: value as object, parent: null, frame: rootFrame, leaving: false });
  while (stack.length > 0) {
    const item = stack.pop()!;
    if (item.leaving) {
      onStack.delete(item.v);
      continue;
    }
    const v = item.v;
    if (!Array.isArray(v) && !isPlainObject(v)) return bad(pathOf(item.frame), v.constructor?.name ? `a ${v.constructor.name}` : 'an object that is not plain');
    if (onStack.has(v)) return bad(pathOf(item.frame), 'a circular reference');
    onStack.add(v);
    stack.push({ ...item, leaving: true });
    const entries: Array<[string | number, unknown]> = Array.isArray(v)
      ? Array.from({ length: v.length }, (_, i) => [i, v[i]] as [number, unknown])
      : Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]] as [string, unknown]);
    for (const [k, c] of entries) {
      const issue = scalarIssue(c);
      if (issue === null) continue;
      const frame: Frame = { value: c as object, depth: item.frame.depth + 1, parent: item.frame, key: k };
      if (issue !== 'object') return bad(pathOf(frame), issue);
      stack.push({ v: c as object, parent: item.frame, frame, leaving: false });
    }
  }
  return null;
}

/** A deep copy of a JSON value, without recursion; keys named `__proto__` stay plain data. */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  const copy = (v: object): object => (Array.isArray(v) ? new Array<unknown>(v.length) : {});
  const root = copy(value as object);
  const stack: Array<[object, object]> = [[value as object, root]];
  while (stack.length > 0) {
    const [from, to] = stack.pop()!;
    const keys = Array.isArray(from) ? Array.from({ length: from.length }, (_, i) => String(i)) : Object.keys(from);
    for (const k of keys) {
      let c = (from as Record<string, unknown>)[k];
      if (c !== null && typeof c === 'object') {
        const made = copy(c);
        stack.push([c, made]);
        c = made;
      }
      if (k === '__proto__') Object.defineProperty(to, k, { value: c, enumerable: true, writable: true, configurable: true });
      else (to as Record<string, unknown>)[k] = c;
    }
  }
  return root as T;
}
