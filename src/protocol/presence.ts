/**
 * Presence wire shapes: ephemeral state per sync group and participant
 * (a person's cursor or focused row, an agent's "working on task 12"). Never
 * stored with the data and never in the change log; an engine keeps it in
 * memory (and shares it between processes when it runs on Postgres).
 *
 * Client → engine: `presence_set` (this connection's state in a group),
 * `presence_leave`. Engine → client: `presence` frames — `sync` (the whole
 * group, sent when the connection starts to see the group) then `join`,
 * `update`, `leave` diffs.
 */
import { z } from 'zod';
import { participantSchema } from './commit.js';

/** Defaults and caps; an engine may be configured lower or higher (`createEngine({ presence })`). */
export const PRESENCE_DEFAULTS = {
  /** A member whose connections all dropped is kept this long (as `reconnecting`) before it leaves. */
  ttlMs: 30_000,
  /** The SDK sends at most one `presence_set` per group this often; the last state wins. */
  throttleMs: 50,
  /** Largest state, as JSON text, in bytes. */
  maxStateBytes: 4096,
  /** Most top-level keys in a state object. */
  maxKeys: 32,
  /** Most `presence_set` frames one connection may send per second (beyond: `rate_limited`). */
  maxUpdatesPerSecond: 30,
  /** Most members one group holds (beyond: `presence_full`). */
  maxMembersPerGroup: 500,
} as const;

/** A presence group: one exact sync group (no `*` pattern), 1 to 200 characters. */
export const PRESENCE_GROUP_MAX_CHARS = 200;
const groupSchema = z.string().min(1).max(PRESENCE_GROUP_MAX_CHARS);
/** A state is a JSON object; the engine checks its size and key count against its caps. */
export const presenceStateSchema = z.record(z.string(), z.unknown());
export type PresenceState = z.infer<typeof presenceStateSchema>;

export const presenceSetFrameSchema = z.strictObject({
  type: z.literal('presence_set'),
  ref: z.string().min(1).max(128).optional(),
  /** An exact group the connection receives (no patterns). */
  group: groupSchema,
  state: presenceStateSchema,
});
export const presenceLeaveFrameSchema = z.strictObject({
  type: z.literal('presence_leave'),
  ref: z.string().min(1).max(128).optional(),
  group: groupSchema,
});
export type PresenceSetFrame = z.infer<typeof presenceSetFrameSchema>;
export type PresenceLeaveFrame = z.infer<typeof presenceLeaveFrameSchema>;

/** One member of a group: a participant (person or agent) with its last state. */
export const presenceMemberSchema = z.object({
  /** `<participant type>:<participant id>`: one member per participant per group, however many tabs or sockets it has. */
  key: z.string(),
  participant: participantSchema,
  state: presenceStateSchema,
  /** `online`: at least one connection holds it; `reconnecting`: every connection dropped, kept until the TTL runs out. */
  status: z.enum(['online', 'reconnecting']),
  updatedAt: z.string(),
});
export type PresenceMember = z.infer<typeof presenceMemberSchema>;

export const presenceFrameSchema = z.discriminatedUnion('event', [
  z.object({ type: z.literal('presence'), event: z.literal('sync'), group: z.string(), members: z.array(presenceMemberSchema) }),
  z.object({ type: z.literal('presence'), event: z.literal('join'), group: z.string(), member: presenceMemberSchema }),
  z.object({ type: z.literal('presence'), event: z.literal('update'), group: z.string(), member: presenceMemberSchema }),
  z.object({ type: z.literal('presence'), event: z.literal('leave'), group: z.string(), key: z.string() }),
]);
export type PresenceFrame = z.infer<typeof presenceFrameSchema>;

/**
 * `GET /v1/presence?group=<group>`: who is on one group right now (every
 * engine process of the database, on Postgres), by member key.
 */
export const presenceMembersSchema = z.object({
  object: z.literal('presence'),
  group: z.string(),
  members: z.array(presenceMemberSchema),
});
export type PresenceMembers = z.infer<typeof presenceMembersSchema>;
