/**
 * One sync socket with reconnects: hello on open, jittered exponential
 * backoff after a drop, a ping when the line is quiet, and a status the
 * client turns into `connection:change` events.
 *
 * Failover: with several engine URLs, each reconnect goes to the next one
 * (round robin, with the same backoff), so a dropped or unreachable engine
 * is replaced by the next that answers. A close with 4006 (the engine is
 * draining) moves to the next URL at once, without waiting out the backoff.
 *
 * Tokens (`fetchToken`, ./token.ts): each socket opens with a token from the
 * source; before it expires a fresh one goes over the open socket in an
 * `auth` frame (answered `auth_ok`). A close 4007 (`token_expired`: no fresh
 * token came in time) fetches a new one and reconnects at once; 4008 (the
 * fresh token no longer covers the groups) says hello again with it. A 4001
 * stays final, except once after `revoked_token` / `token_expired`: the
 * source is asked for a new token and the hello tried with it; a second
 * refusal, or a source that fails then, is final.
 */
import { AbloAuthenticationError, AbloConnectionError, AbloValidationError, errorFromEnvelope } from '../errors.js';
import type { ParticipantRef } from '../protocol/commit.js';
import { CLOSE_CODES, SYNC_PROTOCOL_VERSION, protocolRangeFromReason, protocolRefusedError } from '../protocol/sync.js';
import type { TokenSource } from './token.js';

/** Refusals a token source may cure: the hello is tried once more with a new token. */
const REFRESHABLE = new Set(['token_expired', 'revoked_token']);
/** After a failed refresh, try again this soon (the socket's token still works until it expires). */
const REFRESH_RETRY_MS = 1000;

/**
 * `unauthorized`: the engine refused the key (wrong, revoked or expired; close
 * code 4001). The client stops and does not reconnect.
 */
export type ConnectionStatus = 'connecting' | 'syncing' | 'live' | 'offline' | 'closed' | 'unauthorized';

/** The part of the WebSocket API both browsers and the `ws` package provide. */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

export interface ConnectionOptions {
  /** The sync URLs (`ws(s)://…/v1/sync`) of the engines to use, in order of preference; at least one. */
  urls: readonly string[];
  /** The credential of every socket, unless `tokens` gives them. */
  apiKey?: string;
  /** Session tokens from the app's `fetchToken` (refreshed before expiry, over the open socket). */
  tokens?: TokenSource;
  /** Sync groups for the hello; undefined: none named (the engine sends every group the credential may read). */
  groups?: string[] | undefined;
  participant?: ParticipantRef;
  schemaHash: string;
  /** Last sync id the local store has applied (undefined before the first bootstrap). */
  lastSyncId: () => number | undefined;
  onFrame: (frame: { type: string; [key: string]: unknown }) => void;
  onStatus: (status: ConnectionStatus, detail?: { code?: number; reason?: string }) => void;
  /** A failure that retrying cannot fix (a refused key). */
  onFatal: (error: Error) => void;
  /**
   * The hello was refused (4001) with `code`: true when the client changed what the next hello asks (it named
   * groups from `setSyncGroups` that the credential may not use, and went back to its own): reconnect, not final.
   */
  retryRefusedHello?: (code: string | undefined) => boolean;
  /** Told about every reconnect that is scheduled (attempt, delay, reason, the URL it will try). */
  onRetry?: (retry: { attempt: number; delayMs: number; reason: string; url: string }) => void;
  socketFactory?: SocketFactory;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  pingMs?: number;
}

const OPEN = 1;
/** Longest wait before reconnecting after a drain close (4006). */
const DRAIN_JITTER_MS = 250;

/**
 * `ws`, for Node 20 (no global WebSocket). The specifier is a variable, and
 * the import carries the bundlers' ignore markers (Vite's, webpack's), so a
 * browser bundle never pulls `ws` in (test/package/browser-bundle.test.ts
 * builds one with Vite and esbuild); browsers use their native WebSocket and
 * never get here. Node resolves it at run time from ablo's own dependencies.
 */
const NODE_WEBSOCKET_PACKAGE = 'ws';

async function defaultFactory(): Promise<SocketFactory> {
  const native = (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
  if (native) return (url) => new native(url);
  const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
  if (!node) throw new Error('this runtime has no WebSocket; pass webSocket to Ablo()');
  const mod = (await import(/* @vite-ignore */ /* webpackIgnore: true */ NODE_WEBSOCKET_PACKAGE)) as { default: new (url: string) => SocketLike };
  return (url) => new mod.default(url);
}

function decode(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return String(data);
}

export class Connection {
  status: ConnectionStatus = 'connecting';
  private socket: SocketLike | null = null;
  private factory: SocketFactory | null;
  private attempt = 0;
  /** Reconnect attempts since the client was last live (for logs; `attempt` is capped for the backoff). */
  private retries = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private closed = false;
  private lastError: string | null = null;
  /** Why the last connection attempt or socket ended, for messages and logs. */
  lastFailure: string | null = null;
  /** The engine's `unsupported_protocol` error frame, if it sent one. */
  private protocolRefusal: unknown = null;
  /** Index in `options.urls` of the engine this socket uses (or will try next). */
  private index = 0;
  /** The credential the current socket said hello with (or was last given in an `auth_ok`). */
  private credential: string | null = null;
  /** The engine welcomed the current socket (an `auth` frame may go now). */
  private welcomed = false;
  /** The engine's authentication error frame (no ref) on the current socket, if any: said before its close. */
  private refusal: { code?: string; [k: string]: unknown } | null = null;
  /** A refused token was replaced once since the client was last live (the next refusal is final). */
  private retriedRefusal = false;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** The `auth` frame in flight: its ref and token. */
  private authInFlight: { ref: string; token: string } | null = null;
  private authSeq = 0;

  constructor(private readonly options: ConnectionOptions) {
    this.factory = options.socketFactory ?? null;
  }

  start(): void {
    void this.open();
  }

  /** The sync URL of the engine in use (or tried next). */
  get url(): string {
    return this.options.urls[this.index]!;
  }

  /** Index in the URL list of the engine in use (or tried next). */
  get urlIndex(): number {
    return this.index;
  }

  /** Send a frame if the socket is open; returns false when it is not. */
  send(frame: unknown): boolean {
    if (!this.socket || this.socket.readyState !== OPEN) return false;
    try {
      this.socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** The groups the next hello names (`setSyncGroups`). */
  setGroups(groups: string[] | undefined): void {
    this.options.groups = groups;
  }

  /** The client has finished its bootstrap or catch-up. */
  markLive(): void {
    this.attempt = 0;
    this.retries = 0;
    this.retriedRefusal = false;
    this.setStatus('live');
  }

  /** Stop for good: `closed` (disposed, or a fatal error) or `unauthorized` (the key was refused). */
  close(status: 'closed' | 'unauthorized' = 'closed', detail?: { code?: number; reason?: string }): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = null;
      s.onmessage = null;
      // Not null: `ws` reports closing a socket still connecting as an 'error' event, which must have a listener.
      s.onerror = () => {};
      try {
        s.close(1000, 'client disposed');
      } catch {
        // already closed
      }
    }
    this.setStatus(status, detail);
  }

  /** While waiting to reconnect, try now instead of when the backoff ends. */
  retryNow(): void {
    if (this.closed || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.open();
  }

  /** Drop the current socket and reconnect (used when the line goes quiet). */
  reconnectNow(): void {
    const s = this.socket;
    if (s) {
      try {
        s.close(4000, 'reconnecting');
      } catch {
        // ignore
      }
    }
  }

  private setStatus(status: ConnectionStatus, detail?: { code?: number; reason?: string }): void {
    if (this.status === status) return;
    this.status = status;
    this.options.onStatus(status, detail);
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    this.setStatus('connecting');
    try {
      this.factory ??= await defaultFactory();
    } catch (err) {
      this.options.onFatal(new AbloConnectionError(`No WebSocket implementation available: ${(err as Error).message}`, { code: 'no_websocket' }));
      return;
    }
    if (this.closed) return;
    let credential: string;
    if (this.options.tokens) {
      try {
        credential = await this.options.tokens.get();
      } catch (err) {
        if (this.closed) return;
        if (this.retriedRefusal && this.refusal) {
          // The engine refused the last token and the source has no new one: final.
          this.refuseFinally();
          return;
        }
        this.lastFailure = (err as Error).message;
        this.setStatus('offline', { reason: this.lastFailure });
        this.scheduleReconnect(this.lastFailure);
        return;
      }
      if (this.closed) return;
    } else credential = this.options.apiKey ?? '';
    this.credential = credential;
    this.welcomed = false;
    this.refusal = null;
    this.authInFlight = null;
    let socket: SocketLike;
    try {
      socket = this.factory(this.url);
    } catch (err) {
      this.options.onFatal(new AbloValidationError(`Invalid engine URL ${this.url}: ${(err as Error).message}`, { code: 'invalid_url' }));
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.lastHeard = Date.now();
      this.setStatus('syncing');
      const lastSyncId = this.options.lastSyncId();
      socket.send(
        JSON.stringify({
          type: 'hello',
          protocol: SYNC_PROTOCOL_VERSION,
          apiKey: credential,
          ...(this.options.groups ? { groups: this.options.groups } : {}),
          schemaHash: this.options.schemaHash,
          ...(lastSyncId !== undefined ? { lastSyncId } : {}),
          ...(this.options.participant ? { participant: this.options.participant } : {}),
        }),
      );
      this.startPing();
    };
    socket.onmessage = (ev) => {
      this.lastHeard = Date.now();
      let frame: { type: string; [key: string]: unknown };
      try {
        frame = JSON.parse(decode(ev.data));
      } catch {
        return;
      }
      if (this.socket !== socket) return;
      // The engine's full words for a refused protocol come before its 4005 close.
      if (frame.type === 'error' && (frame.error as { code?: unknown } | undefined)?.code === 'unsupported_protocol') this.protocolRefusal = frame.error;
      if (this.onTokenFrame(frame)) return;
      this.options.onFrame(frame);
    };
    socket.onerror = (ev) => {
      // onclose follows and decides what to do; keep the cause for messages
      // (`ws` gives an Error-like event with a message, browsers give none).
      const message = (ev as { message?: unknown } | null)?.message;
      if (typeof message === 'string' && message) this.lastError = message;
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.pingTimer) clearInterval(this.pingTimer);
      if (this.refreshTimer) clearTimeout(this.refreshTimer);
      this.refreshTimer = null;
      this.welcomed = false;
      const failure = this.lastError ?? (ev.reason ? `closed ${ev.code}: ${ev.reason}` : `closed ${ev.code}`);
      this.lastError = null;
      this.lastFailure = failure;
      if (this.closed) return;
      const tokens = this.options.tokens;
      if (tokens && (ev.code === CLOSE_CODES.token_expired || ev.code === CLOSE_CODES.scope_narrowed)) {
        // Expired: a new token, and a hello at once. Narrowed: a hello with the token the auth frame carried.
        if (ev.code === CLOSE_CODES.token_expired) tokens.invalidate(this.credential ?? undefined);
        this.setStatus('offline', ev);
        this.scheduleReconnect(failure, true);
        return;
      }
      if (tokens && ev.code === CLOSE_CODES.authentication_failed && !this.retriedRefusal && REFRESHABLE.has(String(this.refusal?.code))) {
        // Revoked (or expired, from an older engine): ask the app once for a new token; a second refusal is final.
        this.retriedRefusal = true;
        tokens.invalidate(this.credential ?? undefined);
        this.setStatus('offline', ev);
        this.scheduleReconnect(failure, true);
        return;
      }
      if (ev.code === CLOSE_CODES.authentication_failed && this.options.retryRefusedHello?.(this.refusal?.code)) {
        this.refusal = null;
        this.setStatus('offline', ev);
        this.scheduleReconnect(failure, true);
        return;
      }
      if (ev.code === CLOSE_CODES.authentication_failed || ev.code === CLOSE_CODES.token_expired) {
        // The key was refused (wrong, revoked, expired): retrying cannot help.
        this.refuseFinally(ev);
        return;
      }
      if (ev.code === CLOSE_CODES.unsupported_protocol) {
        // This client and the engine speak no common protocol: retrying cannot help either.
        const range = protocolRangeFromReason(ev.reason ?? '');
        const error = this.protocolRefusal
          ? errorFromEnvelope({ error: this.protocolRefusal })
          : range
            ? protocolRefusedError(SYNC_PROTOCOL_VERSION, range)
            : new AbloConnectionError(`The engine refused this client's sync protocol ${SYNC_PROTOCOL_VERSION} (${ev.reason || 'no reason given'}).`, {
                code: 'unsupported_protocol',
                protocol: SYNC_PROTOCOL_VERSION,
              });
        this.close('closed', ev);
        this.options.onFatal(error);
        return;
      }
      this.setStatus('offline', ev);
      // Round robin: the next attempt goes to the next engine (the same one when there is only one).
      this.index = (this.index + 1) % this.options.urls.length;
      this.scheduleReconnect(failure, ev.code === CLOSE_CODES.engine_draining);
    };
  }

  /** Stop as `unauthorized`, with the engine's own error when it sent one. */
  private refuseFinally(ev?: { code: number; reason: string }): void {
    const refusal = this.refusal;
    this.close('unauthorized', ev);
    this.options.onFatal(
      refusal
        ? errorFromEnvelope({ error: refusal })
        : new AbloAuthenticationError(`The engine refused this credential and closed the connection (${ev?.reason || 'authentication failed'}). Use a valid key or token.`, {
            code: 'authentication_failed',
          }),
    );
  }

  /**
   * Frames about the socket's credential: `welcome` and `auth_ok` (re)arm the refresh timer; the answer to our
   * `auth` frame and, with a token source, an authentication refusal are handled here (returns true: not passed on).
   */
  private onTokenFrame(frame: { type: string; [key: string]: unknown }): boolean {
    if (frame.type === 'welcome') {
      this.welcomed = true;
      if (this.credential) this.scheduleRefresh(this.credential);
      return false;
    }
    const auth = this.authInFlight;
    if (frame.type === 'auth_ok') {
      if (!auth || frame.ref !== auth.ref) return true;
      this.authInFlight = null;
      this.credential = auth.token;
      this.scheduleRefresh(auth.token);
      return true;
    }
    if (frame.type !== 'error') return false;
    const error = (frame.error ?? {}) as { code?: string; type?: string };
    if (auth && frame.ref === auth.ref) {
      // The engine would not take the new token on this socket (another participant, or a bad token):
      // say hello with a token again (a new socket decides; its refusal is final as for any hello).
      this.authInFlight = null;
      if (error.type === 'authentication_error') this.options.tokens?.invalidate(auth.token);
      if (error.code !== 'scope_narrowed') this.reconnectNow();
      return true;
    }
    const refreshable = REFRESHABLE.has(String(error.code));
    // The refusal of the socket's credential (the hello's, or a frame's: expired, revoked) comes before its close.
    if (refreshable || (frame.ref === undefined && (error.type === 'authentication_error' || error.type === 'permission_error'))) this.refusal = error;
    // With a token source, the close that follows decides (a new token may cure it).
    return frame.ref === undefined && refreshable && !!this.options.tokens;
  }

  /** Refresh `token` over the open socket when the source says (a fifth of its life, at most 60 s, before it expires). */
  private scheduleRefresh(token: string): void {
    const tokens = this.options.tokens;
    if (!tokens || this.closed) return;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    const delay = tokens.refreshDelay(token);
    if (delay === null) return;
    this.refreshTimer = setTimeout(() => this.refreshNow(token), Math.min(delay, 2 ** 31 - 1));
    (this.refreshTimer as { unref?: () => void }).unref?.();
  }

  private refreshNow(stale: string): void {
    this.refreshTimer = null;
    const tokens = this.options.tokens;
    if (!tokens || this.closed) return;
    const socket = this.socket;
    tokens.refresh(stale).then(
      (token) => {
        if (this.closed || this.socket !== socket || !socket || !this.welcomed) return; // the next socket says hello with it
        if (token === this.credential) return;
        const ref = `auth_${++this.authSeq}`;
        this.authInFlight = { ref, token };
        if (!this.send({ type: 'auth', ref, token })) this.authInFlight = null;
      },
      () => {
        // The socket's token still works until it expires (then 4007 and a reconnect, which asks again).
        if (this.closed || this.socket !== socket) return;
        this.refreshTimer = setTimeout(() => this.refreshNow(stale), REFRESH_RETRY_MS);
        (this.refreshTimer as { unref?: () => void }).unref?.();
      },
    );
  }

  /**
   * Reconnect after a backoff, or at once (`now`: the engine said it is draining): then within a jitter of at most
   * DRAIN_JITTER_MS, so the clients of a drained engine do not all arrive at the next one in the same instant.
   */
  private scheduleReconnect(reason: string, now = false): void {
    this.retries++;
    const base = this.options.reconnectBaseMs ?? 250;
    let delay = Math.floor(Math.random() * Math.min(base, DRAIN_JITTER_MS));
    if (!now) {
      const max = this.options.reconnectMaxMs ?? 10_000;
      const ceiling = Math.min(max, base * 2 ** this.attempt);
      this.attempt = Math.min(this.attempt + 1, 20);
      // Full jitter: spreads reconnect storms when an engine restarts under many clients.
      delay = Math.floor(Math.random() * ceiling) + Math.min(50, base);
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.open();
    }, delay);
    this.options.onRetry?.({ attempt: this.retries, delayMs: delay, reason, url: this.url });
  }

  private startPing(): void {
    const every = this.options.pingMs ?? 15_000;
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > every * 2.5) {
        this.reconnectNow();
        return;
      }
      this.send({ type: 'ping', t: Date.now() });
    }, every);
    (this.pingTimer as { unref?: () => void }).unref?.();
  }
}
