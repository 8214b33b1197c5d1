/**
 *   GET /v1/presence?group=<group>   → { object: 'presence', group, members }
 *
 * Who is on one sync group now, as the WebSocket `presence` frames show it
 * (../presence/service.ts: members of every engine process of the database,
 * on Postgres). The operation is `read`; the group must be one the credential
 * may use — the same check a socket's hello gets (`assertGroups`), so a
 * session token scoped to `user:ana` cannot list another group. The group is
 * one exact group: a pattern (`board:*`) or a missing or over-long name is a
 * 400 naming `group`.
 */
import { AbloValidationError } from '../../errors.js';
import { isGroupPattern } from '../../protocol/groups.js';
import { PRESENCE_GROUP_MAX_CHARS, type PresenceMembers } from '../../protocol/presence.js';
import { sendJson } from '../http.js';
import type { PresenceService } from '../presence/service.js';
import type { Route } from './types.js';

/** The `group` query parameter, checked: one exact group. */
export function presenceGroupParam(url: URL): string {
  const values = url.searchParams.getAll('group');
  const group = values[0];
  const bad = (why: string): AbloValidationError =>
    new AbloValidationError(`group ${why}. Pass one exact sync group, e.g. GET /v1/presence?group=board:123.`, { code: 'invalid_query', field: 'group' });
  if (values.length === 0 || group === undefined || group.length === 0) throw bad('is required');
  if (values.length > 1) throw bad('is given more than once');
  if (group.length > PRESENCE_GROUP_MAX_CHARS) throw bad(`is longer than ${PRESENCE_GROUP_MAX_CHARS} characters`);
  if (isGroupPattern(group)) throw bad(`is a pattern (${JSON.stringify(group)}); presence is listed per exact group`);
  return group;
}

export function presenceRoutes(presence: PresenceService): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/presence',
      async handler(r, ctx) {
        const group = presenceGroupParam(r.url);
        ctx.guard.assertGroups(r.principal, [group]);
        const answer: PresenceMembers = { object: 'presence', group, members: presence.members(group) };
        sendJson(r.res, 200, answer);
      },
    },
  ];
}
