/**
 * Reads the claim events every engine process writes (`_ablo_claim_events`),
 * in `seq` order, gap-free: a dedicated LISTEN connection hears the NOTIFY
 * hint (the seq only) and the reader fetches `seq > last`; a poll (≤ 1 s)
 * covers a lost notification, and the LISTEN connection reconnects after a
 * drop (then reads what it missed). Events pruned before this process read
 * them (it lagged past the retention) show as a gap: `onGap` reloads the
 * whole state instead.
 */
import pg from 'pg';
import type { RowEventBody } from './postgres-row.js';
import { openListener } from '../storage/postgres-listen.js';
import type { ClaimTableNames } from './postgres-tables.js';

export interface ClaimEventRecord {
  seq: number;
  body: RowEventBody;
}

export interface ClaimEventReaderOptions {
  connectionString: string;
  pool: pg.Pool;
  tables: ClaimTableNames;
  pollMs: number;
  onEvents: (events: ClaimEventRecord[]) => void;
  /** Events after `after` were pruned: reload the state; resolves with the seq it reflects. */
  onGap: () => Promise<number>;
  onError: (err: unknown) => void;
}

const PAGE = 500;

export class ClaimEventReader {
  private last = 0;
  private listener: pg.Client | null = null;
  private poll: NodeJS.Timeout | null = null;
  private reconnect: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(private readonly opts: ClaimEventReaderOptions) {}

  /** Start after `seq` (the state read at open reflects every event up to it). */
  async start(seq: number): Promise<void> {
    this.last = seq;
    await this.listen();
    this.poll = setInterval(() => void this.drain(), this.opts.pollMs);
    this.poll.unref();
  }

  get lastSeq(): number {
    return this.last;
  }

  private async listen(): Promise<void> {
    let client: pg.Client;
    try {
      client = await openListener(this.opts.connectionString, this.opts.tables.channel, {
        notification: () => void this.drain(),
        dropped: (gone) => {
          if (this.listener !== gone) return;
          this.listener = null;
          this.scheduleReconnect();
        },
      });
    } catch (err) {
      if (this.closed) return;
      this.opts.onError(err);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    // Whatever was announced while it was not listening.
    void this.drain();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnect) return;
    this.reconnect = setTimeout(() => {
      this.reconnect = null;
      void this.listen();
    }, 250);
    this.reconnect.unref();
  }

  /** Read every event after the last one read (coalesced: one reader at a time, once more if asked meanwhile). */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.draining) {
      this.again = true;
      return this.draining;
    }
    this.draining = (async () => {
      try {
        do {
          this.again = false;
          await this.readAll();
        } while (this.again && !this.closed);
      } catch (err) {
        if (!this.closed) this.opts.onError(err);
      } finally {
        this.draining = null;
      }
    })();
    return this.draining;
  }

  private async readAll(): Promise<void> {
    for (;;) {
      const res = await this.opts.pool.query(`SELECT seq, body FROM ${this.opts.tables.events} WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`, [this.last]);
      if (this.closed) return;
      const events: ClaimEventRecord[] = res.rows.map((r) => ({ seq: Number(r.seq), body: r.body as RowEventBody }));
      if (events.length === 0) return;
      if (events[0]!.seq !== this.last + 1) {
        // Pruned before this process read them: the state is read again as a whole.
        this.last = await this.opts.onGap();
        continue;
      }
      for (let i = 1; i < events.length; i++) {
        if (events[i]!.seq !== events[i - 1]!.seq + 1) throw new Error(`claim events skip from ${events[i - 1]!.seq} to ${events[i]!.seq}: a bug`);
      }
      this.last = events[events.length - 1]!.seq;
      this.opts.onEvents(events);
      if (events.length < PAGE) return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poll) clearInterval(this.poll);
    if (this.reconnect) clearTimeout(this.reconnect);
    this.poll = this.reconnect = null;
    const l = this.listener;
    this.listener = null;
    if (l) {
      l.removeAllListeners('end');
      await l.end().catch(() => undefined);
    }
    await this.draining?.catch(() => undefined);
  }
}
