/**
 * `fetchToken`: where a client gets its session tokens (docs/auth.md).
 *
 * The app's server mints a short-lived session token for its user; the SDK
 * asks `fetchToken()` for the first one and for every later one. One refresh
 * runs at a time: every caller that finds the token stale (the socket's
 * timer, an HTTP request refused 401) shares it.
 *
 * When to refresh: a token `ek_<payload>.<sig>` names its expiry (`e`, epoch
 * seconds, in the base64url JSON payload). The SDK refreshes when what is
 * left of it is the smaller of 60 s and a fifth of its lifetime as seen here
 * (a 15-minute token a minute before it expires; a 5-second token one second
 * before). Tokens it cannot read (API keys, other formats) are not refreshed
 * on a timer, only when the engine refuses them.
 */
import { AbloAuthenticationError } from '../errors.js';

/** Refresh when at most this much of a token's life is left (or a fifth of its lifetime, when smaller). */
export const REFRESH_AHEAD_MS = 60_000;

function base64UrlDecode(part: string): string {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const atob = (globalThis as { atob?: (s: string) => string }).atob;
  const binary = atob ? atob(padded) : '';
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The expiry (ms since the epoch) a session token names, or null when it is not one this SDK can read. */
export function tokenExpiry(token: string): number | null {
  if (!token.startsWith('ek_')) return null;
  const dot = token.lastIndexOf('.');
  if (dot < 0) return null;
  try {
    const e = (JSON.parse(base64UrlDecode(token.slice(3, dot))) as { e?: unknown }).e;
    return typeof e === 'number' && Number.isFinite(e) ? e * 1000 : null;
  } catch {
    return null;
  }
}

export class TokenSource {
  private token: string | null = null;
  /** When the current token was received (its lifetime as seen here starts then). */
  private receivedAt = 0;
  private refreshing: Promise<string> | null = null;

  constructor(
    private readonly fetchToken: () => Promise<string>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The token last received, if any. */
  get current(): string | null {
    return this.token;
  }

  /** A token to use now: the current one while it has not expired, else a new one. */
  async get(): Promise<string> {
    const t = this.token;
    if (t !== null) {
      const exp = tokenExpiry(t);
      if (exp === null || exp > this.now()) return t;
    }
    return this.refresh(t ?? undefined);
  }

  /**
   * A new token from `fetchToken`. `stale`: the token the caller found wanting; when another caller replaced it
   * already, that newer one is the answer (no second fetch). Concurrent calls share one fetch.
   */
  refresh(stale?: string): Promise<string> {
    if (stale !== undefined && this.token !== null && this.token !== stale && !this.refreshing) return Promise.resolve(this.token);
    this.refreshing ??= (async () => {
      try {
        let token: unknown;
        try {
          token = await this.fetchToken();
        } catch (err) {
          throw new AbloAuthenticationError(`fetchToken() failed: ${(err as Error)?.message ?? String(err)}`, { code: 'token_fetch_failed', cause: String(err) });
        }
        if (typeof token !== 'string' || token.length === 0) {
          throw new AbloAuthenticationError(`fetchToken() must resolve to a session token string (got ${token === '' ? 'an empty string' : typeof token}).`, {
            code: 'token_fetch_failed',
          });
        }
        this.token = token;
        this.receivedAt = this.now();
        return token;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Forget the current token (the engine refused it): the next `get()` fetches a new one. */
  invalidate(token?: string): void {
    if (token === undefined || this.token === token) this.token = null;
  }

  /** Milliseconds until `token` should be refreshed (0: now), or null when it names no expiry. */
  refreshDelay(token: string): number | null {
    const exp = tokenExpiry(token);
    if (exp === null) return null;
    const now = this.now();
    const lifetime = Math.max(0, exp - (token === this.token ? this.receivedAt : now));
    const ahead = Math.min(REFRESH_AHEAD_MS, lifetime / 5);
    return Math.max(0, exp - ahead - now);
  }
}
