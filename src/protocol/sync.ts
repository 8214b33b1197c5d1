/**
 * WebSocket sync protocol (`GET /v1/sync`). Every frame is one JSON object
 * with a `type`. The client speaks first with `hello`.
 */
import { z } from 'zod';
import {
  claimFrameSchema,
  claimGrantedFrameSchema,
  claimStateFrameSchema,
  claimStateRequestFrameSchema,
  claimsFrameSchema,
  releaseFrameSchema,
  releasedFrameSchema,
  renewFrameSchema,
  renewedFrameSchema,
} from './claims.js';
import { AbloConnectionError } from '../errors.js';
import { changeSchema, commitReceiptSchema, commitRequestSchema, participantSchema, rowSchema } from './commit.js';
import { presenceFrameSchema, presenceLeaveFrameSchema, presenceSetFrameSchema } from './presence.js';

/** The sync protocol this package speaks: the SDK sends it in `hello`, the engine in `welcome`. */
export const SYNC_PROTOCOL_VERSION = 1;
/**
 * The protocols an engine accepts in `hello` (`protocol`; a hello without one
 * counts as 1). Outside the range the engine answers an `error` frame
 * (`connection_error` / `unsupported_protocol`) and closes with 4005.
 */
export const SYNC_PROTOCOL_RANGE = { min: 1, max: SYNC_PROTOCOL_VERSION } as const;
/** Close codes sent with a reason when the engine ends a connection. */
export const CLOSE_CODES = {
  normal: 1000,
  going_away: 1001,
  protocol_error: 1002,
  unsupported_data: 1003,
  too_large: 1009,
  authentication_failed: 4001,
  hello_timeout: 4002,
  resync_required: 4003,
  server_shutdown: 4004,
  /** The client's sync protocol is outside the engine's range: upgrade the side the reason names. */
  unsupported_protocol: 4005,
  /** The engine is draining (shutting down gracefully): reconnect at once, to another engine when there is one. */
  engine_draining: 4006,
  /**
   * The connection's session token expired (no `auth` frame replaced it in time): get a new token and reconnect.
   * Distinct from 4001, which is final for the credential (refused, revoked, not allowed).
   */
  token_expired: 4007,
  /** An `auth` frame's token no longer covers the connection's groups (or `read`): say hello again with it. */
  scope_narrowed: 4008,
  /** The credential has the most sync connections it may have open (rate limits): reconnect after a backoff. */
  rate_limited: 4029,
} as const;

/** Which side must be upgraded for a client speaking `protocol` to an engine accepting `range`. */
export function protocolUpgradeSide(protocol: number, range: { min: number; max: number } = SYNC_PROTOCOL_RANGE): 'engine' | 'client' {
  return protocol > range.max ? 'engine' : 'client';
}

/**
 * The engine's check of `hello.protocol`: null when it is served, else the
 * error to send and the close reason (short: a close reason holds 123 bytes).
 * The SDK turns the same facts into the same message (`protocolRefusedError`).
 */
export function checkSyncProtocol(
  protocol: number | undefined,
  range: { min: number; max: number } = SYNC_PROTOCOL_RANGE,
): { error: AbloConnectionError; reason: string } | null {
  const v = protocol ?? 1;
  if (v >= range.min && v <= range.max) return null;
  return { error: protocolRefusedError(v, range), reason: `unsupported protocol ${v}; engine supports ${range.min}-${range.max}` };
}

/** The typed refusal: names both versions and which side to upgrade. */
export function protocolRefusedError(protocol: number, range: { min: number; max: number }): AbloConnectionError {
  const side = protocolUpgradeSide(protocol, range);
  const supported = range.min === range.max ? `only protocol ${range.min}` : `protocols ${range.min} to ${range.max}`;
  const fix =
    side === 'engine'
      ? "Upgrade the engine (the ablo package that runs `ablo dev` or createEngine) to the client's version, or pin the client package to the engine's version."
      : "Upgrade the client package (npm install ablo@latest where the SDK runs), or run an engine of the client's version.";
  return new AbloConnectionError(
    `The engine refused this client's sync protocol ${protocol}: it accepts ${supported}, so the ${side === 'engine' ? 'engine is older than the client' : 'client is older than the engine'}. ${fix}`,
    { code: 'unsupported_protocol', protocol, minProtocol: range.min, maxProtocol: range.max, upgrade: side },
  );
}

/** The range named in a 4005 close reason (`… engine supports 1-2`), for a client that did not get the error frame. */
export function protocolRangeFromReason(reason: string): { min: number; max: number } | null {
  const m = /supports (\d+)-(\d+)/.exec(reason);
  return m ? { min: Number(m[1]), max: Number(m[2]) } : null;
}

const groupSchema = z.string().min(1).max(200);

export const helloFrameSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.number().int().optional(),
  /** API key or session token; may instead come in the Authorization header. */
  apiKey: z.string().max(4096).optional(),
  /**
   * Sync groups to receive: exact groups or patterns (`board:*`; `*`: every group). Left out: every group the
   * credential may read (the `welcome` names them: `['*']` for a secret key, a session's own groups).
   */
  groups: z.array(groupSchema).max(1000).optional(),
  /** Last sync id this client has applied; the engine sends only what came after. */
  lastSyncId: z.number().int().nonnegative().optional(),
  /** Schema hash the client's local state was built with. */
  schemaHash: z.string().max(128).optional(),
  participant: participantSchema.optional(),
});
export const commitFrameSchema = z.strictObject({
  type: z.literal('commit'),
  /** Client correlation id, echoed on the receipt or error. */
  ref: z.string().min(1).max(128),
  commit: commitRequestSchema,
});
export const pingFrameSchema = z.strictObject({ type: z.literal('ping'), t: z.number().optional() });
/**
 * Replace the connection's credential without reconnecting (a refreshed session token). The new credential must be
 * for the connection's participant (else `participant_mismatch`, and the connection keeps its old one) and cover its
 * groups and `read` (else `scope_narrowed` and close 4008). Answered with `auth_ok`; frames after it are checked
 * against the new credential, and its expiry is the connection's from then on.
 */
export const authFrameSchema = z.strictObject({
  type: z.literal('auth'),
  /** Echoed on `auth_ok` or the error. */
  ref: z.string().min(1).max(128).optional(),
  /** A session token `ek_…` (or an API key). */
  token: z.string().min(1).max(4096),
});

/**
 * Change the connection's sync groups without reconnecting (an app switching boards). Checked like a hello's
 * groups (within the credential's, else `permission_error` and nothing changes). The engine answers `groups`
 * (mode `bootstrap`), then `bootstrap` frames with the rows of what is new (groups the old set did not cover),
 * then `groups_done`; rows only in groups that left are the client's to drop (it knows each row's groups from the
 * schema). Changes that commit meanwhile are held and sent after `groups_done`, as after a hello. Plugins re-send
 * their state for the new set (claims, presence: `sync` for new groups, nothing more for groups that left).
 */
export const setGroupsFrameSchema = z.strictObject({
  type: z.literal('set_groups'),
  /** Echoed on `groups`, `groups_done` or the error. */
  ref: z.string().min(1).max(128),
  groups: z.array(groupSchema).min(1).max(1000),
});
export type SetGroupsFrame = z.infer<typeof setGroupsFrameSchema>;

export const clientFrameSchema = z.discriminatedUnion('type', [
  setGroupsFrameSchema,
  helloFrameSchema,
  commitFrameSchema,
  pingFrameSchema,
  authFrameSchema,
  claimFrameSchema,
  releaseFrameSchema,
  renewFrameSchema,
  claimStateRequestFrameSchema,
  presenceSetFrameSchema,
  presenceLeaveFrameSchema,
]);
export type HelloFrame = z.infer<typeof helloFrameSchema>;
export type CommitFrame = z.infer<typeof commitFrameSchema>;
export type AuthFrame = z.infer<typeof authFrameSchema>;
export type ClientFrame = z.infer<typeof clientFrameSchema>;

export const welcomeFrameSchema = z.object({
  type: z.literal('welcome'),
  protocol: z.number().int(),
  connectionId: z.string(),
  /** `bootstrap`: rows follow, then `bootstrap_done`. `catchup`: the missed changes follow, then `bootstrap_done`. */
  mode: z.enum(['bootstrap', 'catchup']),
  lastSyncId: z.number().int(),
  schemaHash: z.string(),
  groups: z.array(z.string()),
  participant: participantSchema,
});
export const bootstrapFrameSchema = z.object({
  type: z.literal('bootstrap'),
  model: z.string(),
  rows: z.array(rowSchema),
});
export const bootstrapDoneFrameSchema = z.object({
  type: z.literal('bootstrap_done'),
  /** Watermark the client is current to once it has applied everything before this frame. */
  lastSyncId: z.number().int(),
});
export const changesFrameSchema = z.object({ type: z.literal('changes'), changes: z.array(changeSchema) });
export const receiptFrameSchema = z.object({ type: z.literal('receipt'), ref: z.string(), receipt: commitReceiptSchema });
export const errorFrameSchema = z.object({
  type: z.literal('error'),
  ref: z.string().optional(),
  error: z.object({ type: z.string(), code: z.string(), message: z.string() }).catchall(z.unknown()),
});
/**
 * `lastSyncId` (live connections): every change up to it in the connection's
 * groups was sent before this pong, so the client has seen everything up to
 * it. It moves while the client's groups are quiet, keeping its `lastSyncId`
 * (its `readAt`, its catch-up point) above the change log's floor.
 */
export const pongFrameSchema = z.object({ type: z.literal('pong'), t: z.number().optional(), lastSyncId: z.number().int().nonnegative().optional() });
export const resyncFrameSchema = z.object({ type: z.literal('resync'), reason: z.string() });
export const schemaFrameSchema = z.object({ type: z.literal('schema'), hash: z.string() });
/** The answer to `auth`: the connection now runs on the new credential, until `expiresAt` (null: no expiry). */
export const authOkFrameSchema = z.object({ type: z.literal('auth_ok'), ref: z.string().optional(), expiresAt: z.string().nullable() });

/** The answer to `set_groups`: the connection's groups now; rows of `added` follow as `bootstrap` frames. */
export const groupsFrameSchema = z.object({
  type: z.literal('groups'),
  ref: z.string(),
  groups: z.array(z.string()),
  /** Groups (or patterns) the old set did not cover: their rows follow. */
  added: z.array(z.string()),
  /** Groups (or patterns) of the old set that are gone. */
  removed: z.array(z.string()),
});
/** The rows of the new groups are all sent: the client is current to `lastSyncId` for its new set. */
export const groupsDoneFrameSchema = z.object({ type: z.literal('groups_done'), ref: z.string(), lastSyncId: z.number().int() });

export const serverFrameSchema = z.discriminatedUnion('type', [
  groupsFrameSchema,
  groupsDoneFrameSchema,
  welcomeFrameSchema,
  bootstrapFrameSchema,
  bootstrapDoneFrameSchema,
  changesFrameSchema,
  receiptFrameSchema,
  errorFrameSchema,
  pongFrameSchema,
  resyncFrameSchema,
  schemaFrameSchema,
  authOkFrameSchema,
  claimGrantedFrameSchema,
  releasedFrameSchema,
  renewedFrameSchema,
  claimStateFrameSchema,
  claimsFrameSchema,
  presenceFrameSchema,
]);
export type WelcomeFrame = z.infer<typeof welcomeFrameSchema>;
export type BootstrapFrame = z.infer<typeof bootstrapFrameSchema>;
export type ChangesFrame = z.infer<typeof changesFrameSchema>;
export type ServerFrame = z.infer<typeof serverFrameSchema>;
