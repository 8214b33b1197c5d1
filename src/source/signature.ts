/**
 * Standard Webhooks v1 signatures for Data Source requests, both ways: the
 * engine signs what it sends to a source (and a source's pushes to the engine
 * are signed the same way), the receiver verifies before it parses.
 *
 * - headers `webhook-id`, `webhook-timestamp` (Unix seconds) and
 *   `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`,
 *   several space-separated during a secret rotation;
 * - secrets are `whsec_<base64 key>` (a bare base64 key is taken too);
 * - a timestamp more than `toleranceSeconds` (300) away from now, in either
 *   direction, is refused; so is a request whose id and timestamp were seen
 *   before (`replay`), when the caller keeps a `ReplayGuard`.
 *
 * Uses only `node:crypto`, which Node, Bun, Deno and the edge runtimes of
 * Next.js on Node provide.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_ID = 'webhook-id';
export const WEBHOOK_TIMESTAMP = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE = 'webhook-signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;
const SECRET_PREFIX = 'whsec_';

export type SignatureFailure =
  | 'missing_header'
  | 'bad_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_in_future'
  | 'bad_signature'
  | 'replayed'
  | 'no_secret';

/** Why a request was refused; `reason` is stable (tests and logs match on it). */
export class SourceSignatureError extends Error {
  readonly code = 'invalid_signature' as const;
  constructor(
    readonly reason: SignatureFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SourceSignatureError';
  }
}

/** A new signing secret: `whsec_` and 32 random bytes in base64. */
export function generateSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * The key bytes of a `whsec_…` secret (or a bare base64 key). Node's base64
 * decoder skips characters it does not know, so a mistyped secret would
 * silently become another key and every request would fail as
 * `bad_signature`; checking the alphabet first names the real problem.
 */
function secretKey(secret: string): Buffer {
  const raw = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = BASE64.test(raw) ? Buffer.from(raw, 'base64') : Buffer.alloc(0);
  if (key.length === 0) throw new SourceSignatureError('no_secret', 'The signing secret is empty or not base64 (expected whsec_<base64>).');
  return key;
}

/**
 * Throws `SourceSignatureError('no_secret')` unless every secret given is
 * usable: lets a handler refuse a bad configuration when it is built rather
 * than on its first request.
 */
export function assertSigningSecrets(secret: string | readonly string[]): void {
  for (const s of secretList(secret)) secretKey(s);
}

/** Secrets as a list: one string may hold several, space-separated (a rotation). */
export function secretList(secret: string | readonly string[]): string[] {
  // Reached from JavaScript, or with an unset environment variable cast to string.
  if (secret === undefined || secret === null) throw new SourceSignatureError('no_secret', 'No signing secret is set.');
  const list = (typeof secret === 'string' ? [secret] : [...secret]).flatMap((s) => s.split(/\s+/)).filter((s) => s.length > 0);
  if (list.length === 0) throw new SourceSignatureError('no_secret', 'No signing secret is set.');
  return list;
}

function sign(key: Buffer, id: string, timestamp: number, body: string): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
}

export interface SignOptions {
  /** The request's id; a retry of the same request keeps it. Default: a new `msg_…` id. */
  id?: string;
  /** Unix seconds. Default: now. */
  timestamp?: number;
}

/**
 * The three headers for `body`, signed with every secret given (during a
 * rotation, old and new: a receiver that knows either one accepts).
 */
export function signAbloSourceRequest(
  body: string,
  secret: string | readonly string[],
  options: SignOptions = {},
): Record<typeof WEBHOOK_ID | typeof WEBHOOK_TIMESTAMP | typeof WEBHOOK_SIGNATURE, string> {
  const id = options.id ?? `msg_${randomBytes(16).toString('hex')}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const signatures = secretList(secret).map((s) => `v1,${sign(secretKey(s), id, timestamp, body)}`);
  return { [WEBHOOK_ID]: id, [WEBHOOK_TIMESTAMP]: String(timestamp), [WEBHOOK_SIGNATURE]: signatures.join(' ') };
}

/**
 * Remembers the requests seen within the tolerance window, to refuse an exact
 * replay. An entry may be forgotten once its timestamp is outside the window,
 * because the timestamp check refuses such a request anyway; so the window
 * must be at least the verifier's tolerance (`dataSource` uses twice it).
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private lastSweep = 0;
  constructor(private readonly windowSeconds = DEFAULT_TOLERANCE_SECONDS * 2) {}

  /** True the first time `id` + `timestamp` is offered, false after. */
  firstTime(id: string, timestamp: number, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
    // At most one sweep a second: under steady load every entry may still be in the window, and sweeping on each call would cost O(n) per request.
    if (this.seen.size > 1000 && nowSeconds !== this.lastSweep) this.sweep(nowSeconds);
    const key = `${id}\u0000${timestamp}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, timestamp);
    return true;
  }

  private sweep(nowSeconds: number): void {
    this.lastSweep = nowSeconds;
    for (const [key, ts] of this.seen) if (Math.abs(nowSeconds - ts) > this.windowSeconds) this.seen.delete(key);
  }
}

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const value = record[name] ?? Object.entries(record).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

export interface VerifyOptions {
  toleranceSeconds?: number;
  /** Refuse a request whose id and timestamp were seen before. */
  replay?: ReplayGuard;
  /** Unix seconds (tests). */
  now?: number;
}

export interface VerifiedRequest {
  id: string;
  timestamp: number;
}

/**
 * Check a request's signature against its raw body (the exact bytes sent,
 * before any JSON parsing). Throws `SourceSignatureError` with the reason;
 * answers the request's id and timestamp.
 */
export function verifyAbloSourceRequest(
  request: { headers: HeaderSource; body: string | Uint8Array },
  secret: string | readonly string[],
  options: VerifyOptions = {},
): VerifiedRequest {
  const secrets = secretList(secret);
  const id = header(request.headers, WEBHOOK_ID);
  const ts = header(request.headers, WEBHOOK_TIMESTAMP);
  const sig = header(request.headers, WEBHOOK_SIGNATURE);
  if (!id || !ts || !sig) {
    throw new SourceSignatureError('missing_header', `The request lacks ${[!id && WEBHOOK_ID, !ts && WEBHOOK_TIMESTAMP, !sig && WEBHOOK_SIGNATURE].filter(Boolean).join(', ')}.`);
  }
  if (!/^\d{1,12}$/.test(ts)) throw new SourceSignatureError('bad_timestamp', `${WEBHOOK_TIMESTAMP} is not Unix seconds.`);
  const timestamp = Number(ts);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (now - timestamp > tolerance) throw new SourceSignatureError('timestamp_too_old', `The request was signed ${now - timestamp} s ago, over the ${tolerance} s tolerance.`);
  if (timestamp - now > tolerance) throw new SourceSignatureError('timestamp_in_future', `The request is dated ${timestamp - now} s in the future, over the ${tolerance} s tolerance.`);
  const body = typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
  const offered = sig
    .split(' ')
    .filter((part) => part.startsWith('v1,'))
    .map((part) => Buffer.from(part.slice(3), 'base64'));
  const matches = secrets.some((s) => {
    const expected = Buffer.from(sign(secretKey(s), id, timestamp, body), 'base64');
    return offered.some((o) => o.length === expected.length && timingSafeEqual(o, expected));
  });
  if (!matches) throw new SourceSignatureError('bad_signature', 'No signature matches: the body was changed, or the signing secret differs.');
  if (options.replay && !options.replay.firstTime(id, timestamp, now)) {
    throw new SourceSignatureError('replayed', `Request ${id} was already received with this timestamp (a replay).`);
  }
  return { id, timestamp };
}
