/**
 * Row and transaction ids: `<prefix>_<ulid>`. ULIDs sort by creation time and
 * are monotonic within one process, so ids made in the same millisecond still
 * sort in the order they were made. Works in Node and browsers.
 */

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

let lastTime = -1;
const lastRandom = new Uint8Array(16);

/** Random bytes drawn 4 KiB at a time (one `getRandomValues` call serves 256 ids). */
const pool = new Uint8Array(4096);
let poolAt = pool.length;

function randomBytes(n: number): Uint8Array {
  if (poolAt + n > pool.length) {
    globalThis.crypto.getRandomValues(pool);
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + n);
  poolAt += n;
  return out;
}

function encodeTime(time: number): string {
  let out = '';
  let t = time;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** 26-character ULID, monotonic within this process. */
export function ulid(now: number = Date.now()): string {
  if (now <= lastTime) {
    // Same millisecond (or a clock step back): increment the previous random part.
    for (let i = 15; i >= 0; i--) {
      if (lastRandom[i]! < 31) {
        lastRandom[i]!++;
        break;
      }
      lastRandom[i] = 0;
    }
  } else {
    lastTime = now;
    const bytes = randomBytes(16);
    for (let i = 0; i < 16; i++) lastRandom[i] = bytes[i]! % 32;
  }
  let rand = '';
  for (let i = 0; i < 16; i++) rand += ALPHABET[lastRandom[i]!];
  return encodeTime(Math.max(now, lastTime)) + rand;
}

export function generateId(prefix: string): string {
  return `${prefix}_${ulid()}`;
}
