/**
 * Sync features as plugins. The sync server (../sync.ts) keeps the protocol
 * core (handshake, bootstrap / catch-up, commits, fanout, heartbeat,
 * back-pressure); a feature that adds frames to the socket (claims today,
 * presence next) is a `SyncPlugin` registered with it, like an HTTP route.
 *
 * Every plugin frame passes the one guard (../auth/guard.ts) before
 * `onFrame` runs: the server parses it with the plugin's schema, checks the
 * connection's credential is still active, that it allows the frame's
 * `operation`, and — when the rule names a `row` — that the principal sees
 * the row (its sync groups; a row it may not see is "not found"). The plugin
 * then only does its own work.
 */
import type { z } from 'zod';
import type { ParticipantRef } from '../../protocol/commit.js';
import type { ServerFrame } from '../../protocol/sync.js';
import type { Operation, Principal } from '../auth/principal.js';

/** What a plugin sees of one connection (past its hello). */
export interface SyncConnection {
  readonly id: string;
  readonly principal: Principal;
  readonly participant: ParticipantRef;
  /** The sync groups it asked for (within its principal's): exact groups, or patterns (`board:*`; `*`: every group). */
  readonly groups: ReadonlySet<string>;
  /** Whether it receives something in one of `groups` (a row's groups), patterns included. */
  inGroups(groups: readonly string[]): boolean;
  /** `syncing` (bootstrap or catch-up running), `live`, or `closing`. */
  readonly state: 'syncing' | 'live' | 'closing';
  /** Send a frame (object, or JSON text encoded once for many connections); nothing happens once it is closing. */
  send(frame: ServerFrame | string): void;
}

/** What the server gives a plugin when it starts. */
export interface SyncHost {
  /** Every connection past its hello. */
  connections(): Iterable<SyncConnection>;
}

/** How the guard checks one client frame type before the plugin sees it. */
export interface FrameRule<F> {
  /** The frame's wire shape (a `{ type: literal }` object); a frame that does not parse gets `invalid_request`. */
  schema: z.ZodType<F>;
  /** What the principal must be allowed (../auth/principal.ts). */
  operation: Operation;
  /** The row the frame acts on, if any: the principal must see it. */
  row?: (frame: F) => { model: string; id: string } | undefined;
}

export interface SyncPlugin<F extends { type: string; ref?: string | undefined } = { type: string; ref?: string | undefined }> {
  /** For messages and logs, e.g. `claims`. */
  readonly name: string;
  /** The client frame types it serves, each with its guard rule. */
  readonly frames: Readonly<Record<string, FrameRule<F>>>;
  /** Called once when the server starts (e.g. to subscribe to the feature's events and fan them out). */
  start?(host: SyncHost): void;
  /** One guarded frame; a throw becomes an error frame carrying the frame's `ref`. */
  onFrame(conn: SyncConnection, frame: F): Promise<void>;
  /** The connection became live (bootstrap or catch-up done): send its initial state. */
  onLive?(conn: SyncConnection): void;
  /**
   * The connection's groups changed on a live connection (`set_groups`), once the rows of the new groups went
   * out: send the state of what is new, forget what left. `previous` is the set before.
   */
  onGroupsChanged?(conn: SyncConnection, previous: ReadonlySet<string>): void;
  /** The connection went (closed, dropped, revoked): forget it, release what it held. */
  onDetach?(conn: SyncConnection): void;
  /** The server is closing. */
  close?(): void;
}
