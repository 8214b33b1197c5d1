/**
 * Restricted keys `rk_…` on a real engine (port 0, SQLite in a temp dir, real
 * sockets): made by a secret key with sync groups and operations, stored
 * hashed with their scope, enforced by the guard on HTTP and the WebSocket,
 * acting as their own participant; key management within a restricted key's
 * own scope only; revocation; and a key table of an older file upgraded in
 * place (its keys become secret keys).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createEngine } from '../../src/engine/index.js';
import { defineSchema, model, z } from '../../src/schema/index.js';
import { startTestEngine, type TestEngine, type TestSocket } from '../helpers/engine.js';

const schema = defineSchema({
  cards: model({ title: z.string(), boardId: z.string() }, {}, { syncGroupFormat: 'board:{boardId}' }),
  notes: model({ title: z.string(), owner: z.string() }, {}, { syncGroupFormat: 'user:{owner}' }),
});

const engines: TestEngine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((t) => t.stop()));
});

const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
const BOARD_OPS = ['read', 'create', 'update', 'delete', 'claim'];

async function start(): Promise<TestEngine> {
  const t = await startTestEngine(schema);
  engines.push(t);
  const seeded = await t.http('POST', '/v1/commits', {
    operations: [
      { op: 'create', model: 'cards', id: 'a1', data: { title: 'A1', boardId: 'a' } },
      { op: 'create', model: 'cards', id: 'b1', data: { title: 'B1', boardId: 'b' } },
      { op: 'create', model: 'cards', id: 'x1', data: { title: 'X1', boardId: 'x' } },
      { op: 'create', model: 'notes', id: 'ana1', data: { title: 'N1', owner: 'ana' } },
    ],
  });
  expect(seeded.status).toBe(200);
  return t;
}

/** A restricted key made by `by` (default: the dev secret key). */
async function restricted(t: TestEngine, body: Record<string, unknown>, by?: string): Promise<any> {
  const res = await t.http('POST', '/v1/keys', { restricted: true, ...body }, by ? bearer(by) : {});
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** A hello refused with an error frame and close 4001; answers the error. */
async function refusedHello(s: TestSocket, hello: Record<string, unknown>): Promise<any> {
  s.send({ type: 'hello', ...hello });
  const err = await s.next((f) => f.type === 'error' || f.type === 'welcome');
  expect(err.type).toBe('error');
  expect((await s.waitClose()).code).toBe(4001);
  return err.error;
}

describe('POST /v1/keys { restricted: true }', () => {
  test('a secret key makes an rk_ key, shown once; GET /v1/keys and /v1/me show its kind, groups and operations, never the hash', async () => {
    const t = await start();
    const made = await restricted(t, { name: 'indexer', syncGroups: ['board:*'], operations: ['read', 'write', 'claim'], participant: { kind: 'agent', id: 'indexer' } });
    expect(made.key).toMatch(/^rk_test_[0-9A-Za-z]{32}$/);
    expect(made).toMatchObject({
      object: 'api_key',
      name: 'indexer',
      prefix: made.key.slice(0, 12),
      kind: 'restricted',
      groups: ['board:*'],
      operations: BOARD_OPS,
      participant: { kind: 'agent', id: 'indexer' },
      revokedAt: null,
    });
    const live = await restricted(t, { syncGroups: ['board:a'], operations: ['read'], mode: 'live' });
    expect(live.key).toMatch(/^rk_live_/);
    // Without a participant a key acts as a system participant named after it.
    expect(live.participant).toEqual({ kind: 'system', id: live.id });

    const list = await t.http('GET', '/v1/keys');
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(made.key);
    expect(text).not.toContain('hash');
    const shown = list.body.data.find((k: any) => k.id === made.id);
    const { key: _shownOnce, ...withoutKey } = made;
    expect(shown).toEqual(withoutKey);
    expect(list.body.data.find((k: any) => k.kind === 'secret')).toMatchObject({ groups: 'all', operations: expect.arrayContaining(['keys', 'sessions', 'schema']) });

    const me = await t.http('GET', '/v1/me', undefined, bearer(made.key));
    expect(me.body).toEqual({
      object: 'principal',
      kind: 'restricted',
      credentialId: made.id,
      participant: { kind: 'agent', id: 'indexer' },
      groups: ['board:*'],
      operations: BOARD_OPS,
      expiresAt: null,
    });
  });

  test('bad bodies are 400: scope without restricted, restricted without scope, sessions, unknown roles; unknown rk_ keys are 401', async () => {
    const t = await start();
    for (const body of [
      { syncGroups: ['board:*'] },
      { operations: ['read'] },
      { restricted: true, operations: ['read'] },
      { restricted: true, syncGroups: ['board:*'] },
      { restricted: true, syncGroups: ['board:*'], operations: ['sessions'] },
      { restricted: true, syncGroups: ['bo*ard'], operations: ['read'] },
      { restricted: true, syncGroups: [], operations: ['read'] },
      { restricted: true, syncGroups: ['board:*'], operations: ['read'], extra: 1 },
    ]) {
      const res = await t.http('POST', '/v1/keys', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.type).toBe('validation_error');
    }
    const role = await t.http('POST', '/v1/keys', { restricted: true, syncGroups: ['@self'], operations: ['read'] });
    expect(role.status).toBe(400);
    expect(role.body.error).toMatchObject({ type: 'validation_error', code: 'unknown_identity_role', role: 'self' });
    const unknown = await t.http('GET', '/v1/models/cards', undefined, bearer(`rk_test_${'A'.repeat(32)}`));
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('invalid_api_key');
    expect((await t.http('GET', '/v1/models/cards', undefined, bearer('rk_test_short'))).body.error.code).toBe('malformed_api_key');
  });
});

describe('a board:* key with read, write, claim', () => {
  test('sees only board rows over HTTP get and list, and over the WebSocket hello and bootstrap', async () => {
    const t = await start();
    const { key } = await restricted(t, { syncGroups: ['board:*'], operations: ['read', 'write', 'claim'], participant: { kind: 'agent', id: 'indexer' } });
    expect((await t.http('GET', '/v1/models/cards/a1', undefined, bearer(key))).body.title).toBe('A1');
    const note = await t.http('GET', '/v1/models/notes/ana1', undefined, bearer(key));
    expect(note.status).toBe(404);
    expect(note.body.error.code).toBe('row_not_found');
    expect((await t.http('GET', '/v1/models/cards', undefined, bearer(key))).body.data.map((r: any) => r.id).sort()).toEqual(['a1', 'b1', 'x1']);
    expect((await t.http('GET', '/v1/models/notes', undefined, bearer(key))).body.data).toEqual([]);
    const changes = await t.http('GET', '/v1/changes?after=0&limit=100', undefined, bearer(key));
    expect(changes.body.data.map((c: any) => c.id).sort()).toEqual(['a1', 'b1', 'x1']);

    const s = await t.socket();
    const { welcome, frames } = await s.hello({ apiKey: key, groups: ['board:a', 'board:b'] });
    expect(welcome.participant).toEqual({ kind: 'agent', id: 'indexer' });
    expect(frames.filter((f) => f.type === 'bootstrap').flatMap((f) => f.rows.map((r: any) => r.id)).sort()).toEqual(['a1', 'b1']);
    expect(await refusedHello(await t.socket(), { apiKey: key, groups: ['board:a', 'user:ana'] })).toMatchObject({ code: 'group_not_allowed', groups: ['user:ana'] });
  });

  test('writes as its own participant inside its groups; may not act as another, write elsewhere, list keys, push a schema or mint sessions', async () => {
    const t = await start();
    const { key } = await restricted(t, { syncGroups: ['board:*'], operations: ['read', 'write', 'claim'], participant: { kind: 'agent', id: 'indexer' } });
    const ok = await t.http('POST', '/v1/commits', { operations: [{ op: 'create', model: 'cards', id: 'a2', data: { title: 'A2', boardId: 'a' } }] }, bearer(key));
    expect(ok.status).toBe(200);
    const changes = await t.http('GET', '/v1/changes?after=0&limit=100');
    expect(changes.body.data.find((c: any) => c.id === 'a2').participant).toEqual({ kind: 'agent', id: 'indexer' });

    const asAna = await t.http(
      'POST',
      '/v1/commits',
      { operations: [{ op: 'create', model: 'cards', id: 'a3', data: { title: 'A3', boardId: 'a' } }] },
      { ...bearer(key), 'ablo-participant': 'user:ana' },
    );
    expect(asAna.status).toBe(403);
    expect(asAna.body.error.code).toBe('participant_not_allowed');
    expect(await refusedHello(await t.socket(), { apiKey: key, groups: ['board:a'], participant: { kind: 'user', id: 'ana' } })).toMatchObject({ code: 'participant_not_allowed' });

    const outside = await t.http('POST', '/v1/models/notes', { data: { title: 'mine', owner: 'ana' } }, bearer(key));
    expect(outside.status).toBe(403);
    expect(outside.body.error.code).toBe('group_not_allowed');

    const keys = await t.http('GET', '/v1/keys', undefined, bearer(key));
    expect(keys.status).toBe(403);
    expect(keys.body.error).toMatchObject({ type: 'permission_error', code: 'operation_not_allowed', operation: 'keys' });
    const push = await t.http('POST', '/v1/schema', { schema: schema.serialized }, bearer(key));
    expect(push.status).toBe(403);
    expect(push.body.error).toMatchObject({ code: 'operation_not_allowed', operation: 'schema' });
    const session = await t.http('POST', '/v1/sessions', { participant: { kind: 'user', id: 'ana' }, syncGroups: ['board:a'], operations: ['read'] }, bearer(key));
    expect(session.status).toBe(403);
    // Nothing of the refused writes landed.
    expect((await t.http('GET', '/v1/models/cards/a3')).status).toBe(404);
    expect((await t.http('GET', '/v1/models/notes')).body.data.map((r: any) => r.id)).toEqual(['ana1']);
  });

  test('revoking it (by the secret key) closes its socket and refuses it with 401 revoked_api_key', async () => {
    const t = await start();
    const made = await restricted(t, { syncGroups: ['board:*'], operations: ['read'] });
    const s = await t.socket();
    await s.hello({ apiKey: made.key, groups: ['board:a'] });
    const revoked = await t.http('DELETE', `/v1/keys/${made.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ kind: 'restricted', revoked: true });
    expect((await s.waitClose()).code).toBe(4001);
    const after = await t.http('GET', '/v1/models/cards/a1', undefined, bearer(made.key));
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('revoked_api_key');
  });
});

describe('key management by a restricted key (the keys operation)', () => {
  test('creates only restricted keys within its groups and operations, as its own participant; anything wider is 403 scope_exceeds_credential', async () => {
    const t = await start();
    const admin = await restricted(t, { syncGroups: ['board:*'], operations: ['read', 'write', 'keys'], participant: { kind: 'agent', id: 'ops' } });
    const before = (await t.http('GET', '/v1/keys')).body.data.length;

    const wider: Array<Record<string, unknown>> = [
      {},
      { name: 'secret' },
      { restricted: true, syncGroups: ['*'], operations: ['read'] },
      { restricted: true, syncGroups: ['user:*'], operations: ['read'] },
      { restricted: true, syncGroups: ['board:a', 'notes'], operations: ['read'] },
      { restricted: true, syncGroups: ['board:a'], operations: ['read', 'claim'] },
      { restricted: true, syncGroups: ['board:a'], operations: ['schema'] },
    ];
    for (const body of wider) {
      const res = await t.http('POST', '/v1/keys', body, bearer(admin.key));
      expect(res.status, JSON.stringify(body)).toBe(403);
      expect(res.body.error).toMatchObject({ type: 'permission_error', code: 'scope_exceeds_credential' });
    }
    const other = await t.http('POST', '/v1/keys', { restricted: true, syncGroups: ['board:a'], operations: ['read'], participant: { kind: 'user', id: 'ana' } }, bearer(admin.key));
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe('participant_not_allowed');
    expect((await t.http('GET', '/v1/keys')).body.data.length).toBe(before);

    const child = await restricted(t, { syncGroups: ['board:a', 'board:x:*'], operations: ['read', 'update'] }, admin.key);
    expect(child).toMatchObject({ kind: 'restricted', groups: ['board:a', 'board:x:*'], operations: ['read', 'update'], participant: { kind: 'agent', id: 'ops' } });
    expect((await t.http('GET', '/v1/models/cards/a1', undefined, bearer(child.key))).status).toBe(200);
    expect((await t.http('GET', '/v1/models/cards/b1', undefined, bearer(child.key))).status).toBe(404);
    // The same participant may be named explicitly.
    await restricted(t, { syncGroups: ['board:b'], operations: ['read'], participant: { kind: 'agent', id: 'ops' } }, admin.key);
  });

  test('lists itself and the keys within its scope; revokes those (and itself), never a secret key or a wider one', async () => {
    const t = await start();
    const admin = await restricted(t, { syncGroups: ['board:*'], operations: ['read', 'keys'] });
    const wide = await restricted(t, { syncGroups: ['*'], operations: ['read'] });
    const child = await restricted(t, { syncGroups: ['board:a'], operations: ['read'] }, admin.key);
    const listed = await t.http('GET', '/v1/keys', undefined, bearer(admin.key));
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((k: any) => k.id).sort()).toEqual([admin.id, child.id].sort());

    const dev = (await t.http('GET', '/v1/keys')).body.data.find((k: any) => k.kind === 'secret');
    for (const id of [dev.id, wide.id]) {
      const res = await t.http('DELETE', `/v1/keys/${id}`, undefined, bearer(admin.key));
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('scope_exceeds_credential');
    }
    expect((await t.http('GET', '/v1/me')).status).toBe(200);
    expect((await t.http('GET', '/v1/me', undefined, bearer(wide.key))).status).toBe(200);
    expect((await t.http('DELETE', '/v1/keys/key_missing', undefined, bearer(admin.key))).status).toBe(404);

    expect((await t.http('DELETE', `/v1/keys/${child.id}`, undefined, bearer(admin.key))).status).toBe(200);
    expect((await t.http('GET', '/v1/me', undefined, bearer(child.key))).body.error.code).toBe('revoked_api_key');
    expect((await t.http('DELETE', `/v1/keys/${admin.id}`, undefined, bearer(admin.key))).status).toBe(200);
    expect((await t.http('GET', '/v1/me', undefined, bearer(admin.key))).status).toBe(401);
  });
});

describe('identity roles for restricted keys', () => {
  test('@role entries expand for the key\'s participant', async () => {
    const rolesSchema = defineSchema({ models: schema.models, identityRoles: { self: 'user:{participantId}' } });
    const t = await startTestEngine(rolesSchema);
    engines.push(t);
    const made = await restricted(t, { syncGroups: ['@self', 'board:*'], operations: ['read'], participant: { kind: 'agent', id: 'indexer' } });
    expect(made.groups).toEqual(['user:indexer', 'board:*']);
    const bad = await t.http('POST', '/v1/keys', { restricted: true, syncGroups: ['@boss'], operations: ['read'] });
    expect(bad.body.error).toMatchObject({ code: 'unknown_identity_role', known: ['self'] });
    expect(bad.body.error.message).toContain('@self');
  });
});

test('the dev key of createEngine must be a secret key (an rk_ key has no scope to be made with)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ablo-rkeys-'));
  try {
    await expect(createEngine({ file: join(dir, 'dev.db'), port: 0, schema, log: () => {}, devKey: `rk_test_${'A'.repeat(32)}` })).rejects.toMatchObject({
      code: 'invalid_option',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('upgrade of an older SQLite file', () => {
  test('a key table without kinds (storage format 2) gains them when opened: its keys are secret keys, restricted keys can be made', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ablo-rkeys-'));
    const file = join(dir, 'old.db');
    try {
      const first = await createEngine({ file, port: 0, schema, log: () => {} });
      const devKey = first.devKey!;
      await first.close();

      // Rewrite the key table as format 2 wrote it.
      const db = new Database(file);
      db.exec(`
        CREATE TABLE _old_keys (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, prefix TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
          created_at TEXT NOT NULL, revoked_at TEXT, participant_kind TEXT NOT NULL, participant_id TEXT NOT NULL
        );
        INSERT INTO _old_keys SELECT id, name, prefix, hash, created_at, revoked_at, participant_kind, participant_id FROM _ablo_api_keys;
        DROP TABLE _ablo_api_keys;
        ALTER TABLE _old_keys RENAME TO _ablo_api_keys;
        UPDATE _ablo_meta SET value = '2' WHERE key = 'storage_format';
      `);
      expect(db.prepare(`SELECT name FROM pragma_table_info('_ablo_api_keys')`).pluck().all()).not.toContain('kind');
      db.close();

      const engine = await createEngine({ file, port: 0, schema, log: () => {}, devKey: false });
      try {
        const call = async (method: string, path: string, key: string, body?: unknown) => {
          const res = await fetch(engine.url + path, {
            method,
            headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
          return { status: res.status, body: (await res.json()) as any };
        };
        const me = await call('GET', '/v1/me', devKey);
        expect(me.body).toMatchObject({ kind: 'secret', groups: 'all' });
        const keys = await call('GET', '/v1/keys', devKey);
        expect(keys.body.data).toHaveLength(1);
        expect(keys.body.data[0]).toMatchObject({ kind: 'secret', groups: 'all' });
        const made = await call('POST', '/v1/keys', devKey, { restricted: true, syncGroups: ['board:*'], operations: ['read'] });
        expect(made.status).toBe(201);
        expect((await call('GET', '/v1/me', made.body.key)).body).toMatchObject({ kind: 'restricted', groups: ['board:*'], operations: ['read'] });
      } finally {
        await engine.close();
      }
      const check = new Database(file, { readonly: true });
      expect(check.prepare(`SELECT value FROM _ablo_meta WHERE key = 'storage_format'`).pluck().get()).toBe('3');
      expect(check.prepare(`SELECT kind, groups, operations FROM _ablo_api_keys ORDER BY created_at`).raw(true).all()).toEqual([
        ['secret', null, null],
        ['restricted', '["board:*"]', '["read"]'],
      ]);
      check.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
