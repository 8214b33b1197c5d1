/**
 * The change feed of a Postgres storage shared by several engine processes.
 *
 * Every process commits into one change log with gap-free sync ids that
 * become visible in commit order (each write transaction takes the head row
 * lock first). A process learns of the others' commits through a
 * `NOTIFY <channel>, '<last sync id>'` sent inside each write transaction
 * (delivered at commit); the notification is only a hint: on one, this feed
 * reads `after(head)` from the log, in pages, and announces what it read, in
 * order. One dedicated `LISTEN` connection per process; a poll of the log
 * every `pollMs` (≤ 1 s) covers a notification that never came (lost, or sent
 * while the LISTEN connection was down); the connection reconnects with
 * backoff and catches up by reading the log.
 *
 * Its own commits are announced at once: the storage calls `committed(records)`
 * after its COMMIT. When they do not follow the head (another process
 * committed in between and its notification is not here yet), the missing
 * ids are read from the log first and both are announced in order; the
 * promise `committed` then returns settles once they are announced. An id is
 * announced once: whatever is at or below the head is dropped, wherever it
 * comes from.
 *
 * Gaps: reads see a prefix of the log (ids are visible in commit order), so a
 * first id past head+1 is never a commit in flight. Two causes:
 * - retention pruned the ids below the log's floor (`floor`) before this
 *   process read them (it was far behind): the batch from the floor on is
 *   announced at once with `gap: { reason: 'pruned' }`;
 * - otherwise it is a bug: logged with both numbers and counted
 *   (`stats().gaps`); the feed announces nothing past the head, re-reads
 *   on the next polls, and if the ids are still missing after one poll
 *   interval announces what follows with `gap: { reason: 'missing' }` (one
 *   missing id must not stop the process's fanout for good). An id that
 *   shows up later below the head is never announced.
 *
 * Subscribers (synchronous, in subscription order, one throwing does not stop
 * the others) are a `FeedHub`'s.
 */
import type pg from 'pg';
import { AbloServerError } from '../../errors.js';
import { FeedHub, type ChangeLogReads } from './feed.js';
import type { ChangeBatch, ChangeFeed, ChangeRecord, FeedGap } from './types.js';

/** The channel a storage in Postgres schema `schema` notifies and its feeds LISTEN on. */
export function feedChannel(schema: string): string {
  return `${schema}_changes`;
}

export interface PostgresFeedOptions {
  /** The change log's reads (the storage's pool). */
  reads: ChangeLogReads;
  /** A new, unconnected client for the dedicated LISTEN connection (called again on every reconnect). */
  connect: () => pg.Client;
  /** The channel every writer notifies (`feedChannel(schema)`: `<schema>_changes`); 1 to 63 bytes. */
  channel: string;
  /** Poll of the log when no notification came, in ms: 1..1000, default 500. */
  pollMs?: number;
  /** Change-log entries per read, default 500. */
  pageSize?: number;
  /**
   * Ping the LISTEN connection (`SELECT 1`) this often, in ms (default
   * 15,000): a connection that died without closing (a NAT or load balancer
   * dropping an idle connection, a half-open socket) never says so; the ping
   * also keeps such a path from seeing it idle.
   */
  pingMs?: number;
  /** A ping unanswered this long (default 5,000 ms) counts as a lost connection. */
  pingTimeoutMs?: number;
  /** Lowest sync id still in the change log (`Storage.changeLogFloor`): tells a pruned range from a bug. */
  floor?: () => Promise<number>;
  /** Where problems are reported (gaps, lost connection, failed reads); default stderr. */
  log?: (line: string) => void;
  /**
   * A notification whose payload is `schema` (not a sync id): another process
   * applied a schema. Called instead of a read; also after the LISTEN
   * connection (re)connects, since a notification may have been missed.
   */
  onSchemaNotice?: () => void;
  /**
   * A notification whose payload is `revoked`: another process revoked a
   * credential (API key or session). Also called after the LISTEN connection
   * (re)connects. The revocation records are the truth; this is a hint.
   */
  onRevocationNotice?: () => void;
}

/** The payload of the notification a schema push sends on the feed's channel. */
export const SCHEMA_NOTICE = 'schema';
/** The payload of the notification a revocation sends on the feed's channel. */
export const REVOCATION_NOTICE = 'revoked';

export interface PostgresFeedStats {
  /** Last announced sync id. */
  head: number;
  /** The LISTEN connection is up. */
  listening: boolean;
  /** Notifications received on the channel. */
  notifications: number;
  /** Notifications whose id was already announced (no read). */
  notificationsSkipped: number;
  /** Poll ticks. */
  polls: number;
  /** `after` reads of the log, and the entries they returned. */
  reads: number;
  rowsRead: number;
  /** Reads that failed (retried by the next poll). */
  readErrors: number;
  /** Changes announced from reads of the log. */
  announcedFromLog: number;
  /** Changes announced from `committed` (this process's commits). */
  announcedOwn: number;
  /** `committed` calls that had to wait for a read of the log first. */
  ownWaited: number;
  /** Gaps in the log that were not retention (bugs). */
  gaps: number;
  /** Ranges skipped because retention had pruned them. */
  pruned: number;
  /** Successful reconnections of the LISTEN connection. */
  reconnects: number;
}

type Counters = Omit<PostgresFeedStats, 'head' | 'listening'>;
type State = 'new' | 'starting' | 'running' | 'stopped';

interface OwnCommit {
  records: readonly ChangeRecord[];
  done: () => void;
}

const DEFAULT_POLL_MS = 500;
const DEFAULT_PAGE = 500;
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5000;
const END_TIMEOUT_MS = 2000;
const DEFAULT_PING_MS = 15_000;
const DEFAULT_PING_TIMEOUT_MS = 5000;

export class PostgresFeed implements ChangeFeed {
  private readonly hub: FeedHub;
  private readonly reads: ChangeLogReads;
  private readonly channel: string;
  private readonly pollMs: number;
  private readonly pageSize: number;
  private readonly log: (line: string) => void;
  private readonly counters: Counters = {
    notifications: 0,
    notificationsSkipped: 0,
    polls: 0,
    reads: 0,
    rowsRead: 0,
    readErrors: 0,
    announcedFromLog: 0,
    announcedOwn: 0,
    ownWaited: 0,
    gaps: 0,
    pruned: 0,
    reconnects: 0,
  };

  private state: State = 'new';
  /** The LISTEN connection (connected, or connecting); null while down. */
  private client: pg.Client | null = null;
  private listening = false;
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private pinging = false;
  /** The running read of the log; asks while it runs set `readAgain` (one more read). */
  private reading: Promise<void> | null = null;
  private readAgain = false;
  /** Reads failed in a row (logged once). */
  private failingReads = 0;
  /** This process's commits that wait for earlier ids, in sync-id order. */
  private own: OwnCommit[] = [];
  /** Commits of this process between `commitStarting` and `committed` / `commitFailed`. */
  private committing = 0;
  /** A read was asked for while one was in flight: it starts when none is. */
  private deferredRead = false;
  private announcing = false;
  /** The gap (bug) seen at the head, and since when. */
  private gapSeen: { after: number; next: number; since: number } | null = null;

  constructor(private readonly opts: PostgresFeedOptions) {
    const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    if (!Number.isFinite(pollMs) || pollMs < 1 || pollMs > 1000) {
      throw new AbloServerError(`The change feed's pollMs must be between 1 and 1000 (got ${pollMs}).`, { code: 'storage_error' });
    }
    if (!opts.channel || Buffer.byteLength(opts.channel) > 63) {
      // Longer names are cut to 63 bytes by LISTEN but refused by pg_notify: they would never meet.
      throw new AbloServerError(`The change feed's channel must be 1 to 63 bytes (got "${opts.channel}").`, { code: 'storage_error' });
    }
    this.reads = opts.reads;
    this.hub = new FeedHub(opts.reads);
    this.channel = opts.channel;
    this.pollMs = pollMs;
    this.pageSize = Math.max(1, Math.floor(opts.pageSize ?? DEFAULT_PAGE));
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  // -------------------------------------------------------------------------
  // ChangeFeed

  head(): number {
    return this.hub.head();
  }

  after(afterSyncId: number, limit: number): Promise<ChangeRecord[]> {
    return this.reads.after(afterSyncId, limit);
  }

  afterInGroups(groups: readonly string[], afterSyncId: number, upToSyncId: number, limit: number): Promise<ChangeRecord[]> {
    return this.reads.afterInGroups(groups, afterSyncId, upToSyncId, limit);
  }

  subscribe(listener: (batch: ChangeBatch) => void): () => void {
    return this.hub.subscribe(listener);
  }

  stats(): PostgresFeedStats {
    return { ...this.counters, head: this.head(), listening: this.listening };
  }

  // -------------------------------------------------------------------------
  // Lifecycle

  /**
   * `head`: the last sync id when the storage opened. LISTENs (a connection
   * that fails is an error), then reads the log after `head` (what was
   * committed since) before it resolves.
   */
  async start(head: number): Promise<void> {
    if (this.state !== 'new') throw new AbloServerError('The change feed was already started.', { code: 'storage_error' });
    this.hub.reset(head);
    this.state = 'starting';
    try {
      await this.listen();
    } catch (err) {
      this.state = 'stopped';
      throw new AbloServerError(`The change feed could not LISTEN on "${this.channel}": ${messageOf(err)}`, { code: 'storage_error' });
    }
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.pollTimer = setInterval(() => this.poll(), this.pollMs);
    this.pollTimer.unref();
    this.pingTimer = setInterval(() => void this.ping(), this.opts.pingMs ?? DEFAULT_PING_MS);
    this.pingTimer.unref();
    this.requestRead();
    await this.idle();
  }

  /**
   * Stops polling, ends the LISTEN connection (no reconnect after) and waits
   * for a running read. `committed` promises still waiting settle (their
   * changes are durable; nobody is left to tell).
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.pollTimer = this.pingTimer = this.reconnectTimer = null;
    const client = this.client;
    this.client = null;
    this.listening = false;
    if (client) await endQuietly(client);
    await this.idle();
    for (const waiting of this.own.splice(0)) waiting.done();
  }

  // -------------------------------------------------------------------------
  // This process's commits

  /**
   * The storage committed `records` (one transaction's changes, in order).
   * Announced before this returns when they follow the head; otherwise the
   * ids in between are read from the log first and the returned promise
   * settles once all of them are announced. Ids already announced (a read
   * got there first) are not announced again.
   */
  committed(records: readonly ChangeRecord[]): void | Promise<void> {
    if (this.state === 'new') throw new AbloServerError('The change feed got a commit before start().', { code: 'storage_error' });
    if (this.committing > 0) this.committing--;
    try {
      return this.announceCommitted(records);
    } finally {
      this.readDeferred();
    }
  }

  /**
   * This process is about to COMMIT a transaction that wrote changes: until
   * `committed` (or `commitFailed`), a notification or a poll does not start a
   * read. Its NOTIFY can arrive before the COMMIT's reply; a read then would
   * only read this process's own changes back from the log.
   */
  commitStarting(): void {
    this.committing++;
  }

  /** The COMMIT announced by `commitStarting` failed (or its outcome is unknown): reads go on. */
  commitFailed(): void {
    if (this.committing > 0) this.committing--;
    this.readDeferred();
  }

  /** A read a notification or poll asked for while a commit was in flight, now that none is. */
  private readDeferred(): void {
    if (this.committing === 0 && this.deferredRead) {
      this.deferredRead = false;
      this.requestRead();
    }
  }

  private announceCommitted(records: readonly ChangeRecord[]): void | Promise<void> {
    if (this.state === 'stopped' || records.length === 0) return;
    checkConsecutive(records, (line) => this.bug(line));
    if (records[records.length - 1]!.syncId <= this.head()) return;
    if (this.own.length === 0 && !this.announcing) {
      const fresh = records.filter((r) => r.syncId > this.head());
      if (fresh[0]!.syncId === this.head() + 1) {
        this.emitOwn(fresh);
        return;
      }
    }
    this.counters.ownWaited++;
    return new Promise<void>((resolve) => {
      this.own.push({ records, done: resolve });
      this.own.sort((a, b) => a.records[0]!.syncId - b.records[0]!.syncId);
      this.requestRead();
    });
  }

  // -------------------------------------------------------------------------
  // The LISTEN connection

  private async listen(): Promise<void> {
    const client = this.opts.connect();
    this.client = client;
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client));
    client.on('notification', (msg) => {
      if (this.client === client && msg.channel === this.channel) this.notified(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (err) {
      this.lost(client, err);
      throw err;
    }
    if (this.client !== client) throw new Error('the change feed stopped while connecting');
    this.listening = true;
    this.reconnectAttempt = 0;
  }

  /** The LISTEN connection `client` failed or ended: drop it, and reconnect while running. */
  private lost(client: pg.Client, err?: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    const wasListening = this.listening;
    this.listening = false;
    void endQuietly(client);
    if (this.state !== 'running') return;
    if (wasListening) this.log(`change feed: the LISTEN connection on "${this.channel}" was lost (${err ? messageOf(err) : 'it ended'}); reconnecting, polling the log meanwhile`);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.reconnectAttempt);
    this.reconnectAttempt++;
    this.reconnectTimer = setTimeout(() => void this.reconnect(), delay);
    this.reconnectTimer.unref();
  }

  private async reconnect(): Promise<void> {
    this.reconnectTimer = null;
    if (this.state !== 'running') return;
    try {
      await this.listen();
    } catch (err) {
      // `listen` handed the client to `lost`, which scheduled the next attempt.
      if (this.state === 'running') this.log(`change feed: reconnecting the LISTEN connection failed (${messageOf(err)}); trying again`);
      return;
    }
    this.counters.reconnects++;
    this.log(`change feed: the LISTEN connection on "${this.channel}" is back; catching up from ${this.head()}`);
    // A schema or revocation notice may have been missed meanwhile too.
    this.opts.onSchemaNotice?.();
    this.opts.onRevocationNotice?.();
    this.requestRead();
  }

  /** A LISTEN connection that does not answer in time is lost (it reconnects). */
  private async ping(): Promise<void> {
    const client = this.client;
    if (!client || !this.listening || this.pinging) return;
    this.pinging = true;
    const ms = this.opts.pingTimeoutMs ?? DEFAULT_PING_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
      timer.unref();
    });
    try {
      const answer = await Promise.race([client.query('SELECT 1').then(() => 'ok' as const), timeout]);
      if (answer === 'timeout') this.lost(client, new Error(`no answer to a ping in ${ms} ms`));
    } catch (err) {
      this.lost(client, err);
    } finally {
      clearTimeout(timer);
      this.pinging = false;
    }
  }

  private notified(payload: string | undefined): void {
    this.counters.notifications++;
    if (payload === SCHEMA_NOTICE) {
      this.opts.onSchemaNotice?.();
      return;
    }
    if (payload === REVOCATION_NOTICE) {
      this.opts.onRevocationNotice?.();
      return;
    }
    if (this.committing > 0) {
      this.deferredRead = true;
      return;
    }
    // The payload is the notifying transaction's last id: at or below the head, it was announced already.
    const id = payload ? Number(payload) : NaN;
    if (Number.isSafeInteger(id) && id <= this.head()) {
      this.counters.notificationsSkipped++;
      return;
    }
    this.requestRead();
  }

  private poll(): void {
    this.counters.polls++;
    if (this.committing > 0) {
      this.deferredRead = true;
      return;
    }
    this.requestRead();
  }

  // -------------------------------------------------------------------------
  // Reading the log

  private active(): boolean {
    return this.state === 'running' || this.state === 'starting';
  }

  /** Read the log after the head: one read runs at a time; asks meanwhile make one more. */
  private requestRead(): void {
    if (!this.active()) return;
    if (this.announcing) {
      // Asked by a listener, inside an announcement: after it.
      queueMicrotask(() => this.requestRead());
      return;
    }
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.drain().finally(() => {
      this.reading = null;
    });
  }

  private async idle(): Promise<void> {
    while (this.reading) await this.reading;
  }

  private async drain(): Promise<void> {
    do {
      this.readAgain = false;
      try {
        await this.readToEnd();
      } catch (err) {
        this.counters.readErrors++;
        // Said once per run of failures (the poll retries every pollMs), and again when reads work.
        if (this.active() && this.failingReads++ === 0) {
          this.log(`change feed: reading the change log after ${this.head()} failed (${messageOf(err)}); polling until it works`);
        }
        return;
      }
      if (this.failingReads > 0) {
        this.log(`change feed: reading the change log works again after ${this.failingReads} failed reads`);
        this.failingReads = 0;
      }
    } while (this.readAgain && this.active());
  }

  /** Read and announce pages until the log has nothing after the head (or a gap stops it). */
  private async readToEnd(): Promise<void> {
    for (;;) {
      this.flushOwn();
      const limit = this.readLimit();
      this.counters.reads++;
      const rows = await this.reads.after(this.head(), limit);
      if (!this.active()) return;
      this.counters.rowsRead += rows.length;
      // Own commits announced while the read ran are at or below the head now.
      const fresh = rows.filter((r) => r.syncId > this.head());
      if (fresh.length > 0) {
        const announced = await this.announceRead(fresh);
        if (announced === 0) return;
        if (announced < fresh.length) continue;
      }
      if (rows.length < limit) break;
    }
    this.flushOwn();
    await this.announceOwnAfterGap();
  }

  /** A page, but no further than just before the first waiting own commit (those are not read again). */
  private readLimit(): number {
    const next = this.own[0]?.records[0]?.syncId;
    const head = this.head();
    return next !== undefined && next > head + 1 ? Math.min(this.pageSize, next - 1 - head) : this.pageSize;
  }

  /** Announce the run of `rows` that follows the head; returns how many (0: a gap at the head, wait). */
  private async announceRead(rows: readonly ChangeRecord[]): Promise<number> {
    let gap: FeedGap | undefined;
    if (rows[0]!.syncId !== this.head() + 1) {
      const verdict = await this.gapVerdict(this.head(), rows[0]!.syncId);
      if (verdict === 'wait' || !this.active()) return 0;
      gap = verdict;
      rows = rows.filter((r) => r.syncId > this.head());
      if (rows.length === 0) return 0;
    }
    const run = consecutiveRun(rows);
    this.counters.announcedFromLog += run.length;
    this.emit(run, gap);
    return run.length;
  }

  /** Own commits still waiting after the log was read to its end: the ids before them are missing. */
  private async announceOwnAfterGap(): Promise<void> {
    const first = this.own[0]?.records.find((r) => r.syncId > this.head());
    if (!first || first.syncId === this.head() + 1) return;
    const verdict = await this.gapVerdict(this.head(), first.syncId);
    if (verdict === 'wait' || !this.active()) return;
    const waiting = this.own.shift()!;
    this.emitOwn(waiting.records.filter((r) => r.syncId > this.head()), verdict);
    waiting.done();
    this.flushOwn();
  }

  /** Announce waiting own commits that follow the head, in order. */
  private flushOwn(): void {
    while (this.own.length > 0) {
      const first = this.own[0]!;
      const fresh = first.records.filter((r) => r.syncId > this.head());
      if (fresh.length > 0 && fresh[0]!.syncId !== this.head() + 1) return;
      if (fresh.length > 0) this.emitOwn(fresh);
      this.own.shift();
      first.done();
    }
  }

  /**
   * The next id after `head` is `next`: retention (announce with the gap
   * flagged), or a bug (wait one poll interval, then announce flagged).
   */
  private async gapVerdict(head: number, next: number): Promise<FeedGap | 'wait'> {
    const floor = this.opts.floor ? await this.opts.floor() : 0;
    if (floor > head + 1) {
      this.counters.pruned++;
      this.log(
        `change feed: sync ids ${head + 1}..${floor - 1} were pruned from the change log (floor ${floor}) before this process announced them; announcing from ${next} with the gap flagged`,
      );
      return { after: head, reason: 'pruned' };
    }
    const now = Date.now();
    const seen = this.gapSeen;
    if (!seen || seen.after !== head || seen.next !== next) {
      this.gapSeen = { after: head, next, since: now };
      this.bug(`the head is ${head} but the next sync id in the change log is ${next}: ids ${head + 1}..${next - 1} are missing; reading again after one poll`);
      return 'wait';
    }
    if (now - seen.since < this.pollMs) return 'wait';
    this.gapSeen = null;
    this.log(`change feed BUG: sync ids ${head + 1}..${next - 1} are still missing after ${now - seen.since} ms; announcing from ${next} with the gap flagged`);
    return { after: head, reason: 'missing' };
  }

  private bug(line: string): void {
    this.counters.gaps++;
    this.log(`change feed BUG: ${line} (sync ids must be gap-free and visible in commit order)`);
  }

  private emitOwn(changes: readonly ChangeRecord[], gap?: FeedGap): void {
    this.counters.announcedOwn += changes.length;
    this.emit(changes, gap);
  }

  private emit(changes: readonly ChangeRecord[], gap?: FeedGap): void {
    this.announcing = true;
    try {
      this.hub.announce(changes, gap);
    } finally {
      this.announcing = false;
    }
  }
}

/** The leading rows whose ids follow each other (at least the first). */
function consecutiveRun(rows: readonly ChangeRecord[]): readonly ChangeRecord[] {
  let n = 1;
  while (n < rows.length && rows[n]!.syncId === rows[n - 1]!.syncId + 1) n++;
  return n === rows.length ? rows : rows.slice(0, n);
}

function checkConsecutive(records: readonly ChangeRecord[], bug: (line: string) => void): void {
  for (let i = 1; i < records.length; i++) {
    if (records[i]!.syncId !== records[i - 1]!.syncId + 1) {
      bug(`one transaction's changes have sync ids ${records[i - 1]!.syncId} then ${records[i]!.syncId}`);
      return;
    }
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** End a client, whatever state it is in, without waiting forever or throwing. */
async function endQuietly(client: pg.Client): Promise<void> {
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, END_TIMEOUT_MS);
    timer.unref();
  });
  await Promise.race([client.end().catch(() => {}), timeout]);
  clearTimeout(timer);
}
