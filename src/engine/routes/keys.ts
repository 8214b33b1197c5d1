/**
 * API key routes (the `keys` operation):
 *
 *   POST   /v1/keys        { name?, mode?, restricted?, syncGroups?, operations?, participant? }
 *                          → 201 { object: 'api_key', id, name, prefix, key, kind, groups, operations, createdAt, revokedAt, participant }
 *                            (the key itself is in this answer only; the engine keeps its hash)
 *   GET    /v1/keys        → { object: 'list', data: [api_key without key or hash], hasMore: false }
 *   DELETE /v1/keys/:id    → { object: 'api_key', id, ..., revoked: true, revokedAt }
 *
 * A secret key manages every key. A restricted key with `keys` manages only
 * restricted keys within its own groups and operations (./auth/scope.ts):
 * it creates those (acting as its own participant), lists those and itself,
 * and revokes those; anything wider is 403 `scope_exceeds_credential`.
 * `@role` entries of `syncGroups` are the schema's identity roles, expanded
 * for the new key's participant.
 *
 * Revoking is permanent and takes effect at once: a revoked key gets 401
 * `revoked_api_key` on its next request, its open sockets are closed (4001),
 * and what it still had in flight (queued commits, claim requests) is refused
 * (`ctx.onKeyRevoked`), all before this answers. The other engine processes on
 * the database do the same when their revocation watcher hears of it, and
 * refuse its commits from this answer on (src/engine/auth/revocations.ts).
 */
import { AbloNotFoundError } from '../../errors.js';
import { createApiKeyBodySchema, type ApiKeyObject, type CreateApiKeyBody, type ListPage } from '../../protocol/api.js';
import type { ParticipantRef } from '../../protocol/commit.js';
import { ulid } from '../../protocol/ids.js';
import { parseWire } from '../../protocol/parse.js';
import { resolveSyncGroups } from '../../schema/identityRoles.js';
import { createApiKey, type CreatedApiKey } from '../apiKeys.js';
import { expandOperations, OPERATIONS, type Principal } from '../auth/principal.js';
import { assertKeyWithin, operationsWithin, patternsWithin } from '../auth/scope.js';
import type { Guard } from '../auth/guard.js';
import { sendJson } from '../http.js';
import type { ApiKeyRecord, Storage } from '../storage/types.js';
import type { Route } from './types.js';

/** A key as the API shows it: never the hash, never the key. */
export function publicApiKey(record: ApiKeyRecord): ApiKeyObject {
  const restricted = record.kind === 'restricted';
  return {
    object: 'api_key',
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    kind: restricted ? 'restricted' : 'secret',
    groups: restricted ? [...(record.groups ?? [])] : 'all',
    operations: restricted ? expandOperations(record.operations ?? []) : [...OPERATIONS],
    createdAt: record.createdAt,
    revokedAt: record.revokedAt,
    participant: record.participant,
  };
}

/** Whether `principal` manages `record` (lists and revokes it): a secret key every key; another credential restricted keys within its scope. */
function manages(principal: Principal, record: ApiKeyRecord): boolean {
  if (principal.kind === 'secret') return true;
  if (record.kind !== 'restricted') return false;
  return patternsWithin(record.groups ?? [], principal.groups) && operationsWithin(record.operations ?? [], principal.operations);
}

/**
 * Create the key `body` asks for on behalf of `principal` (`POST /v1/keys`,
 * `ablo keys create`): scope checked, `@role` groups expanded with the
 * schema's identity roles.
 */
export async function createKeyFor(
  storage: Storage,
  guard: Pick<Guard, 'participant'>,
  principal: Principal,
  body: CreateApiKeyBody,
  identityRoles: Record<string, string> | undefined,
): Promise<CreatedApiKey> {
  const id = `key_${ulid()}`;
  if (!body.restricted) {
    assertKeyWithin(principal, { kind: 'secret', groups: null, operations: null }, 'create');
    return createApiKey(storage, { id, name: body.name ?? 'default', mode: body.mode ?? 'test', ...(body.participant ? { participant: body.participant } : {}) });
  }
  // A secret key names anyone (default: a system participant named after the key); another credential only itself.
  const participant: ParticipantRef =
    principal.kind === 'secret' ? (body.participant ?? { kind: 'system', id }) : guard.participant(principal, body.participant);
  const groups = resolveSyncGroups(body.syncGroups ?? [], identityRoles, participant);
  const operations = expandOperations(body.operations ?? []);
  assertKeyWithin(principal, { kind: 'restricted', groups, operations }, 'create');
  return createApiKey(storage, { id, name: body.name ?? 'default', mode: body.mode ?? 'test', participant, restricted: { groups, operations } });
}

export const keysRoutes: Route[] = [
  {
    method: 'POST',
    path: '/v1/keys',
    async handler(r, ctx) {
      const body = parseWire(createApiKeyBodySchema, await r.json(false), 'key create');
      const created = await createKeyFor(ctx.storage, ctx.guard, r.principal, body, ctx.schema.serialized()?.identityRoles);
      sendJson(r.res, 201, { ...publicApiKey(created.record), key: created.key } satisfies ApiKeyObject);
    },
  },
  {
    method: 'GET',
    path: '/v1/keys',
    async handler(r, ctx) {
      const keys = (await ctx.storage.listApiKeys()).filter((k) => k.id === r.principal.credentialId || manages(r.principal, k));
      sendJson(r.res, 200, { object: 'list', data: keys.map(publicApiKey), hasMore: false } satisfies ListPage<ApiKeyObject>);
    },
  },
  {
    method: 'DELETE',
    path: '/v1/keys/:id',
    async handler(r, ctx) {
      const id = r.params.id!;
      const before = (await ctx.storage.listApiKeys()).find((k) => k.id === id);
      // A restricted key revokes itself, or keys it could have made.
      if (before && id !== r.principal.credentialId) assertKeyWithin(r.principal, before, 'revoke');
      if (!before || !(await ctx.storage.revokeApiKey(id, new Date().toISOString()))) {
        throw new AbloNotFoundError(`No API key with id "${id}". List the keys with \`ablo keys list\` (GET /v1/keys).`, { code: 'key_not_found', id });
      }
      const after = (await ctx.storage.listApiKeys()).find((k) => k.id === id) ?? before;
      ctx.onKeyRevoked?.(after);
      sendJson(r.res, 200, { ...publicApiKey(after), revoked: true } satisfies ApiKeyObject);
    },
  },
];
