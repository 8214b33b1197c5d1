/**
 * API key routes (authenticated):
 *
 *   POST   /v1/keys        { name?, mode? }  → 201 { object: 'api_key', id, name, prefix, key, createdAt, revokedAt }
 *                                               (the key itself is in this answer only; the engine keeps its hash)
 *   GET    /v1/keys                          → { object: 'list', data: [api_key without key or hash], hasMore: false }
 *   DELETE /v1/keys/:id                      → { object: 'api_key', id, ..., revoked: true, revokedAt }
 *
 * Revoking is permanent and takes effect at once: a revoked key gets 401
 * `revoked_api_key` on its next request, its open sockets are closed (4001),
 * and what it still had in flight (queued commits, claim requests) is refused
 * (`ctx.onKeyRevoked`), all before this answers. The other engine processes on
 * the database do the same when their revocation watcher hears of it, and
 * refuse its commits from this answer on (src/engine/auth/revocations.ts).
 */
import { z } from 'zod';
import { AbloNotFoundError } from '../../errors.js';
import type { ApiKeyObject, ListPage } from '../../protocol/api.js';
import { parseWire } from '../../protocol/parse.js';
import { createApiKey } from '../apiKeys.js';
import { sendJson } from '../http.js';
import type { ApiKeyRecord } from '../storage/types.js';
import type { Route } from './types.js';

const createKeyBodySchema = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  mode: z.enum(['test', 'live']).optional(),
});

/** A key as the API shows it: never the hash, never the key. */
export function publicApiKey(record: ApiKeyRecord): ApiKeyObject {
  return {
    object: 'api_key',
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    createdAt: record.createdAt,
    revokedAt: record.revokedAt,
    participant: record.participant,
  };
}

export const keysRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/keys',
    async handler(r, ctx) {
      const body = parseWire(createKeyBodySchema, await r.json(false), 'key create');
      const created = await createApiKey(ctx.storage, { name: body.name ?? 'default', mode: body.mode ?? 'test' });
      sendJson(r.res, 201, { ...publicApiKey(created.record), key: created.key } satisfies ApiKeyObject);
    },
  },
  {
    method: 'GET',
    path: '/v1/keys',
    async handler(r, ctx) {
      const keys = await ctx.storage.listApiKeys();
      sendJson(r.res, 200, { object: 'list', data: keys.map(publicApiKey), hasMore: false } satisfies ListPage<ApiKeyObject>);
    },
  },
  {
    method: 'DELETE',
    path: '/v1/keys/:id',
    async handler(r, ctx) {
      const id = r.params.id!;
      const before = (await ctx.storage.listApiKeys()).find((k) => k.id === id);
      if (!before || !(await ctx.storage.revokeApiKey(id, new Date().toISOString()))) {
        throw new AbloNotFoundError(`No API key with id "${id}". List the keys with \`ablo keys list\` (GET /v1/keys).`, { code: 'key_not_found', id });
      }
      const after = (await ctx.storage.listApiKeys()).find((k) => k.id === id) ?? before;
      ctx.onKeyRevoked?.(after);
      sendJson(r.res, 200, { ...publicApiKey(after), revoked: true } satisfies ApiKeyObject);
    },
  },
];
