/** Small helpers shared by the planner's modules. */

export function has(obj: object | undefined, key: string): boolean {
  return obj !== undefined && Object.prototype.hasOwnProperty.call(obj, key);
}

/** An own property (never one from the prototype, so `constructor` is not a model). */
export function get<T>(obj: Record<string, T> | undefined, key: string): T | undefined {
  return obj && has(obj, key) ? obj[key] : undefined;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Code-unit order, the same in every locale. */
export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The keys of both objects, once each, sorted. */
export function unionKeys(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(byString);
}
