/**
 * The WebSocket sync server (`GET /v1/sync`), the protocol core: handshake,
 * bootstrap or catch-up, commits over the socket, fanout of confirmed changes
 * in sync-id order to every connection whose groups match, heartbeat and
 * back-pressure. Features with frames of their own (claims, presence) are
 * plugins (./sync/plugin.ts).
 *
 * Identity: a connection asks the guard (./auth/guard.ts) once — at the
 * upgrade when the key comes in the Authorization header, else at its hello
 * — and keeps that principal. The hello needs `read` and groups within the
 * principal's; every later frame checks the principal is still active
 * (revoked or expired: error frame and close 4001), commits need `write`,
 * plugin frames what their rule says. A refused hello gets an error frame
 * (`authentication_error`, or `permission_error` / `group_not_allowed`,
 * `operation_not_allowed`, `participant_not_allowed`) and close 4001:
 * retrying with the same credential cannot help.
 *
 * Draining (`drain()`, then `closeAll(4006)`, run by `engine.drain()`): new
 * upgrades get 503 `draining`, new commit and plugin frames a `draining`
 * error frame; what was queued before finishes and is receipted.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { z } from 'zod';
import { AbloAuthenticationError, AbloError, abloError, AbloPermissionError, AbloRateLimitError, AbloServerError, AbloValidationError, toErrorEnvelope } from '../errors.js';
import type { ParticipantRef } from '../protocol/commit.js';
import { ulid } from '../protocol/ids.js';
import { ALL_GROUPS, groupMatcher, type GroupMatcher } from '../protocol/groups.js';
import { JSON_ENVELOPE, checkJson, parseJsonText, stringifyJson } from '../protocol/json.js';
import { quickCommitFrame } from '../protocol/commitFrame.js';
import { parseWire } from '../protocol/parse.js';
import {
  CLOSE_CODES,
  SYNC_PROTOCOL_VERSION,
  authFrameSchema,
  checkSyncProtocol,
  commitFrameSchema,
  helloFrameSchema,
  pingFrameSchema,
  setGroupsFrameSchema,
  type AuthFrame,
  type CommitFrame,
  type HelloFrame,
  type ServerFrame,
  type SetGroupsFrame,
} from '../protocol/sync.js';
import { changeAsSeen, type Guard } from './auth/guard.js';
import { actingAs, type Actor, type CredentialRevoked, type Principal } from './auth/principal.js';
import type { CommitHold, RateLimiter } from './auth/rateLimits.js';
import { commitWriter, receiptWithRows, type CommitPipeline } from './commit.js';
import type { CompiledModel } from '../schema/compile.js';
import type { SchemaService } from './schemaService.js';
import { logCoversAfter, type ChangeRecord, type Storage } from './storage/types.js';
import { groupsChange, SwitchQueue } from './sync/groups.js';
import type { FrameRule, SyncConnection, SyncPlugin } from './sync/plugin.js';

export interface SyncServerOptions {
  storage: Storage;
  pipeline: CommitPipeline;
  schema: SchemaService;
  /** Authenticates connections and checks every frame (./auth/guard.ts). */
  guard: Guard;
  /** Features with frames of their own (claims…), in the order their frames are listed. */
  plugins?: SyncPlugin<any>[];
  /** Largest frame accepted from a client (bytes). Larger frames close the socket with 1009. */
  maxFrameBytes?: number;
  /**
   * Bytes queued to one client before it is told to resync and dropped
   * (close 4003): live changes, and bootstrap / catch-up frames (what is
   * buffered plus the frame being sent).
   */
  maxBufferedBytes?: number;
  /**
   * How long a bootstrap or catch-up waits for a client that takes no data
   * (its queue is full and nothing drains) before it is told to resync and
   * dropped (close 4003). Default 15 s.
   */
  stallTimeoutMs?: number;
  /** Changes held for a connection while it bootstraps before it is told to resync. */
  maxPendingChanges?: number;
  heartbeatMs?: number;
  helloTimeoutMs?: number;
  /** Most rows (or changes) read from storage per page of a bootstrap (or catch-up). */
  bootstrapChunkRows?: number;
  /** Commits per second and connections per credential (./auth/rateLimits.ts); absent: no limits. */
  rateLimits?: RateLimiter;
  /** The commit path's claim check for a socket's commits (the connection owns the claims it made). */
  claimCheck?: (participant: ParticipantRef, connectionId: string) => ((model: string, id: string) => void | Promise<void>) | undefined;
  onEvent?: (event: SyncEvent) => void;
}

export type SyncEvent =
  | { type: 'connect'; connectionId: string; participant: ParticipantRef; groups: string[] }
  | { type: 'disconnect'; connectionId: string; participant: ParticipantRef | null; reason: string };

interface Connection {
  id: string;
  ws: WebSocket;
  headerKey: string | undefined;
  /** The principal of the header key (checked before the upgrade); a hello without another key keeps it. */
  headerPrincipal: Principal | null;
  /** Set by the hello. */
  principal: Principal | null;
  /** Set when its credential is revoked: nothing more of this connection is accepted. */
  revoked: boolean;
  /** An `auth` frame being checked: frames after it wait for it (they are checked against its credential). */
  authing: Promise<void> | null;
  /** Who writes (set by the hello): the credential's participant, and whom it acts for (`hello.participant`). */
  actor: Actor | null;
  /** Who acts (claims, presence, the welcome): `actingAs(actor)`. */
  participant: ParticipantRef | null;
  /** The groups and patterns of its hello (`*`: every group). */
  groups: Set<string>;
  groupsKey: string;
  /** Matches a row's or change's groups against `groups` (patterns included). */
  match: GroupMatcher;
  state: 'awaiting_hello' | 'syncing' | 'live' | 'closing';
  pending: ChangeRecord[];
  /**
   * A `set_groups` is sending the rows of its new groups (state `syncing`: changes are held in `pending`).
   * Receipts of its commits wait in `heldReceipts` meanwhile, so each still follows its change, as when live.
   */
  switching: boolean;
  heldReceipts: string[];
  /** Its `set_groups` frames, one at a time in the order they came. */
  switches: SwitchQueue;
  alive: boolean;
  helloTimer: NodeJS.Timeout | null;
  /** Gives back its place among its credential's connections (rate limits); set by the hello. */
  releaseSlot: (() => void) | null;
  /** After a commit refused by the rate limits, its later commits are refused until then (order kept). */
  hold: CommitHold;
  /** What plugins see of it. */
  view: SyncConnection;
}

/** The core's own client frames; plugins add theirs after these. */
const CORE_FRAMES: ReadonlyMap<string, z.ZodType> = new Map<string, z.ZodType>([
  ['hello', helloFrameSchema],
  ['commit', commitFrameSchema],
  ['ping', pingFrameSchema],
  ['auth', authFrameSchema],
  ['set_groups', setGroupsFrameSchema],
]);

type PluginFrame = { type: string; ref?: string | undefined };

function frame(f: ServerFrame): string {
  return JSON.stringify(f);
}

/** A change as sync frames carry it: without its commit id and credential (those are in the change log, `GET /v1/changes`). */
function publicChange({ commitId: _c, credentialId: _k, ...change }: ChangeRecord): Omit<ChangeRecord, 'commitId' | 'credentialId'> {
  return change;
}

/** Bytes a bootstrap or catch-up may queue on one socket before it waits for the socket to drain. */
const STREAM_HIGH_WATER = 1024 * 1024;
/** Most bytes of encoded rows (or changes) in one bootstrap / catch-up / changes frame; a single larger item goes alone. */
export const FRAME_BYTES = 256 * 1024;

/** Thrown inside a stream when its connection was closed (it was told why already). */
class StreamClosed extends Error {}

/**
 * Packs encoded items (rows or changes, JSON text) into frames
 * `{head}item,item,…{tail}` of at most FRAME_BYTES bytes; an item too large
 * for that goes alone.
 */
class FramePacker {
  private parts: Array<string | Buffer> = [];
  /** Some part is a Buffer: the frame is built as bytes. */
  private binary = false;
  private readonly empty: number;
  private bytes: number;
  constructor(
    private readonly head: string,
    private readonly tail: string,
  ) {
    this.empty = this.bytes = Buffer.byteLength(head) + Buffer.byteLength(tail);
  }

  /** Bytes an item may have and still share a frame (larger ones go alone). */
  get room(): number {
    return FRAME_BYTES - this.empty;
  }

  /**
   * Add one item (JSON text, or its UTF-8 bytes); returns the frame that was
   * full before it, if any. An item may be several rows or changes already
   * joined by commas.
   */
  push(item: string | Buffer): string | Buffer | null {
    const size = typeof item === 'string' ? Buffer.byteLength(item) : item.length;
    const add = size + (this.parts.length > 0 ? 1 : 0);
    const full = this.parts.length > 0 && this.bytes + add > FRAME_BYTES ? this.take() : null;
    this.bytes += this.parts.length > 0 ? add : size;
    this.parts.push(item);
    if (typeof item !== 'string') this.binary = true;
    return full;
  }

  /** The frame of the items added so far (null when none), and start over. */
  take(): string | Buffer | null {
    if (this.parts.length === 0) return null;
    let frame: string | Buffer;
    if (!this.binary) frame = this.head + this.parts.join(',') + this.tail;
    else {
      const list: Buffer[] = [Buffer.from(this.head)];
      for (let i = 0; i < this.parts.length; i++) {
        if (i > 0) list.push(COMMA);
        const part = this.parts[i]!;
        list.push(typeof part === 'string' ? Buffer.from(part) : part);
      }
      list.push(Buffer.from(this.tail));
      frame = Buffer.concat(list, this.bytes);
    }
    this.parts = [];
    this.binary = false;
    this.bytes = this.empty;
    return frame;
  }
}

const COMMA = Buffer.from(',');

/** Turns of sync work handed out per event-loop iteration (see `Turns`). */
const TURNS_PER_TICK = 8;

/**
 * Turns for sync work: a hello's handshake, one page of a bootstrap or
 * catch-up. At most TURNS_PER_TICK turns start per event-loop iteration, in
 * the order they were asked for, so a burst of hellos (1,000 clients at once)
 * never holds the loop for long: HTTP requests, commits and timers run
 * between every few pages, and every stream moves forward in turn.
 */
class Turns {
  private waiting: Array<() => void> = [];
  private head = 0;
  private pumping = false;

  /** Resolves when it is the caller's turn. */
  next(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      if (!this.pumping) {
        this.pumping = true;
        setImmediate(this.pump);
      }
    });
  }

  private readonly pump = (): void => {
    const end = Math.min(this.waiting.length, this.head + TURNS_PER_TICK);
    // Continuations run after this callback returns, before the loop's next phase.
    for (; this.head < end; this.head++) this.waiting[this.head]!();
    if (this.head >= 1024 && this.head * 2 >= this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.waiting.length) setImmediate(this.pump);
    else {
      this.waiting = [];
      this.head = 0;
      this.pumping = false;
    }
  };
}

/** Re-reads the state after an await (TypeScript keeps the narrowed type otherwise). */
function isClosing(conn: Connection): boolean {
  return conn.state === 'closing';
}

/** An expired credential (not a refused or revoked one): the client may get a new token and reconnect (4007). */
function isExpiry(err: unknown): boolean {
  return err instanceof AbloAuthenticationError && (err.code === 'token_expired' || err.code === 'credential_expired');
}

function matches(change: ChangeRecord, match: GroupMatcher): boolean {
  return match.any(change.groups, change.prevGroups);
}

/**
 * The groups a hello without `groups` receives: every group its credential
 * may read (`*` for a principal with every group; a session's own patterns).
 */
export function defaultGroups(principal: Principal): string[] {
  return principal.groups === 'all' ? [ALL_GROUPS] : [...principal.groups];
}

export class SyncServer {
  private readonly wss: WebSocketServer;
  private readonly conns = new Map<string, Connection>();
  private readonly opts: Required<Omit<SyncServerOptions, 'claimCheck' | 'onEvent' | 'rateLimits'>> & Pick<SyncServerOptions, 'claimCheck' | 'onEvent' | 'rateLimits'>;
  private heartbeat: NodeJS.Timeout;
  private unsubscribeSchema: () => void;
  private unsubscribeRevoked: () => void;
  private readonly turns = new Turns();
  /** Sockets corked in this turn (see `cork`). */
  private readonly corked = new Set<Socket>();
  private readonly guard: Guard;
  /** Plugin frame type → its plugin and guard rule. */
  private readonly pluginFrames = new Map<string, { plugin: SyncPlugin<PluginFrame>; rule: FrameRule<PluginFrame> }>();
  private readonly frameTypes: readonly string[];
  /** Set by `drain()`: no new sockets, no new commit or plugin frames. */
  private draining = false;

  constructor(options: SyncServerOptions) {
    this.opts = {
      maxFrameBytes: 1024 * 1024,
      maxBufferedBytes: 16 * 1024 * 1024,
      stallTimeoutMs: 15_000,
      maxPendingChanges: 100_000,
      heartbeatMs: 15_000,
      helloTimeoutMs: 10_000,
      bootstrapChunkRows: 500,
      plugins: [],
      ...options,
    };
    this.guard = options.guard;
    for (const plugin of this.opts.plugins) {
      for (const [type, rule] of Object.entries(plugin.frames)) {
        if (CORE_FRAMES.has(type) || this.pluginFrames.has(type)) throw new Error(`Sync plugin ${plugin.name}: frame type "${type}" is taken.`);
        this.pluginFrames.set(type, { plugin, rule });
      }
    }
    this.frameTypes = [...CORE_FRAMES.keys(), ...this.pluginFrames.keys()];
    // A revoked credential's connections close at once (see revokeCredential).
    this.unsubscribeRevoked = this.guard.onRevoked((e) => this.revokeCredential(e));
    const host = { connections: () => this.views() };
    for (const plugin of this.opts.plugins) plugin.start?.(host);
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.opts.maxFrameBytes, perMessageDeflate: false });
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
    this.heartbeat.unref();
    this.unsubscribeSchema = this.opts.schema.onChange((s) => {
      const text = frame({ type: 'schema', hash: s.hash });
      for (const c of this.conns.values()) if (c.state === 'live' || c.switching) this.send(c, text);
    });
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  /** What plugins see of every connection past its hello. */
  private *views(): Iterable<SyncConnection> {
    for (const c of this.conns.values()) if (c.principal && c.participant) yield c.view;
  }

  /** Participants of live connections, for status views. */
  connectionsInfo(): Array<{ id: string; participant: ParticipantRef | null; groups: string[]; state: string }> {
    return [...this.conns.values()].map((c) => ({ id: c.id, participant: c.participant, groups: [...c.groups], state: c.state }));
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.draining) {
      const body = JSON.stringify(toErrorEnvelope(abloError('draining')));
      socket.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    const auth = req.headers.authorization;
    const headerKey = auth ? (/^Bearer\s+(.+)$/i.exec(auth.trim())?.[1] ?? auth).trim() : undefined;
    const accept = (): void => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, headerKey));
    };
    if (!headerKey) {
      accept();
      return;
    }
    // A key in the header is checked before the upgrade so a wrong key gets a plain 401.
    this.guard.authenticate(headerKey).then((principal) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, headerKey, principal));
    }, (err: unknown) => {
      const e = err instanceof AbloError ? err : new AbloServerError();
      const body = JSON.stringify(toErrorEnvelope(e));
      socket.end(
        `HTTP/1.1 ${e.status} ${e.status === 401 ? 'Unauthorized' : 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    });
  }

  private attach(ws: WebSocket, headerKey: string | undefined, headerPrincipal: Principal | null = null): void {
    const conn = {
      id: `conn_${ulid()}`,
      ws,
      headerKey,
      headerPrincipal,
      principal: null,
      revoked: false,
      authing: null,
      actor: null,
      participant: null,
      groups: new Set(),
      groupsKey: '',
      match: groupMatcher([]),
      state: 'awaiting_hello',
      pending: [],
      switching: false,
      heldReceipts: [],
      switches: new SwitchQueue(),
      alive: true,
      helloTimer: null,
      releaseSlot: null,
      hold: { until: 0 },
    } as Omit<Connection, 'view'> as Connection;
    conn.view = {
      id: conn.id,
      get principal() {
        return conn.principal!;
      },
      get participant() {
        return conn.participant!;
      },
      get groups() {
        return conn.groups;
      },
      inGroups: (groups) => conn.match.any(groups),
      get state() {
        // While a set_groups sends its new rows the connection is still live for plugins: their frames keep flowing.
        return conn.state === 'awaiting_hello' ? 'syncing' : conn.switching && conn.state === 'syncing' ? 'live' : conn.state;
      },
      send: (f) => this.send(conn, typeof f === 'string' ? f : frame(f)),
    };
    this.conns.set(conn.id, conn);
    conn.helloTimer = setTimeout(() => this.closeConnection(conn, CLOSE_CODES.hello_timeout, 'no hello frame received in time'), this.opts.helloTimeoutMs);
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      conn.alive = true;
      void this.onMessage(conn, data, isBinary);
    });
    ws.on('close', (code: number) => this.detach(conn, `closed (${code})`));
    ws.on('error', () => this.detach(conn, 'socket error'));
  }

  private detach(conn: Connection, reason: string): void {
    if (!this.conns.delete(conn.id)) return;
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    conn.state = 'closing';
    conn.pending = [];
    conn.releaseSlot?.();
    conn.releaseSlot = null;
    if (conn.principal) {
      for (const plugin of this.opts.plugins) {
        try {
          plugin.onDetach?.(conn.view);
        } catch {
          // One plugin's failure never keeps a connection around.
        }
      }
    }
    this.opts.onEvent?.({ type: 'disconnect', connectionId: conn.id, participant: conn.participant, reason });
  }

  private closeConnection(conn: Connection, code: number, reason: string): void {
    if (conn.state === 'closing') return;
    conn.state = 'closing';
    conn.pending = [];
    try {
      conn.ws.close(code, reason.slice(0, 120));
    } catch {
      conn.ws.terminate();
    }
    // A client that does not answer the close handshake is cut off.
    setTimeout(() => conn.ws.terminate(), 2000).unref();
    this.detach(conn, reason);
  }

  /** Send a frame (text, or a text frame already encoded once for many sockets). */
  private send(conn: Connection, data: string | Buffer): void {
    if (conn.state === 'closing') return;
    if (conn.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      this.resync(conn, 'client is not reading fast enough');
      return;
    }
    this.cork(conn.ws);
    if (typeof data === 'string') conn.ws.send(data);
    else conn.ws.send(data, { binary: false });
  }

  /**
   * Hold what this turn writes to `ws` until the turn's work is done (its
   * promise continuations included), then write it with one `writev`: a
   * writer's changes frame and its receipt, or the frames of several
   * batches, go out together instead of one system call each. Corking the
   * TCP socket keeps the frames, their order and the protocol as they are;
   * what is held counts in `bufferedAmount` like anything queued, so the
   * slow-reader limits see it.
   */
  private cork(ws: WebSocket): void {
    // ws keeps its net.Socket here (ws 8); without it (closed), there is nothing to hold.
    const socket = (ws as unknown as { _socket?: Socket | null })._socket;
    if (!socket || socket.destroyed || this.corked.has(socket)) return;
    socket.cork();
    this.corked.add(socket);
    if (this.corked.size === 1) process.nextTick(this.uncorkAll);
  }

  /** Write what every corked socket holds (see `cork`). */
  private readonly uncorkAll = (): void => {
    const sockets = [...this.corked];
    this.corked.clear();
    for (const socket of sockets) socket.uncork();
  };

  /** Tell a connection its stream is broken and drop it; it reconnects and catches up. */
  private resync(conn: Connection, reason: string): void {
    if (conn.state === 'closing') return;
    try {
      conn.ws.send(frame({ type: 'resync', reason }));
    } catch {
      // The socket is already unusable; closing below is all that is left.
    }
    this.closeConnection(conn, CLOSE_CODES.resync_required, reason);
  }

  private sendError(conn: Connection, err: unknown, ref?: string): void {
    const e = err instanceof AbloError ? err : new AbloServerError();
    this.send(conn, frame({ type: 'error', ...(ref ? { ref } : {}), error: toErrorEnvelope(e).error }));
  }

  /**
   * A credential was revoked: every connection that authenticated with it
   * (hello or header) gets an error frame and is closed with 4001. Its
   * commits still queued are refused (`authorized` asks the guard), and
   * closing drops its claims and queued claim requests (plugins' `onDetach`).
   */
  private revokeCredential({ credentialId, error }: CredentialRevoked): void {
    for (const conn of [...this.conns.values()]) {
      const mine = (conn.principal ?? conn.headerPrincipal)?.credentialId === credentialId;
      if (!mine || conn.state === 'closing') continue;
      conn.revoked = true;
      this.sendError(conn, error);
      this.closeConnection(conn, CLOSE_CODES.authentication_failed, 'credential revoked');
    }
  }

  private async onMessage(conn: Connection, data: RawData, isBinary: boolean): Promise<void> {
    if (conn.state === 'closing' || conn.revoked) return;
    let ref: string | undefined;
    let hello = false;
    try {
      if (isBinary) throw abloError('invalid_frame');
      const raw = parseJsonText(data.toString(), 'Frame');
      if (raw && typeof raw === 'object' && typeof (raw as { ref?: unknown }).ref === 'string') ref = (raw as { ref: string }).ref;
      const type = raw && typeof raw === 'object' ? (raw as { type?: unknown }).type : undefined;
      hello = type === 'hello' && conn.state === 'awaiting_hello';
      // Nesting within the limit, no lone surrogates (src/protocol/json.ts).
      checkJson(raw, { what: 'Frame', envelope: JSON_ENVELOPE.frame });
      const plugin = typeof type === 'string' ? this.pluginFrames.get(type) : undefined;
      const core = typeof type === 'string' ? CORE_FRAMES.get(type) : undefined;
      if (!plugin && !core) {
        throw new AbloValidationError(`Unknown frame type ${JSON.stringify(type)}. Frames: ${this.frameTypes.join(', ')}.`, { code: 'unknown_frame' });
      }
      // Commit frames of the common shapes skip Zod (same acceptance; anything else is Zod's to judge).
      const msg = ((core === commitFrameSchema ? quickCommitFrame(raw) : null) ??
        parseWire((plugin?.rule.schema ?? core)!, raw, `${String(type)} frame`)) as { type: string };
      if (msg.type === 'ping') {
        const t = (msg as { t?: number }).t;
        // Live: every change up to the head in its groups went out before this frame (fanout sends as the feed
        // announces), so the head is its watermark even when its groups are quiet.
        const head = conn.state === 'live' ? { lastSyncId: this.opts.storage.feed.head() } : {};
        this.send(conn, frame({ type: 'pong', ...(t !== undefined ? { t } : {}), ...head }));
        return;
      }
      if (msg.type === 'hello') {
        if (conn.state !== 'awaiting_hello') throw abloError('duplicate_hello');
        hello = false;
        const refused = checkSyncProtocol((msg as HelloFrame).protocol);
        if (refused) {
          this.sendError(conn, refused.error);
          this.closeConnection(conn, CLOSE_CODES.unsupported_protocol, refused.reason);
          return;
        }
        await this.onHello(conn, msg as HelloFrame);
        return;
      }
      if (conn.state === 'awaiting_hello' || !conn.participant || !conn.principal) {
        this.sendError(conn, abloError('hello_required'), ref);
        this.closeConnection(conn, CLOSE_CODES.protocol_error, 'hello required');
        return;
      }
      if (msg.type === 'auth') {
        // In order: frames after this one wait for it. An expired (not revoked) credential may still be replaced here.
        const before = conn.authing;
        const mine: Promise<void> = (async () => {
          if (before) await before;
          await this.onAuth(conn, msg as AuthFrame);
        })().finally(() => {
          if (conn.authing === mine) conn.authing = null;
        });
        conn.authing = mine;
        return;
      }
      if (conn.authing) {
        await conn.authing;
        if (isClosing(conn) || conn.revoked) return;
      }
      if (!this.stillActive(conn, ref)) return;
      // Draining: what was queued before finishes; new writes and claims go to another engine (the SDK resends them there).
      if (this.draining) throw abloError('draining');
      if (plugin) await this.onPluginFrame(conn, plugin.plugin, plugin.rule, msg);
      else if (msg.type === 'set_groups') await conn.switches.run(() => this.onSetGroups(conn, msg as SetGroupsFrame));
      else await this.onCommit(conn, msg as CommitFrame);
    } catch (err) {
      if (hello && conn.state === 'awaiting_hello') {
        // A hello that fails validation is answered at once: a bad key is an authentication failure, anything else a protocol error.
        const fields = err instanceof AbloValidationError ? [err.field ?? '', ...err.issues.map((i) => i.field)] : [];
        if (fields.some((f) => f === 'apiKey' || f.startsWith('apiKey.'))) {
          this.sendError(conn, new AbloAuthenticationError('The hello frame\'s apiKey must be an API key or session token (a string).', { code: 'invalid_api_key' }));
          this.closeConnection(conn, CLOSE_CODES.authentication_failed, 'authentication failed');
        } else {
          this.sendError(conn, err);
          this.closeConnection(conn, CLOSE_CODES.protocol_error, 'invalid hello');
        }
        return;
      }
      this.sendError(conn, err, ref);
    }
  }

  /**
   * The connection's credential is still good (not revoked, not expired); else it is told why and closed: 4007
   * when it expired (get a new token and reconnect), 4001 when it was revoked.
   */
  private stillActive(conn: Connection, ref?: string): boolean {
    try {
      this.guard.assertActive(conn.principal!);
      return true;
    } catch (err) {
      conn.revoked = true;
      this.sendError(conn, err, ref);
      if (isExpiry(err)) this.closeConnection(conn, CLOSE_CODES.token_expired, 'token expired');
      else this.closeConnection(conn, CLOSE_CODES.authentication_failed, 'credential no longer valid');
      return false;
    }
  }

  /**
   * An `auth` frame: the connection's credential becomes the frame's token when it is valid, for the same
   * participant (else `participant_mismatch`: the connection keeps its credential) and covers the connection's
   * groups and `read` (else `scope_narrowed` and close 4008: the client says hello again with it). Answered
   * `auth_ok` with the new expiry; frames after it are checked against it.
   */
  private async onAuth(conn: Connection, msg: AuthFrame): Promise<void> {
    if (conn.state === 'closing' || conn.revoked) return;
    let principal: Principal;
    try {
      principal = await this.guard.authenticate(msg.token);
      if (isClosing(conn) || conn.revoked) return;
      const participant = conn.participant!;
      try {
        this.guard.participant(principal, participant);
      } catch {
        throw new AbloPermissionError(
          `The token in this auth frame acts as ${principal.participant.kind}:${principal.participant.id}; this connection acts as ${participant.kind}:${participant.id}. Reconnect to change participant.`,
          { code: 'participant_mismatch', participant },
        );
      }
    } catch (err) {
      this.sendError(conn, err, msg.ref);
      return;
    }
    try {
      this.guard.assertOperation(principal, 'read');
      this.guard.assertGroups(principal, [...conn.groups]);
    } catch (err) {
      const why = err instanceof AbloError ? err.message : 'it is not allowed';
      this.sendError(conn, new AbloPermissionError(`The token in this auth frame does not cover this connection: ${why} Say hello again with it.`, { code: 'scope_narrowed' }), msg.ref);
      this.closeConnection(conn, CLOSE_CODES.scope_narrowed, 'new credential does not cover this connection');
      return;
    }
    conn.principal = principal;
    this.send(conn, frame({ type: 'auth_ok', ...(msg.ref ? { ref: msg.ref } : {}), expiresAt: principal.expiresAt }));
  }

  private async onCommit(conn: Connection, msg: CommitFrame): Promise<void> {
    const principal = conn.principal!;
    this.guard.assertCommit(principal, msg.commit);
    // Over its commits per second: an error frame for this commit (nothing written); the socket stays open.
    this.opts.rateLimits?.commit(principal, conn.hold);
    const claimCheck = this.opts.claimCheck?.(conn.participant!, conn.id);
    const outcome = await this.opts.pipeline.submit({
      request: msg.commit,
      ...commitWriter(conn.actor!),
      scope: principal.groups,
      ...(claimCheck ? { claimCheck } : {}),
      // Evaluated when the commit's turn comes: a credential revoked (or expired) while it waited writes nothing.
      authorized: () => this.guard.assertActive(principal),
    });
    // Rows this socket will not get as changes (outside its groups) ride on the receipt.
    const receipt = receiptWithRows(outcome.receipt, outcome.changes, (c) => conn.match.any(c.groups));
    const text = frame({ type: 'receipt', ref: msg.ref, receipt });
    if (conn.switching && conn.state === 'syncing') conn.heldReceipts.push(text);
    else this.send(conn, text);
  }

  /**
   * `set_groups` on a live connection (ordered by `conn.switches`): the new groups are checked like a hello's (a
   * refusal throws: an error frame with the ref, and the connection keeps its groups); then `groups`, the rows of
   * what is new (./sync/groups.ts), `groups_done` with the watermark, the changes held meanwhile, and each plugin's
   * `onGroupsChanged`.
   */
  private async onSetGroups(conn: Connection, msg: SetGroupsFrame): Promise<void> {
    if (isClosing(conn)) return;
    if (conn.state !== 'live') {
      throw new AbloValidationError('set_groups is answered on a live connection: send it after bootstrap_done.', { code: 'invalid_request', field: 'type' });
    }
    const principal = conn.principal!;
    this.guard.assertOperation(principal, 'read');
    this.guard.assertGroups(principal, msg.groups);
    const previous = conn.groups;
    const had = conn.match;
    const change = groupsChange(previous, msg.groups);
    // From here on, broadcasts for this connection are held in `pending` (with the new groups) until it is current.
    conn.groups = new Set(change.groups);
    conn.groupsKey = [...conn.groups].sort().join('\u0000');
    conn.match = groupMatcher(conn.groups);
    conn.state = 'syncing';
    conn.switching = true;
    const watermark = this.opts.storage.feed.head();
    this.send(conn, frame({ type: 'groups', ref: msg.ref, groups: change.groups, added: change.added, removed: change.removed }));
    try {
      if (change.added.length > 0) await this.bootstrap(conn, change.added, groupMatcher(change.added), had);
    } catch (err) {
      if (isClosing(conn)) return;
      this.sendError(conn, err, msg.ref);
      this.closeConnection(conn, CLOSE_CODES.server_shutdown, 'sync failed');
      return;
    }
    if (conn.state !== 'syncing') return;
    this.send(conn, frame({ type: 'groups_done', ref: msg.ref, lastSyncId: watermark }));
    this.goLive(conn, watermark);
    conn.switching = false;
    for (const text of conn.heldReceipts.splice(0)) this.send(conn, text);
    for (const plugin of this.opts.plugins) {
      try {
        plugin.onGroupsChanged?.(conn.view, previous);
      } catch {
        // A plugin's failure leaves the connection as it is: live on its new groups.
      }
    }
  }

  /** The bootstrap or catch-up is sent: send the changes held meanwhile (after `watermark`) and go live. */
  private goLive(conn: Connection, watermark: number): void {
    const pending = conn.pending.filter((c) => c.syncId > watermark);
    conn.pending = [];
    conn.state = 'live';
    if (pending.length === 0) return;
    const packer = new FramePacker('{"type":"changes","changes":[', ']}');
    const seen = (g: string): boolean => conn.match.has(g);
    for (const c of pending) {
      const full = packer.push(JSON.stringify(publicChange(changeAsSeen(c, seen))));
      if (full) this.send(conn, full);
    }
    const last = packer.take();
    if (last) this.send(conn, last);
  }

  /** A plugin frame, through the one guard: operation, then the row's groups when the rule names a row. */
  private async onPluginFrame(conn: Connection, plugin: SyncPlugin<PluginFrame>, rule: FrameRule<PluginFrame>, msg: PluginFrame): Promise<void> {
    const principal = conn.principal!;
    this.guard.assertOperation(principal, rule.operation);
    const row = principal.groups === 'all' ? undefined : rule.row?.(msg);
    if (row) {
      const schema = this.opts.schema.current();
      if (!schema) {
        throw abloError('no_schema');
      }
      await this.guard.assertRow(principal, schema.model(row.model), row.id, (m, id) => this.opts.storage.getRow(m, id));
    }
    await plugin.onFrame(conn.view, msg);
  }

  /**
   * Authenticate (once per connection: the header key's principal is kept
   * unless the hello names another key), then check the hello through the
   * guard: `read`, its groups, its participant. A refusal is an error frame
   * and close 4001. Returns the groups, or null when refused.
   */
  private async admit(conn: Connection, hello: HelloFrame): Promise<string[] | null> {
    try {
      const credential = hello.apiKey ?? conn.headerKey;
      const principal =
        conn.headerPrincipal && credential === conn.headerKey ? conn.headerPrincipal : await this.guard.authenticate(credential);
      if (conn.state !== 'syncing') return null;
      this.guard.assertOperation(principal, 'read');
      // No groups asked for: every group the credential may read (`*` for a secret key).
      const groups = hello.groups && hello.groups.length > 0 ? hello.groups : defaultGroups(principal);
      this.guard.assertGroups(principal, groups);
      conn.actor = this.guard.actor(principal, hello.participant);
      conn.participant = actingAs(conn.actor);
      // One connection too many for this credential: refused, the client reconnects after a backoff (4029, not 4001).
      conn.releaseSlot = this.opts.rateLimits?.connect(principal) ?? null;
      conn.principal = principal;
      return groups;
    } catch (err) {
      if (conn.state !== 'syncing') return null;
      this.sendError(conn, err);
      if (err instanceof AbloRateLimitError) this.closeConnection(conn, CLOSE_CODES.rate_limited, 'too many connections for this credential');
      else if (isExpiry(err)) this.closeConnection(conn, CLOSE_CODES.token_expired, 'token expired');
      else this.closeConnection(conn, CLOSE_CODES.authentication_failed, err instanceof AbloAuthenticationError || !(err instanceof AbloError) ? 'authentication failed' : 'not allowed');
      return null;
    }
  }

  private async onHello(conn: Connection, hello: HelloFrame): Promise<void> {
    if (conn.helloTimer) clearTimeout(conn.helloTimer);
    conn.helloTimer = null;
    conn.state = 'syncing';
    // Many hellos at once take turns (the rest of the engine runs in between).
    await this.turns.next();
    if (conn.state !== 'syncing') return;
    const groups = await this.admit(conn, hello);
    if (!groups || !conn.participant || conn.state !== 'syncing') return;
    const participant = conn.participant;
    conn.groups = new Set(groups);
    conn.groupsKey = [...conn.groups].sort().join('\u0000');
    conn.match = groupMatcher(conn.groups);

    const schema = this.opts.schema.current();
    const watermark = this.opts.storage.feed.head();
    const floor = await this.opts.storage.changeLogFloor();
    if (conn.state !== 'syncing') return;
    const canCatchUp =
      hello.lastSyncId !== undefined &&
      hello.lastSyncId <= watermark &&
      logCoversAfter(hello.lastSyncId, floor) &&
      (hello.schemaHash === undefined || hello.schemaHash === schema?.hash);
    // From here on, broadcasts for this connection are held in `pending` until it is current.
    this.send(
      conn,
      frame({
        type: 'welcome',
        protocol: SYNC_PROTOCOL_VERSION,
        connectionId: conn.id,
        mode: canCatchUp ? 'catchup' : 'bootstrap',
        lastSyncId: watermark,
        schemaHash: schema?.hash ?? '',
        groups,
        participant,
      }),
    );
    this.opts.onEvent?.({ type: 'connect', connectionId: conn.id, participant, groups });
    try {
      if (canCatchUp) await this.catchUp(conn, hello.lastSyncId!, watermark);
      else await this.bootstrap(conn, [...conn.groups], conn.match);
    } catch (err) {
      if (isClosing(conn)) return;
      this.sendError(conn, err);
      this.closeConnection(conn, CLOSE_CODES.server_shutdown, 'sync failed');
      return;
    }
    if (conn.state !== 'syncing') return;
    this.send(conn, frame({ type: 'bootstrap_done', lastSyncId: watermark }));
    this.goLive(conn, watermark);
    // Each plugin sends its initial state (e.g. the claims in its groups); later changes arrive as they happen.
    for (const plugin of this.opts.plugins) plugin.onLive?.(conn.view);
  }

  /**
   * A sender for one large stream (bootstrap, catch-up) on `conn`, counted
   * against maxBufferedBytes: a frame that would take the socket's queue over
   * it (unless the queue is empty) ends the connection with a resync (4003).
   * Frames go out without waiting while the queue holds at most
   * STREAM_HIGH_WATER bytes (or half the limit); above that, the stream waits
   * for the oldest frame still queued to be taken by the socket, at most
   * stallTimeoutMs each: a client that takes nothing for that long is told to
   * resync and dropped. A slow client that keeps reading is never dropped.
   * Nothing of a closed connection is kept: the socket is destroyed with its
   * queue, and the stream stops (StreamClosed).
   */
  private streamSender(conn: Connection): (text: string | Buffer) => Promise<void> {
    const ws = conn.ws;
    const highWater = Math.min(STREAM_HIGH_WATER, Math.max(FRAME_BYTES, this.opts.maxBufferedBytes / 2));
    // Frames handed to the socket and not yet taken by it, oldest first (taken in order).
    const inFlight: Array<{ taken: Promise<void>; done: boolean }> = [];
    return async (text) => {
      if (isClosing(conn)) throw new StreamClosed();
      const size = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
      const queued = ws.bufferedAmount;
      if (queued > 0 && queued + size > this.opts.maxBufferedBytes) {
        this.resync(conn, `client is not reading fast enough: its bootstrap would queue more than ${this.opts.maxBufferedBytes} bytes`);
        throw new StreamClosed();
      }
      const entry = { taken: Promise.resolve(), done: false };
      entry.taken = new Promise<void>((resolve, reject) =>
        // A Buffer is a frame's UTF-8 text: it goes as a text frame.
        ws.send(text, { binary: false }, (err) => {
          entry.done = true;
          if (err) reject(err);
          else resolve();
        }),
      );
      entry.taken.catch(() => {});
      inFlight.push(entry);
      while (inFlight.length > 0 && inFlight[0]!.done) inFlight.shift();
      while (ws.bufferedAmount > highWater && inFlight.length > 0) {
        const oldest = inFlight.shift()!;
        if (oldest.done) continue;
        let timer: NodeJS.Timeout | null = null;
        const stalled = new Promise<'stalled'>((resolve) => {
          timer = setTimeout(() => resolve('stalled'), this.opts.stallTimeoutMs);
        });
        try {
          const outcome = await Promise.race([oldest.taken.then(() => 'taken' as const), stalled]);
          if (outcome === 'stalled') {
            this.resync(conn, `client stopped reading: it took no data for ${Math.round(this.opts.stallTimeoutMs / 100) / 10} s during its bootstrap`);
            throw new StreamClosed();
          }
        } catch (err) {
          if (err instanceof StreamClosed || isClosing(conn)) throw new StreamClosed();
          throw err;
        } finally {
          if (timer) clearTimeout(timer);
        }
        if (isClosing(conn)) throw new StreamClosed();
      }
    };
  }

  /** Rows (or changes) per storage page: about one frame's worth, from the average size seen so far. */
  private pageSize(avgBytes: number): number {
    const max = this.opts.bootstrapChunkRows;
    if (!(avgBytes > 0)) return Math.min(max, 64);
    return Math.max(1, Math.min(max, Math.floor(FRAME_BYTES / avgBytes)));
  }

  /** The changes this connection missed, read from its groups only, in frames of at most FRAME_BYTES. */
  private async catchUp(conn: Connection, from: number, to: number): Promise<void> {
    const groups = [...conn.groups];
    const packer = new FramePacker('{"type":"changes","changes":[', ']}');
    const send = this.streamSender(conn);
    let after = from;
    let bytes = 0;
    let count = 0;
    while (after < to) {
      const limit = this.pageSize(count > 0 ? bytes / count : 0);
      const page = await this.changesPage(conn, groups, after, to, limit);
      if (isClosing(conn)) throw new StreamClosed();
      // A prune that ran since the hello may have taken entries this page should hold (the floor is read after the
      // page: a prune shows here no later than its missing entries). Nothing of the page is sent: the client
      // reconnects from the last change it has, below the floor, and gets a bootstrap.
      if (!logCoversAfter(after, await this.opts.storage.changeLogFloor())) {
        this.resync(conn, 'the change log was pruned past this catch-up; reconnect for a bootstrap');
        throw new StreamClosed();
      }
      const seen = (g: string): boolean => conn.match.has(g);
      for (const c of page.changes) {
        const item = JSON.stringify(publicChange(changeAsSeen(c, seen)));
        bytes += item.length;
        count++;
        const full = packer.push(item);
        if (full) await send(full);
      }
      if (page.done) break;
      after = page.last;
      await this.turns.next();
    }
    const last = packer.take();
    if (last) await send(last);
  }

  /**
   * One page of a catch-up: through the group index for exact groups; with a
   * pattern (`board:*`, `*`), the change log in order, filtered here (`last`:
   * the highest sync id read, matched or not).
   */
  private async changesPage(conn: Connection, groups: string[], after: number, to: number, limit: number): Promise<{ changes: ChangeRecord[]; last: number; done: boolean }> {
    if (!conn.match.hasPatterns) {
      const changes = await this.opts.storage.feed.afterInGroups(groups, after, to, limit);
      return { changes, last: changes.at(-1)?.syncId ?? to, done: changes.length < limit };
    }
    const read = await this.opts.storage.changesAfter(after, limit);
    const inRange = read.filter((c) => c.syncId <= to);
    return {
      changes: conn.match.all ? inRange : inRange.filter((c) => matches(c, conn.match)),
      last: read.at(-1)?.syncId ?? to,
      done: read.length < limit || inRange.length < read.length,
    };
  }

  /**
   * The rows of `groups` (a hello's groups, or what a `set_groups` added;
   * `match` matches them), read group by group through the storage's group
   * index (never the rest of the database), in frames of at most FRAME_BYTES,
   * one model at a time. A row in several of the requested groups is sent
   * once. `had` (set_groups): the groups the client already receives; rows in
   * them are left out where the reads can tell (exact groups, pattern scans).
   * The storage hands each page over as JSON text (`scanGroupRowsJson`): rows
   * go into frames as they are, never parsed or re-encoded here.
   */
  private async bootstrap(conn: Connection, groups: string[], match: GroupMatcher, had?: GroupMatcher): Promise<void> {
    const schema = this.opts.schema.current();
    if (!schema) return;
    const send = this.streamSender(conn);
    let bytes = 0;
    let count = 0;
    for (const name of schema.modelNames) {
      const model = schema.model(name);
      const templates = model.descriptor.options.syncGroupFormat?.length ?? 0;
      // Every row of a model without templates is in `default`: the client has them all already, or none.
      if (templates === 0 && had?.has('default')) continue;
      let modelGroups = groups;
      if (match.hasPatterns) {
        if (templates > 0) {
          ({ bytes, count } = await this.bootstrapScan(conn, model, match, had, send, bytes, count));
          continue;
        }
        // Read `default` through the index when a pattern takes it in.
        if (!match.has('default')) continue;
        modelGroups = ['default'];
      }
      // Only a model with several templates can put one row in two groups.
      const multi = templates > 1;
      const hadExact = multi && had ? [...had.exact] : [];
      const packer = new FramePacker(`{"type":"bootstrap","model":${JSON.stringify(name)},"rows":[`, ']}');
      for (let i = 0; i < modelGroups.length; i++) {
        // Rows also in an earlier group of this hello went with that group (or are with the client already).
        const skipGroups = multi && (i > 0 || hadExact.length > 0) ? [...modelGroups.slice(0, i), ...hadExact] : undefined;
        let afterId: string | null = null;
        for (;;) {
          // About half a frame per page: a frame takes one or two pages whole.
          const limit = this.pageSize(count > 0 ? (2 * bytes) / count : 0);
          const page = await this.opts.storage.scanGroupRowsJson(name, modelGroups[i]!, afterId, { limit, maxBytes: packer.room, ...(skipGroups ? { skipGroups } : {}) });
          if (isClosing(conn)) throw new StreamClosed();
          if (page.rows > 0) {
            bytes += page.json.length;
            count += page.rows;
            const full = packer.push(page.json);
            if (full) await send(full);
          }
          await this.turns.next();
          if (page.done || page.lastId === null) break;
          afterId = page.lastId;
        }
      }
      const last = packer.take();
      if (last) await send(last);
    }
  }

  /**
   * One model's rows for a hello with a pattern (`board:*`, or `*`: every
   * row, whatever its groups): the model's rows in id order, each sent once
   * when one of its groups matches. Reads the whole model (a pattern is not
   * one range of the group index); exact groups, and models without
   * templates (all in `default`), use the index (`bootstrap`).
   */
  private async bootstrapScan(
    conn: Connection,
    model: CompiledModel,
    match: GroupMatcher,
    had: GroupMatcher | undefined,
    send: (text: string | Buffer) => Promise<void>,
    bytes: number,
    count: number,
  ): Promise<{ bytes: number; count: number }> {
    const packer = new FramePacker(`{"type":"bootstrap","model":${JSON.stringify(model.name)},"rows":[`, ']}');
    let afterId: string | null = null;
    for (;;) {
      const limit = this.pageSize(count > 0 ? bytes / count : 0);
      const rows = await this.opts.storage.scanRows(model.name, afterId, limit);
      if (isClosing(conn)) throw new StreamClosed();
      for (const row of rows) {
        if (!match.all || had) {
          const groups = model.syncGroups(row);
          if (!match.any(groups) || had?.any(groups)) continue;
        }
        const item = stringifyJson(row);
        bytes += item.length;
        count++;
        const full = packer.push(item);
        if (full) await send(full);
      }
      await this.turns.next();
      if (rows.length < limit) break;
      afterId = rows.at(-1)!.id;
    }
    const last = packer.take();
    if (last) await send(last);
    return { bytes, count };
  }

  /** Fan out committed changes (in sync-id order) to every matching connection: the engine subscribes this to the change feed. */
  /**
   * The feed skipped sync ids (a `ChangeBatch.gap`: history pruned past this
   * process's head, or ids missing from the log): no connection can be told
   * exactly what it missed, so each is told to resync (it comes back with its
   * lastSyncId: a catch-up, or a bootstrap below the floor).
   */
  resyncAll(reason: string): void {
    for (const conn of [...this.conns.values()]) if (conn.state === 'live' || conn.state === 'syncing') this.resync(conn, reason);
  }

  broadcast(changes: readonly ChangeRecord[]): void {
    // One encoded frame per distinct set of groups, shared by every socket with that set.
    const byGroups = new Map<string, Buffer | null>();
    for (const conn of this.conns.values()) {
      if (conn.state === 'syncing') {
        for (const c of changes) if (matches(c, conn.match)) conn.pending.push(c);
        if (conn.pending.length > this.opts.maxPendingChanges) this.resync(conn, 'too many changes arrived during bootstrap');
        continue;
      }
      if (conn.state !== 'live') continue;
      let text = byGroups.get(conn.groupsKey);
      if (text === undefined) {
        const mine = changes.filter((c) => matches(c, conn.match));
        // A change that moved a row out of these groups goes as a departure (no data): see changeAsSeen.
        const seen = (g: string): boolean => conn.match.has(g);
        text = mine.length > 0 ? Buffer.from(frame({ type: 'changes', changes: mine.map((c) => publicChange(changeAsSeen(c, seen))) })) : null;
        byGroups.set(conn.groupsKey, text);
      }
      if (text !== null) this.send(conn, text);
    }
  }

  private beat(): void {
    for (const conn of this.conns.values()) {
      if (!conn.alive) {
        conn.ws.terminate();
        this.detach(conn, 'heartbeat timeout');
        continue;
      }
      // A credential that expired (session tokens) ends its connection here if no frame noticed first.
      if (conn.principal && !this.stillActive(conn)) continue;
      conn.alive = false;
      try {
        conn.ws.ping();
      } catch {
        // Closed between checks.
      }
    }
  }

  /** Take no new sockets and no new commit or plugin frames (they get `draining`); open sockets stay until `closeAll`. */
  drain(): void {
    this.draining = true;
  }

  /** Close every socket with `code` (e.g. 4006 engine_draining: the client reconnects, to another engine if it has one). */
  closeAll(code: number, reason: string): void {
    for (const conn of [...this.conns.values()]) this.closeConnection(conn, code, reason);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.unsubscribeSchema();
    this.unsubscribeRevoked();
    for (const plugin of this.opts.plugins) plugin.close?.();
    for (const conn of [...this.conns.values()]) this.closeConnection(conn, CLOSE_CODES.server_shutdown, 'engine shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
