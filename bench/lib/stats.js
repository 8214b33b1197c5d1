/**
 * Small statistics helpers shared by the benches.
 */

/** Linear-interpolated quantile of an ascending array. */
export function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** p50 / p99 / max / mean of an array (or typed array) of numbers. */
export function summarize(values) {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: s.length,
    p50: quantile(s, 0.5),
    p99: quantile(s, 0.99),
    max: s.length ? s[s.length - 1] : NaN,
    mean: s.length ? sum / s.length : NaN,
  };
}

export const round = (n, digits = 2) => {
  if (typeof n !== 'number' || !Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export const wallNow = () => performance.timeOrigin + performance.now();
