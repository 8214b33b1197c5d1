/**
 * Rate limits per credential (`Principal.credentialId`): commits per second
 * (a token bucket: `commitBurst` at once, refilled at `commitsPerSecond`) and
 * sync sockets open at once. Over a limit the request is refused before any
 * work (nothing is written), with `rate_limited` and `retryAfterMs`: HTTP
 * 429 with `Retry-After`, an error frame for a socket's commit (the socket
 * stays open), a refused upgrade for one socket too many.
 *
 * On by default for session tokens and restricted keys, off for secret keys
 * (server jobs and benchmarks are not throttled unless configured: `kinds`).
 * A principal without `kind` (a custom authenticator's) counts as a secret
 * key. Counts are kept per engine process: behind N processes a credential
 * may reach N times the limits.
 *
 * A credential that is not limited costs one Set lookup per commit, nothing
 * allocated.
 */
import { AbloRateLimitError, AbloValidationError } from '../../errors.js';
import type { Principal, PrincipalKind } from './principal.js';

export interface RateLimitOptions {
  /** Commits per second a credential may make on average (default 20). HTTP row writes count as commits. */
  commitsPerSecond?: number;
  /** Commits a credential may make at once before the rate applies (default 2 × commitsPerSecond). */
  commitBurst?: number;
  /** Sync sockets a credential may have open at once (default 10). */
  connections?: number;
  /** Which credentials are limited (default `['session', 'restricted']`; add `'secret'` to limit secret keys too). */
  kinds?: readonly PrincipalKind[];
}

export const RATE_LIMIT_DEFAULTS = { commitsPerSecond: 20, connections: 10, kinds: ['session', 'restricted'] } as const;

/** A socket's refusal time: its commits are refused until `until` (ms, the limiter's clock). */
export interface CommitHold {
  until: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, monotonic). */
  at: number;
}

/** How often buckets that have filled up again are dropped (a full bucket is the same as none). */
const SWEEP_MS = 60_000;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
    throw new AbloValidationError(`rateLimits.${name} must be a positive number (got ${String(value)}).`, { code: 'invalid_option', field: `rateLimits.${name}` });
  }
  return value;
}

export class RateLimiter {
  private readonly kinds: ReadonlySet<PrincipalKind>;
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxConnections: number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly open = new Map<string, number>();
  private readonly sweeper: ReturnType<typeof setInterval> | null = null;

  /** `false`: no limits at all. */
  constructor(
    options: RateLimitOptions | false = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    if (options === false) {
      this.kinds = new Set();
      this.rate = this.burst = this.maxConnections = Infinity;
      return;
    }
    this.rate = positive('commitsPerSecond', options.commitsPerSecond, RATE_LIMIT_DEFAULTS.commitsPerSecond);
    this.burst = positive('commitBurst', options.commitBurst, Math.max(1, 2 * this.rate));
    this.maxConnections = Math.floor(positive('connections', options.connections, RATE_LIMIT_DEFAULTS.connections));
    this.kinds = new Set(options.kinds ?? RATE_LIMIT_DEFAULTS.kinds);
    if (this.kinds.size > 0) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref?.();
    }
  }

  /** Whether this principal's credential is limited. */
  limits(principal: Principal): boolean {
    return this.kinds.has(principal.kind ?? 'secret');
  }

  /**
   * One commit (socket frame, `POST /v1/commits`, an HTTP row write): takes a
   * token, or throws `rate_limited`. `hold` (one per socket) keeps a socket's
   * order: after a refusal, its later commits are refused too until the
   * retry time, so the client resends them all, in their order, after it.
   */
  commit(principal: Principal, hold?: CommitHold): void {
    if (!this.kinds.has(principal.kind ?? 'secret')) return;
    const t = this.now();
    if (hold && hold.until > t) throw this.commitsRefused(Math.ceil(hold.until - t));
    let b = this.buckets.get(principal.credentialId);
    if (b === undefined) {
      b = { tokens: this.burst, at: t };
      this.buckets.set(principal.credentialId, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) * this.rate) / 1000);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const retryAfterMs = Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / this.rate));
    if (hold) hold.until = t + retryAfterMs;
    throw this.commitsRefused(retryAfterMs);
  }

  private commitsRefused(retryAfterMs: number): AbloRateLimitError {
    return new AbloRateLimitError(
      `This credential made more than ${this.rate} commits per second (burst ${this.burst}). Retry after ${retryAfterMs} ms; the SDK does this on its own.`,
      { code: 'rate_limited', limit: 'commits', commitsPerSecond: this.rate, burst: this.burst, retryAfterMs },
    );
  }

  /**
   * One more sync socket of this principal's credential: a release function
   * (call it once when the socket ends), or `rate_limited` when the
   * credential has `connections` open already.
   */
  connect(principal: Principal): () => void {
    if (!this.kinds.has(principal.kind ?? 'secret')) return noop;
    const id = principal.credentialId;
    const n = this.open.get(id) ?? 0;
    if (n >= this.maxConnections) {
      throw new AbloRateLimitError(
        `This credential has ${n} sync connections open, the most one credential may have. Close one (dispose a client you no longer use), or retry after 1 s.`,
        { code: 'rate_limited', limit: 'connections', connections: this.maxConnections, retryAfterMs: 1000 },
      );
    }
    this.open.set(id, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(id) ?? 1) - 1;
      if (left <= 0) this.open.delete(id);
      else this.open.set(id, left);
    };
  }

  /** Drop buckets that have filled up again. */
  private sweep(): void {
    const t = this.now();
    for (const [id, b] of this.buckets) if (b.tokens + ((t - b.at) * this.rate) / 1000 >= this.burst) this.buckets.delete(id);
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}

const noop = (): void => {};

/**
 * Whether an HTTP request is a commit for the rate limits: `POST /v1/commits`
 * and row writes (`POST`/`PATCH`/`DELETE` under `/v1/models`, claims aside).
 */
export function isCommitRequest(method: string, segments: readonly string[]): boolean {
  if (method === 'GET' || method === 'HEAD') return false;
  const resource = segments[1];
  if (resource === 'commits') return true;
  return resource === 'models' && segments[4] !== 'claim';
}

/** Seconds for a `Retry-After` header (at least 1). */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}
