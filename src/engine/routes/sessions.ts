/**
 * Session token routes (a secret key: every operation):
 *
 *   POST   /v1/sessions      { participant, syncGroups, operations, ttlSeconds? }
 *                            → 201 { object: 'session', token, sessionId, expiresAt }
 *   DELETE /v1/sessions/:id  → { object: 'session', sessionId, expiresAt, revoked: true }
 *
 * The token is in the create answer only; the engine keeps nothing of it (it
 * verifies the signature). Revoking takes effect at once in this process (its
 * sockets close); the others on the same database hear through their
 * revocation watcher (a NOTIFY hint, a 500 ms poll) and refuse its commits
 * from this answer on (src/engine/auth/revocations.ts).
 */
import { abloError, AbloPermissionError } from '../../errors.js';
import { createSessionBodySchema, type SessionObject } from '../../protocol/sessions.js';
import { parseWire } from '../../protocol/parse.js';
import { OPERATIONS, type Principal } from '../auth/principal.js';
import { sendJson } from '../http.js';
import type { HttpContext } from '../http.js';
import type { Route } from './types.js';

/** Only a secret key (every operation) mints or revokes sessions: a scoped credential cannot widen itself. */
function assertSecretKey(principal: Principal): void {
  const missing = OPERATIONS.filter((op) => !principal.operations.includes(op));
  if (missing.length === 0 && principal.groups === 'all') return;
  throw new AbloPermissionError('Only a secret key (every operation, every group) may mint or revoke session tokens.', {
    code: 'operation_not_allowed',
    operation: 'admin',
    allowed: [...principal.operations],
  });
}

function sessionsOf(ctx: HttpContext): NonNullable<HttpContext['sessions']> {
  if (!ctx.sessions) throw abloError('sessions_unavailable');
  return ctx.sessions;
}

export const sessionsRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/sessions',
    async handler(r, ctx) {
      assertSecretKey(r.principal);
      const body = parseWire(createSessionBodySchema, await r.json(true), 'session create');
      const minted = sessionsOf(ctx).mint(body);
      sendJson(r.res, 201, { object: 'session', ...minted } satisfies SessionObject);
    },
  },
  {
    method: 'DELETE',
    path: '/v1/sessions/:id',
    async handler(r, ctx) {
      assertSecretKey(r.principal);
      const revoked = await sessionsOf(ctx).revoke(r.params.id!);
      sendJson(r.res, 200, { object: 'session', ...revoked, revoked: true } satisfies SessionObject);
    },
  },
];
