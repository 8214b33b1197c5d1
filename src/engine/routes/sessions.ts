/**
 * Session token routes (a secret key only: the `sessions` operation is not enough):
 *
 *   POST   /v1/sessions      { participant, syncGroups?, operations, ttlSeconds? }
 *                            → 201 { object: 'session', token, sessionId, expiresAt }
 *
 * `syncGroups` entries written `@role` are the schema's identity roles,
 * expanded for the participant; without `syncGroups` the session gets every
 * identity role (400 `sync_groups_required` when the schema has none).
 *   DELETE /v1/sessions/:id  → { object: 'session', sessionId, expiresAt, revoked: true }
 *
 * The token is in the create answer only; the engine keeps nothing of it (it
 * verifies the signature). Revoking takes effect at once in this process (its
 * sockets close); the others on the same database hear through their
 * revocation watcher (a NOTIFY hint, a 500 ms poll) and refuse its commits
 * from this answer on (src/engine/auth/revocations.ts).
 */
import { abloError } from '../../errors.js';
import { createSessionBodySchema, type SessionObject } from '../../protocol/sessions.js';
import { parseWire } from '../../protocol/parse.js';
import { sendJson } from '../http.js';
import type { HttpContext } from '../http.js';
import type { Route } from './types.js';

function sessionsOf(ctx: HttpContext): NonNullable<HttpContext['sessions']> {
  if (!ctx.sessions) throw abloError('sessions_unavailable');
  return ctx.sessions;
}

export const sessionsRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/sessions',
    async handler(r, ctx) {
      ctx.guard.assertSecret(r.principal, 'mint or revoke session tokens');
      const body = parseWire(createSessionBodySchema, await r.json(true), 'session create');
      const minted = sessionsOf(ctx).mint(body, ctx.schema.serialized()?.identityRoles);
      sendJson(r.res, 201, { object: 'session', ...minted } satisfies SessionObject);
    },
  },
  {
    method: 'DELETE',
    path: '/v1/sessions/:id',
    async handler(r, ctx) {
      ctx.guard.assertSecret(r.principal, 'mint or revoke session tokens');
      const revoked = await sessionsOf(ctx).revoke(r.params.id!);
      sendJson(r.res, 200, { object: 'session', ...revoked, revoked: true } satisfies SessionObject);
    },
  },
];
