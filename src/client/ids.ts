/**
 * Row ids derived from an idempotency key, so that a create sent again with
 * the same key (from this process, another one, or after a restart) names the
 * same row and the engine can replay the first result.
 *
 * Same shape as `generateId` in src/protocol/ids.ts: `<prefix>_` and 26
 * Crockford base-32 characters, a valid ULID (first character 0-7). The
 * characters come from SHA-256 (pure JS, runs in browsers), not from the
 * clock, so these ids do not sort by creation time.
 */
import { sha256Hex } from '../schema/sha256.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * The id of the `index`-th id-less create of `model` in a commit with this
 * idempotency key (a single `create` is index 0).
 */
export function idFromIdempotencyKey(prefix: string, model: string, idempotencyKey: string, index = 0): string {
  const hex = sha256Hex(`ablo.row-id\u0000${model}\u0000${idempotencyKey}${index > 0 ? `\u0000${index}` : ''}`);
  // 128 bits: 3 for the first character (a ULID's time part starts at 0-7), then 25 × 5.
  let bits = '';
  for (let i = 0; i < 32; i++) bits += parseInt(hex[i]!, 16).toString(2).padStart(4, '0');
  let out = ALPHABET[parseInt(bits.slice(0, 3), 2)]!;
  for (let i = 3; i < 128; i += 5) out += ALPHABET[parseInt(bits.slice(i, i + 5), 2)]!;
  return `${prefix}_${out}`;
}
