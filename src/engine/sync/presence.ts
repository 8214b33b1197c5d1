/**
 * Presence over the socket, as a sync plugin: the `presence_set` and
 * `presence_leave` frames (operation `presence`), the `presence` frames
 * pushed on every change of a group's members (`join`, `update`, `leave`, to
 * the live connections that receive the group), the whole group (`sync`) when
 * a connection starts to receive it (live, or new through `set_groups`), and
 * a connection's members released when it goes. The state lives in
 * ../presence/service.ts.
 */
import { AbloRateLimitError, AbloValidationError, abloError } from '../../errors.js';
import { groupMatcher, isGroupPattern } from '../../protocol/groups.js';
import { presenceLeaveFrameSchema, presenceSetFrameSchema, type PresenceLeaveFrame, type PresenceSetFrame } from '../../protocol/presence.js';
import type { Principal } from '../auth/principal.js';
import type { PresenceDiff } from '../presence/members.js';
import type { PresenceService } from '../presence/service.js';
import type { SyncConnection, SyncHost, SyncPlugin } from './plugin.js';

export type PresencePluginFrame = PresenceSetFrame | PresenceLeaveFrame;

export interface PresencePluginOptions {
  presence: PresenceService;
  /** Whether the principal's credential was revoked (its members leave at once instead of after the TTL). */
  revoked: (principal: Principal) => boolean;
  now?: () => number;
}

function diffFrame(d: PresenceDiff): string {
  return JSON.stringify(d.event === 'leave' ? { type: 'presence', event: 'leave', group: d.group, key: d.key } : { type: 'presence', event: d.event, group: d.group, member: d.member });
}

/** Per connection: `maxUpdatesPerSecond` tokens a second, as many at once at most. */
interface Bucket {
  tokens: number;
  at: number;
}

export function presencePlugin({ presence, revoked, now = Date.now }: PresencePluginOptions): SyncPlugin<PresencePluginFrame> {
  const rate = presence.settings.maxUpdatesPerSecond;
  const buckets = new Map<string, Bucket>();
  let unsubscribe: (() => void) | null = null;

  const sync = (conn: SyncConnection, group: string): void => {
    conn.send(JSON.stringify({ type: 'presence', event: 'sync', group, members: presence.members(group) }));
  };

  /** An exact group the connection receives, else a typed refusal. */
  const checkGroup = (conn: SyncConnection, group: string): void => {
    if (isGroupPattern(group)) {
      throw new AbloValidationError(`Presence is set in one group, not a pattern ("${group}"): name the exact group, e.g. "board:123".`, {
        code: 'invalid_request',
        field: 'group',
      });
    }
    if (!conn.inGroups([group])) throw abloError('presence_group_not_received', { group });
  };

  const take = (conn: SyncConnection): void => {
    const t = now();
    const b = buckets.get(conn.id) ?? { tokens: rate, at: t };
    b.tokens = Math.min(rate, b.tokens + ((t - b.at) * rate) / 1000);
    b.at = t;
    buckets.set(conn.id, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const retryAfterMs = Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / rate));
    throw new AbloRateLimitError(`This connection sent more than ${rate} presence updates per second. Retry after ${retryAfterMs} ms; the SDK throttles and retries on its own.`, {
      code: 'rate_limited',
      limit: 'presence',
      maxUpdatesPerSecond: rate,
      retryAfterMs,
    });
  };

  return {
    name: 'presence',
    frames: {
      presence_set: { schema: presenceSetFrameSchema, operation: 'presence' },
      presence_leave: { schema: presenceLeaveFrameSchema, operation: 'presence' },
    },

    start(host: SyncHost) {
      unsubscribe = presence.onDiff((d) => {
        let text: string | null = null;
        for (const conn of host.connections()) {
          if (conn.state !== 'live' || !conn.inGroups([d.group])) continue;
          conn.send((text ??= diffFrame(d)));
        }
      });
    },

    async onFrame(conn, msg) {
      checkGroup(conn, msg.group);
      if (msg.type === 'presence_set') {
        take(conn);
        presence.set(conn.id, conn.participant, msg.group, msg.state);
      } else {
        presence.leave(conn.id, conn.participant, msg.group);
      }
    },

    onLive(conn) {
      // Every exact group it receives, members or not; groups its patterns take in, when they have members.
      const exact = [...conn.groups].filter((g) => !isGroupPattern(g));
      for (const g of exact) sync(conn, g);
      const sent = new Set(exact);
      for (const g of presence.groups()) if (!sent.has(g) && conn.inGroups([g])) sync(conn, g);
    },

    onGroupsChanged(conn, previous) {
      const before = groupMatcher(previous);
      // Groups it no longer receives: it leaves them (at once: it did not drop, it moved).
      for (const g of presence.heldBy(conn.id)) if (!conn.inGroups([g])) presence.leave(conn.id, conn.participant, g);
      const sent = new Set<string>();
      for (const g of conn.groups) {
        if (isGroupPattern(g) || before.has(g)) continue;
        sent.add(g);
        sync(conn, g);
      }
      for (const g of presence.groups()) if (!sent.has(g) && !before.has(g) && conn.inGroups([g])) sync(conn, g);
    },

    onDetach(conn) {
      buckets.delete(conn.id);
      presence.detach(conn.id, revoked(conn.principal));
    },

    close() {
      unsubscribe?.();
      unsubscribe = null;
    },
  };
}
