/**
 * `ablo.setSyncGroups(groups)`: the client's side of `set_groups`
 * (src/protocol/sync.ts).
 *
 * Two sets are tracked: `target`, the groups last asked for (what the next
 * hello names), and `held`, the groups the local pool is complete for as of
 * its lastSyncId (set when a bootstrap, catch-up or switch is done). While
 * they differ the pool cannot catch up from its lastSyncId (the new groups'
 * rows were never received), so a hello then asks for a fresh bootstrap.
 *
 * Live, a switch is one `set_groups` frame: the engine answers `groups`, the
 * rows of what is new as `bootstrap` frames (collected here), and
 * `groups_done`; then, at once, rows in no group the client now receives are
 * dropped, the new rows merged (pending writes are replayed over both), the
 * matcher of incoming changes replaced, and the store marked current to the
 * watermark. Offline or mid-handshake, only `target` moves: the next hello
 * carries it, and the switch completes with that hello's bootstrap.
 *
 * Calls: the last wins. One switch is on the wire at a time; a call made
 * meanwhile waits and goes next (if it still differs from what is held).
 * Every call's promise resolves when the client holds the latest target; a
 * refusal (the credential may not use the groups) rejects the calls that
 * asked for exactly those groups, and when nothing newer was asked for, the
 * target goes back to the groups held. Superseded calls resolve with the
 * latest one, whatever its outcome: they were overtaken, not refused.
 */
import { AbloError, errorFromEnvelope } from '../errors.js';
import { groupMatcher, type GroupMatcher } from '../protocol/groups.js';
import { ulid } from '../protocol/ids.js';
import { parseWire } from '../protocol/parse.js';
import { setGroupsFrameSchema } from '../protocol/sync.js';
import type { CompiledSchema } from '../schema/compile.js';
import type { LocalStore, RowData } from './store.js';

/** The same set whatever the order or repeats. */
function keyOf(groups: readonly string[] | undefined): string | null {
  return groups ? [...new Set(groups)].sort().join('\u0000') : null;
}

interface Waiter {
  key: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface GroupSwitchHost {
  schema: CompiledSchema;
  store: LocalStore;
  /** Send a frame on the open socket; false when there is none. */
  send(frame: unknown): boolean;
  /** The connection is live (past its bootstrap or catch-up). */
  live(): boolean;
  /** The groups the next hello names. */
  helloGroups(groups: string[]): void;
  /** The matcher of incoming changes (which rows stay in the pool). */
  useMatcher(match: GroupMatcher): void;
  /** Rows that left the pool (their claim states go with them). */
  dropped(rows: Array<{ model: string; id: string }>): void;
  /** `syncGroups` changed: subscriptions re-run. */
  changed(): void;
}

export class GroupSwitch {
  /** The groups last asked for (`syncGroups`, `setSyncGroups`); undefined: the credential's own, as the welcome says. */
  private target: string[] | undefined;
  /** The groups the local pool holds (a welcome's, or a finished switch's); undefined before the first bootstrap. */
  private held: string[] | undefined;
  /** The `set_groups` on the wire: its ref and groups, and (once `groups` came) the rows of what it added. */
  private inflight: { ref: string; groups: string[]; rows: Map<string, RowData[]> | null } | null = null;
  private waiters: Waiter[] = [];
  /** The groups of the welcome on the current socket (held once its bootstrap or catch-up is done). */
  private welcomed: string[] | undefined;
  /** A hello naming `setSyncGroups` groups was refused and the target went back to the groups held. */
  private revertedHello = false;

  constructor(
    private readonly host: GroupSwitchHost,
    initial: string[] | undefined,
  ) {
    this.target = initial;
  }

  /** What `ablo.syncGroups` shows: the groups last asked for, else those the engine resolved. */
  get groups(): readonly string[] {
    return Object.freeze([...(this.target ?? this.held ?? this.welcomed ?? [])]);
  }

  /** Groups were named (`syncGroups` or `setSyncGroups`), not left to the credential. */
  get named(): boolean {
    return this.target !== undefined;
  }

  /** Whether the pool holds the groups the next hello asks for (else that hello needs a fresh bootstrap). */
  get poolMatches(): boolean {
    return this.target === undefined || keyOf(this.target) === keyOf(this.held);
  }

  /** `ablo.setSyncGroups(groups)`. */
  set(groups: unknown): Promise<void> {
    let list: string[];
    try {
      list = [...new Set(parseWire(setGroupsFrameSchema.shape.groups, groups, 'syncGroups'))];
    } catch (err) {
      return Promise.reject(err);
    }
    this.target = list;
    this.host.helloGroups(list);
    this.host.changed();
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ key: keyOf(list)!, resolve, reject }));
    this.pump();
    return done;
  }

  /** Send the next switch when live and nothing is on the wire; settle every call once the target is held. */
  private pump(): void {
    if (this.inflight || !this.host.live()) return;
    if (this.poolMatches) {
      this.settle();
      return;
    }
    const ref = `g_${ulid()}`;
    const groups = this.target!;
    if (this.host.send({ type: 'set_groups', ref, groups })) this.inflight = { ref, groups, rows: null };
  }

  private settle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
  }

  // ---- the connection ------------------------------------------------------

  onWelcome(groups: unknown): void {
    this.welcomed = Array.isArray(groups) ? (groups as string[]) : undefined;
    this.inflight = null;
  }

  /** The welcome's bootstrap or catch-up is done and the connection is live: its groups are held. */
  onLive(): void {
    if (this.welcomed) this.held = this.welcomed;
    this.pump();
  }

  /** The socket went: what was on the wire is gone; the next hello names the target. */
  onDisconnect(): void {
    this.inflight = null;
  }

  /** Everything stops (dispose, a fatal error): calls still waiting reject with `err`. */
  fail(err: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  /** A `groups`, `bootstrap` or `groups_done` frame of a switch; false when it is not one. */
  onFrame(frame: { type: string; [key: string]: unknown }): boolean {
    const flight = this.inflight;
    if (frame.type === 'groups') {
      if (flight && frame.ref === flight.ref) flight.rows = new Map();
      return true;
    }
    if (frame.type === 'bootstrap') {
      if (!flight?.rows) return false;
      const list = flight.rows.get(frame.model as string) ?? [];
      for (const r of frame.rows as RowData[]) list.push(r);
      flight.rows.set(frame.model as string, list);
      return true;
    }
    if (frame.type === 'groups_done') {
      if (flight?.rows && frame.ref === flight.ref) this.finish(flight.groups, flight.rows, frame.lastSyncId as number);
      return true;
    }
    return false;
  }

  /** The new groups' rows are all in: swap the pool's groups in one store flush. */
  private finish(groups: string[], rows: Map<string, RowData[]>, watermark: number): void {
    const { store, schema } = this.host;
    const match = groupMatcher(groups);
    const dropped = store.dropRows((model, row) => {
      const m = schema.models[model];
      return m ? match.any(m.syncGroups(row)) : false;
    });
    for (const [model, list] of rows) store.mergeRows(model, list);
    store.markCaughtUp(watermark);
    this.host.useMatcher(match);
    if (dropped.length > 0) this.host.dropped(dropped);
    this.held = groups;
    this.inflight = null;
    this.pump();
  }

  /**
   * The hello was refused (an error frame without ref, before the welcome). When it named groups of a
   * `setSyncGroups` call the credential may not use, and other groups were held before: the calls for them
   * reject, the target goes back to the groups held, and the next hello asks for those (returns true: not fatal).
   * A refusal of the groups given to the constructor stays fatal, as before.
   */
  onHelloRefused(error: AbloError): boolean {
    if (error.code !== 'group_not_allowed' || this.poolMatches || !this.held) return false;
    const key = keyOf(this.target)!;
    for (const w of this.waiters.filter((x) => x.key === key)) w.reject(error);
    this.waiters = this.waiters.filter((x) => x.key !== key);
    this.target = this.held;
    this.host.helloGroups(this.held);
    this.host.changed();
    this.revertedHello = true;
    return true;
  }

  /** The connection asks, at the refused hello's close, whether to reconnect: once per `onHelloRefused`. */
  takeHelloRetry(): boolean {
    const retry = this.revertedHello;
    this.revertedHello = false;
    return retry;
  }

  /** An error frame for the switch on the wire; false when the ref is not its. */
  onError(ref: string | undefined, envelope: unknown): boolean {
    const flight = this.inflight;
    if (!flight || ref !== flight.ref) return false;
    this.inflight = null;
    const error = errorFromEnvelope({ error: envelope });
    // The engine is draining (it closes the socket next): the next hello, elsewhere, names the target.
    if (error instanceof AbloError && error.code === 'draining') return true;
    // The calls that asked for exactly these groups are refused.
    const key = keyOf(flight.groups)!;
    for (const w of this.waiters.filter((x) => x.key === key)) w.reject(error);
    this.waiters = this.waiters.filter((x) => x.key !== key);
    if (keyOf(this.target) === key) {
      // Nothing newer was asked for: back to the groups held (the calls it overtook resolve now).
      this.target = this.held;
      if (this.held) this.host.helloGroups(this.held);
      this.host.changed();
    }
    this.pump();
    return true;
  }
}
