/**
 * A commit frame checked without Zod, for the engine's hot path: every write
 * of every client comes through here. `quickCommitFrame` accepts only frames
 * that `commitFrameSchema` certainly accepts, in their common shapes (no
 * `reads`), and returns them as they are (Zod would return an equal copy);
 * anything else gives null, and the caller parses with Zod, which accepts or
 * refuses it with its usual messages. So acceptance and errors are Zod's; a
 * test holds the two equal over generated frames.
 */
import { MAX_OPERATIONS_PER_COMMIT } from './commit.js';
import type { CommitFrame } from './sync.js';

const ROW_ID = /^[A-Za-z0-9_\-:.]+$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function hasOwn(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

function str(v: unknown, min: number, max: number): boolean {
  return typeof v === 'string' && v.length >= min && v.length <= max;
}

function syncId(v: unknown): boolean {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function onStale(v: unknown): boolean {
  return v === 'reject' || v === 'overwrite' || v === 'notify';
}

function operation(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  const op = v.op;
  let n = 0;
  for (const k in v) {
    n++;
    switch (k) {
      case 'op':
        break;
      case 'model':
        if (!str(v.model, 1, 63)) return false;
        break;
      case 'id':
        if (!str(v.id, 1, 128) || !ROW_ID.test(v.id as string)) return false;
        break;
      case 'data':
        // Zod's record refuses an object whose own `constructor` key hides its class, and copies a `__proto__` key
        // into a prototype (the engine refuses such keys before, in checkJson): both left to Zod.
        if (op === 'delete' || !isPlainObject(v.data) || hasOwn(v.data, 'constructor') || hasOwn(v.data, '__proto__')) return false;
        break;
      case 'readAt':
        if (op === 'create' || !syncId(v.readAt)) return false;
        break;
      case 'onStale':
        if (op === 'create' || !onStale(v.onStale)) return false;
        break;
      default:
        return false;
    }
  }
  if (n !== Object.keys(v).length) return false;
  if (op !== 'create' && op !== 'update' && op !== 'delete') return false;
  if (!('model' in v)) return false;
  if (op !== 'create' && !('id' in v)) return false;
  if (op !== 'delete' && !('data' in v)) return false;
  return true;
}

/** The frame when it is a valid commit frame of a common shape; null: ask Zod. */
export function quickCommitFrame(raw: unknown): CommitFrame | null {
  if (!isPlainObject(raw) || raw.type !== 'commit' || !str(raw.ref, 1, 128)) return null;
  const commit = raw.commit;
  if (!isPlainObject(commit)) return null;
  const rawKeys = Object.keys(raw);
  if (rawKeys.length !== 3) return null;
  const keys = Object.keys(commit);
  for (const k of keys) {
    if (k === 'operations') continue;
    if (k === 'idempotencyKey') {
      if (!str(commit.idempotencyKey, 1, 255)) return null;
    } else if (k === 'label') {
      if (!str(commit.label, 0, 200)) return null;
    } else if (k === 'ageMs') {
      if (!syncId(commit.ageMs)) return null;
    } else return null;
  }
  const ops = commit.operations;
  if (!Array.isArray(ops) || ops.length < 1 || ops.length > MAX_OPERATIONS_PER_COMMIT) return null;
  for (let i = 0; i < ops.length; i++) if (!operation(ops[i])) return null;
  return raw as CommitFrame;
}
