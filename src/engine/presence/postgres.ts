/**
 * Presence across engine processes on one Postgres database, over
 * LISTEN/NOTIFY on a channel of its own (`<schema>_presence`). Presence is
 * ephemeral, so nothing is written to a table: each process announces its
 * own members as they change, and the others merge them (./members.ts).
 *
 * Messages (JSON, one NOTIFY each, from one connection per process so they
 * arrive in the order they were sent):
 *
 * - `put` / `del`: one of the sender's members changed or left;
 * - `hello`: a process started (or its connection came back): every process
 *   answers with a snapshot, `snap` begin, a `put` per member, `snap` end
 *   (the receiver drops what the sender no longer announces);
 * - `beat`: the sender is alive (every `ttl / 4`, 100 ms to 5 s). A process
 *   not heard from for three beats is down (killed, cut off): its members turn
 *   `reconnecting` and leave one TTL after it was last heard;
 * - `bye`: the sender is closing: the same, counted from now.
 *
 * A NOTIFY payload holds at most 8000 bytes: the engine's state cap
 * (./options.ts, at most 6144 bytes) keeps a `put` under it.
 */
import pg from 'pg';
import { ulid } from '../../protocol/ids.js';
import { openListener } from '../storage/postgres-listen.js';
import { memberKey, type SourceEntry } from './members.js';
import type { PresenceBridge, PresencePeer } from './service.js';

type Message =
  // The member key is not sent: it follows from the participant (`memberKey`), and the bytes are the state's.
  | { t: 'put'; p: string; g: string; e: SourceEntry }
  | { t: 'del'; p: string; g: string; k: string }
  | { t: 'hello' | 'beat' | 'bye'; p: string }
  | { t: 'snap'; p: string; s: 'begin' | 'end' };

export interface PostgresPresenceOptions {
  connectionString: string;
  /** The engine's Postgres schema (the channel is `<schema>_presence`). */
  dbSchema: string;
  ttlMs: number;
  onError: (err: unknown) => void;
  now?: () => number;
}

/** Postgres refuses a NOTIFY payload of 8000 bytes or more. */
const MAX_PAYLOAD = 7999;

export class PostgresPresenceBridge implements PresenceBridge {
  readonly id = `proc_${ulid()}`;
  private readonly channel: string;
  private readonly beatMs: number;
  private readonly now: () => number;
  private peer: PresencePeer | null = null;
  private client: pg.Client | null = null;
  private sending: Promise<void> = Promise.resolve();
  /** Other processes: when each was last heard, and whether it counts as down. */
  private readonly heard = new Map<string, { at: number; down: boolean }>();
  private beat: NodeJS.Timeout | null = null;
  private reconnect: NodeJS.Timeout | null = null;
  private closed = false;
  /** When we last asked every process for its members (at most once a beat). */
  private askedAt = -Infinity;

  constructor(private readonly opts: PostgresPresenceOptions) {
    this.channel = `${opts.dbSchema}_presence`;
    this.beatMs = Math.min(5000, Math.max(100, Math.floor(opts.ttlMs / 4)));
    this.now = opts.now ?? Date.now;
  }

  async start(peer: PresencePeer): Promise<void> {
    this.peer = peer;
    await this.connect(true);
    this.beat = setInterval(() => this.onBeat(), this.beatMs);
    this.beat.unref();
  }

  put(group: string, _key: string, entry: SourceEntry): void {
    this.send({ t: 'put', p: this.id, g: group, e: entry });
  }

  remove(group: string, key: string): void {
    this.send({ t: 'del', p: this.id, g: group, k: key });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.send({ t: 'bye', p: this.id });
    this.closed = true;
    if (this.beat) clearInterval(this.beat);
    if (this.reconnect) clearTimeout(this.reconnect);
    this.beat = this.reconnect = null;
    await this.sending;
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  }

  /** Open the LISTEN connection; then say hello and announce our members (others may have missed some). */
  private async connect(first: boolean): Promise<void> {
    let client: pg.Client;
    try {
      client = await openListener(this.opts.connectionString, this.channel, {
        notification: (n) => {
          if (n.channel === this.channel && n.payload) this.onMessage(n.payload);
        },
        dropped: (gone) => {
          if (this.client !== gone) return;
          this.client = null;
          this.scheduleReconnect();
        },
      });
    } catch (err) {
      if (first) throw err;
      if (!this.closed) {
        this.opts.onError(err);
        this.scheduleReconnect();
      }
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    // Beats sent while we were not listening were missed, not absent: count every process alive from now.
    for (const h of this.heard.values()) if (!h.down) h.at = this.now();
    this.askedAt = this.now();
    this.send({ t: 'hello', p: this.id });
    this.sendSnapshot();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnect) return;
    this.reconnect = setTimeout(() => {
      this.reconnect = null;
      void this.connect(false);
    }, 250);
    this.reconnect.unref();
  }

  /** NOTIFY, in order, on the LISTEN connection; lost while it is down (a snapshot follows when it is back). */
  private send(message: Message): void {
    if (this.closed) return;
    const text = JSON.stringify(message);
    if (Buffer.byteLength(text) > MAX_PAYLOAD) {
      this.opts.onError(new Error(`presence: a ${message.t} message of ${Buffer.byteLength(text)} bytes is too large for NOTIFY; not shared`));
      return;
    }
    this.sending = this.sending.then(async () => {
      const c = this.client;
      if (!c) return;
      try {
        await c.query('SELECT pg_notify($1, $2)', [this.channel, text]);
      } catch (err) {
        if (!this.closed) this.opts.onError(err);
      }
    });
  }

  private sendSnapshot(): void {
    if (!this.peer) return;
    this.send({ t: 'snap', p: this.id, s: 'begin' });
    for (const { group, key, entry } of this.peer.own()) this.put(group, key, entry);
    this.send({ t: 'snap', p: this.id, s: 'end' });
  }

  private onMessage(payload: string): void {
    let m: Message;
    try {
      m = JSON.parse(payload) as Message;
    } catch {
      return;
    }
    const peer = this.peer;
    if (!peer || this.closed || typeof m?.p !== 'string' || m.p === this.id) return;
    const seen = this.heard.get(m.p);
    if (m.t === 'bye') {
      this.heard.set(m.p, { at: this.now(), down: true });
      peer.down(m.p, this.now() + this.opts.ttlMs);
      return;
    }
    this.heard.set(m.p, { at: this.now(), down: false });
    if (seen?.down) {
      // Back after we counted it down: its members stay, and its snapshot tells us what they are now.
      peer.up(m.p);
      this.askAll();
    } else if (!seen && m.t !== 'hello' && m.t !== 'snap') {
      // A process we know nothing of (forgotten after a long silence, or its snapshot is on its way): ask.
      this.askAll();
    }
    switch (m.t) {
      case 'put':
        peer.put(m.p, m.g, memberKey(m.e.participant), m.e);
        return;
      case 'del':
        peer.remove(m.p, m.g, m.k);
        return;
      case 'snap':
        if (m.s === 'begin') peer.snapshotBegin(m.p);
        else peer.snapshotEnd(m.p);
        return;
      case 'hello':
        this.sendSnapshot();
        return;
      default:
        return;
    }
  }

  /** Ask every process for a snapshot of its members (at most once a beat). */
  private askAll(): void {
    const now = this.now();
    if (now - this.askedAt < this.beatMs) return;
    this.askedAt = now;
    this.send({ t: 'hello', p: this.id });
  }

  /** Say we are alive; count as down every process silent for three beats. */
  private onBeat(): void {
    this.send({ t: 'beat', p: this.id });
    const now = this.now();
    for (const [p, h] of this.heard) {
      if (h.down) {
        // Long gone: forget it (its members left when the TTL ran out).
        if (now - h.at > this.opts.ttlMs + 10 * this.beatMs) this.heard.delete(p);
        continue;
      }
      if (now - h.at > 3 * this.beatMs) {
        h.down = true;
        this.peer?.down(p, h.at + this.opts.ttlMs);
      }
    }
  }
}
