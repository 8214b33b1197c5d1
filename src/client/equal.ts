/**
 * Arrays a live query published, in order: array → (owner, sequence number,
 * whether it is structurally equal to the owner's array before it). Comparing
 * a result with the one just before it is then one lookup instead of a walk.
 * Nothing here holds an array: entries go with their arrays.
 */
const published = new WeakMap<readonly unknown[], { owner: object; seq: number; sameAsPrevious: boolean | (() => boolean) }>();

/**
 * Record that `owner` published `array` (frozen, never changed after) as its `seq`-th result.
 * `sameAsPrevious` may be a function: it runs (once) only when a comparison needs the answer.
 */
export function notePublished(owner: object, seq: number, array: readonly unknown[], sameAsPrevious: boolean | (() => boolean)): void {
  published.set(array, { owner, seq, sameAsPrevious });
}

function sameAs(entry: { sameAsPrevious: boolean | (() => boolean) }): boolean {
  if (typeof entry.sameAsPrevious === 'function') entry.sameAsPrevious = entry.sameAsPrevious();
  return entry.sameAsPrevious;
}

/** Equality of two consecutive results of one owner, if `a` and `b` are that. */
function consecutive(a: readonly unknown[], b: readonly unknown[]): boolean | undefined {
  const pa = published.get(a);
  const pb = pa && published.get(b);
  if (!pa || !pb || pa.owner !== pb.owner) return undefined;
  if (pb.seq === pa.seq + 1) return sameAs(pb);
  if (pa.seq === pb.seq + 1) return sameAs(pa);
  return undefined;
}

/** Structural equality for selector results: primitives, arrays, plain objects, Dates, Maps and Sets. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    const known = consecutive(a, b);
    if (known !== undefined) return known;
    // The same element (most of a live query's array after one change) is settled without a call.
    for (let i = 0; i < a.length; i++) {
      const x: unknown = a[i];
      const y: unknown = b[i];
      if (!Object.is(x, y) && !deepEqual(x, y)) return false;
    }
    return true;
  }
  if (Array.isArray(b)) return false;
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
